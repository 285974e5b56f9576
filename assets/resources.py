"""Dagster resources: where the warehouse and the landing folders are. Chosen in one place.

Settings left empty fall back, at run time (never at import), to the environment variables
``ENTERONCE_WAREHOUSE`` / ``ENTERONCE_STORAGE_OPTIONS`` / ``ENTERONCE_LANDING`` and then to the
embedded defaults under ``data/``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from warehouse.storage import Warehouse

DEFAULT_LANDING = "data/landing"


class WarehouseResource(dg.ConfigurableResource):
    """The Delta lakehouse root: a local folder or an object-store URI (s3://, az://, gs://)."""

    root: str | None = None
    storage_options_json: str | None = None  # JSON object of delta-rs storage options

    def get(self) -> Warehouse:
        env = Warehouse.from_env()
        options = json.loads(self.storage_options_json) if self.storage_options_json else env.storage_options
        return Warehouse(root=self.root or env.root, storage_options=options)


class LandingResource(dg.ConfigurableResource):
    """The folder holding one sub-folder of delivered files per departmental system."""

    root: str | None = None

    def path(self) -> Path:
        return Path(self.root or os.environ.get("ENTERONCE_LANDING") or DEFAULT_LANDING)
