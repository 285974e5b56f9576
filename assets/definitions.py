"""The Dagster code location: loads every source spec and merges its definitions.

``[tool.dagster]`` in pyproject.toml points here, so ``dagster dev`` from the repo root serves it.
"""

from __future__ import annotations

import dagster as dg

from assets.address import ADDRESS_ASSETS, address_base_sensor
from assets.automation import automation_sensor
from assets.gold import GOLD_ASSETS
from assets.notify import NOTIFY_SENSORS
from assets.persons import PERSON_ASSETS
from assets.resources import resources_from_env
from assets.sources import bronze_asset, conservation_check, landing_sensor, silver_asset
from pipelines.sources import all_specs

SPECS = list(all_specs().values())
ASSETS = [a for spec in SPECS for a in (bronze_asset(spec), silver_asset(spec))] + ADDRESS_ASSETS + PERSON_ASSETS + GOLD_ASSETS
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
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="nightly catch-up of every landing folder (automation carries it on to gold)",
)

defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=CHECKS,
    sensors=[*(landing_sensor(spec) for spec in SPECS), address_base_sensor, automation_sensor, *NOTIFY_SENSORS],
    jobs=[ingest_all, everything],
    schedules=[daily_ingest],
    resources=resources_from_env(),
    # independent steps run in parallel processes (one per core); each step's memory is its own
    executor=dg.multiprocess_executor.configured({"max_concurrent": 2}),
)


def everything_job() -> dg.JobDefinition:
    """The `everything` job, for ``dagster.reconstructable`` (multiprocess runs from the CLI)."""
    return defs.resolve_job_def("everything")
