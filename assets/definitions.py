"""The Dagster code location: loads every source spec and merges its definitions.

``[tool.dagster]`` in pyproject.toml points here, so ``dagster dev`` from the repo root serves it.
"""

from __future__ import annotations

import dagster as dg

from assets.address import ADDRESS_ASSETS
from assets.persons import PERSON_ASSETS
from assets.quality import QUALITY_ASSETS
from assets.resources import LandingResource, WarehouseResource
from assets.sources import bronze_asset, conservation_check, landing_sensor, silver_asset
from pipelines.sources import all_specs

SPECS = list(all_specs().values())
ASSETS = [a for spec in SPECS for a in (bronze_asset(spec), silver_asset(spec))] + ADDRESS_ASSETS + PERSON_ASSETS + QUALITY_ASSETS
CHECKS = [conservation_check(spec) for spec in SPECS]

everything = dg.define_asset_job("everything", selection=dg.AssetSelection.all(), description="every asset, end to end")

ingest_all = dg.define_asset_job(
    "ingest_all",
    selection=dg.AssetSelection.groups("bronze", "silver", "quarantine"),
    description="bronze → silver/quarantine for every departmental system",
)

daily_ingest = dg.ScheduleDefinition(
    name="daily_ingest",
    job=ingest_all,
    cron_schedule="0 2 * * *",
    execution_timezone="Asia/Shanghai",
    description="nightly catch-up of every landing folder",
)

defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=CHECKS,
    sensors=[landing_sensor(spec) for spec in SPECS],
    jobs=[ingest_all, everything],
    schedules=[daily_ingest],
    resources={"warehouse": WarehouseResource(), "landing": LandingResource()},
)
