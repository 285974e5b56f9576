"""Dagster resources, chosen in one place (:mod:`assets.definitions`) with ``EnvVar`` settings.

| resource | setting | environment variable (default set by the Makefile and the CLI) |
|---|---|---|
| ``warehouse`` | root, storage options | ``ENTERONCE_WAREHOUSE`` (``data/warehouse``), ``ENTERONCE_STORAGE_OPTIONS`` (``{}``) |
| ``landing`` | root | ``ENTERONCE_LANDING`` (``data/landing``) |
| ``quality`` | reports folder | ``ENTERONCE_REPORTS`` (``data/reports``) |
| ``notifier`` | webhook URL | ``ENTERONCE_WEBHOOK_URL`` (empty: notifications are only logged) |
| ``sync`` | nodes file | ``ENTERONCE_NODES`` (``data/nodes.yaml``; absent: the sync steps do nothing) |
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from pipelines.sync import DEFAULT_NODES, SyncConfig, load_config
from warehouse.storage import DEFAULT_ROOT, Warehouse

DEFAULT_LANDING = "data/landing"
DEFAULT_REPORTS = "data/reports"
DEFAULTS = {
    "ENTERONCE_WAREHOUSE": DEFAULT_ROOT,
    "ENTERONCE_STORAGE_OPTIONS": "{}",
    "ENTERONCE_LANDING": DEFAULT_LANDING,
    "ENTERONCE_REPORTS": DEFAULT_REPORTS,
    "ENTERONCE_WEBHOOK_URL": "",
    "ENTERONCE_NODES": DEFAULT_NODES,
}


class WarehouseResource(dg.ConfigurableResource):
    """The Delta lakehouse root: a local folder or an object-store URI (s3://, az://, gs://)."""

    root: str = DEFAULT_ROOT
    storage_options_json: str = "{}"  # JSON object of delta-rs storage options

    def get(self) -> Warehouse:
        return Warehouse(root=self.root, storage_options=json.loads(self.storage_options_json or "{}"))


class LandingResource(dg.ConfigurableResource):
    """The folder holding one sub-folder of delivered files per departmental system."""

    root: str = DEFAULT_LANDING

    def path(self) -> Path:
        return Path(self.root)


class QualityResource(dg.ConfigurableResource):
    """Where the per-run HTML quality reports are written."""

    reports: str = DEFAULT_REPORTS

    def folder(self) -> Path:
        return Path(self.reports)


class NotifierResource(dg.ConfigurableResource):
    """Where run failures, failed gates and late deliveries are announced (a webhook, JSON POST)."""

    webhook_url: str = ""
    timeout_seconds: float = 5.0


class SyncResource(dg.ConfigurableResource):
    """The five-level sync's nodes file (:mod:`pipelines.sync`)."""

    nodes_file: str = DEFAULT_NODES

    def config(self) -> SyncConfig:
        """The checked nodes file; raises ``SyncConfigError`` when there is none or it is unusable."""
        return load_config(self.nodes_file)


def resources_from_env() -> dict[str, dg.ConfigurableResource]:
    """The deployment's resources, every setting an ``EnvVar`` read when a run starts."""
    return {
        "warehouse": WarehouseResource(root=dg.EnvVar("ENTERONCE_WAREHOUSE"), storage_options_json=dg.EnvVar("ENTERONCE_STORAGE_OPTIONS")),
        "landing": LandingResource(root=dg.EnvVar("ENTERONCE_LANDING")),
        "quality": QualityResource(reports=dg.EnvVar("ENTERONCE_REPORTS")),
        "notifier": NotifierResource(webhook_url=dg.EnvVar("ENTERONCE_WEBHOOK_URL")),
        "sync": SyncResource(nodes_file=dg.EnvVar("ENTERONCE_NODES")),
    }
