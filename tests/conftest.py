"""Shared fixtures: one small generated district per test session (real files, real formats)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

from pipelines.demo.generate import generate  # noqa: E402
from warehouse.storage import Warehouse  # noqa: E402

SMALL_PERSONS = 1500


@pytest.fixture(scope="session")
def district(tmp_path_factory) -> Path:
    """A generated district (1,500 residents, 3 days of power data) — read-only for tests."""
    out = tmp_path_factory.mktemp("district")
    generate(out, persons=SMALL_PERSONS, seed=7, power_days=3, progress=False)
    return out


@pytest.fixture
def landing(tmp_path) -> Path:
    path = tmp_path / "landing"
    path.mkdir()
    return path


@pytest.fixture
def wh(tmp_path) -> Warehouse:
    return Warehouse(root=str(tmp_path / "warehouse"))

