"""The Dagster code location: loads every source spec and merges its definitions.

``[tool.dagster]`` in pyproject.toml points here, so ``dagster dev`` from the repo root serves it.
"""

from __future__ import annotations

import dagster as dg

from assets.address import address_assets, address_base_sensor
from assets.automation import automation_sensor
from assets.executor import EXECUTOR
from assets.alerts import alerts_asset
from assets.forms import FORMS_GROUP, monthly_forms, monthly_forms_job, monthly_forms_schedule
from assets.gold import gold_assets
from assets.notify import NOTIFY_SENSORS
from assets.persons import person_assets
from assets.report import quality_reports
from assets.resources import resources_from_env
from assets.retention import retention, retention_schedule
from assets.sources import bronze_asset, landing_sensor, silver_asset
from assets.sync import SYNC_ASSETS, SYNC_JOBS, collect_corrections_schedule, sync_on_gold_change
from pipelines.pii import install as scrub_logs
from pipelines.sources import all_specs

scrub_logs()  # every log record of the code location and its steps is scrubbed as it is made

def all_assets() -> list[dg.AssetsDefinition]:
    """Every asset with its checks, for the source systems known now."""
    specs = list(all_specs().values())
    return [a for spec in specs for a in (bronze_asset(spec), silver_asset(spec))] + address_assets() + person_assets() + gold_assets() + SYNC_ASSETS + [alerts_asset]


def build_definitions() -> dg.Definitions:
    """The code location: every source folder's assets, checks and sensor, the masters, gold."""
    assets = all_assets()
    # the monthly forms are partitioned by month: their own job and schedule, not part of a plain run
    everything = dg.define_asset_job("everything", selection=dg.AssetSelection.all() - dg.AssetSelection.groups(FORMS_GROUP),
                                     description="every asset, end to end")
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
    return dg.Definitions(
        assets=[*assets, monthly_forms],
        sensors=[*(landing_sensor(spec) for spec in all_specs().values()), address_base_sensor, automation_sensor, *NOTIFY_SENSORS, quality_reports, sync_on_gold_change],
        jobs=[ingest_all, everything, *SYNC_JOBS.values(), retention, monthly_forms_job],
        schedules=[daily_ingest, collect_corrections_schedule, retention_schedule, monthly_forms_schedule],
        resources=resources_from_env(),
        # independent steps run in parallel processes (one per core); the largest take one memory slot
        executor=EXECUTOR,
    )


defs = build_definitions()
ASSETS = all_assets()


def everything_job() -> dg.JobDefinition:
    """The `everything` job, for ``dagster.reconstructable`` (multiprocess runs from the CLI)."""
    return defs.resolve_job_def("everything")
