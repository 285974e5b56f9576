"""Freshness (数据鲜活度): is each system's latest delivery within its cadence? A warning, not a gate."""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl

from pipelines.ingest import BATCHES_TABLE
from pipelines.sources import all_specs
from pipelines.sources.spec import SourceSpec
from warehouse.storage import Warehouse


def system_freshness(wh: Warehouse, spec: SourceSpec, now: datetime | None = None) -> dict:
    """When the system's latest batch was standardised, its age in days and whether that is fresh."""
    now = now or datetime.now(timezone.utc)
    scan = wh.scan("silver", spec.system, BATCHES_TABLE)
    latest = None if scan is None else scan.select(pl.col("processed_at").max()).collect().item()
    age = None
    if latest is not None:
        latest = latest if latest.tzinfo else latest.replace(tzinfo=timezone.utc)
        age = round((now - latest).total_seconds() / 86400, 2)
    return {
        "system": spec.system, "label": spec.label, "latest_batch": str(latest) if latest else None,
        "age_days": age, "cadence_days": spec.cadence_days, "fresh": spec.on_demand or (age is not None and age <= spec.cadence_days),
    }


def freshness(wh: Warehouse, now: datetime | None = None) -> pl.DataFrame:
    """:func:`system_freshness` for every system."""
    return pl.DataFrame([system_freshness(wh, spec, now) for spec in all_specs().values()])
