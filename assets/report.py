"""The quality report (质量报告) of a run: written once, when the run has finished.

Every gold step used to rewrite the whole report as it decided its gate: about ten rewrites a
day, each reading the lake's summaries and counting places over every address link (on the
1M district two gold steps counted the same 30 M links side by side: 11 s of a 57 s next
day). The steps now only record their gate and link to the report the run will have; the
report itself is written once the run is over — by the ``quality_reports`` sensor for runs
the daemon launched (automation, schedules, the UI), and by the caller right after an
in-process run (``enteronce demo run``, the benchmarks, the tests).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import dagster as dg

from address_master.links import locate_texts
from assets.resources import QualityResource, WarehouseResource
from quality.report import stored_facts, write_report
from warehouse.storage import Warehouse

REPORT_LINK = "quality_report"  # metadata of a gold gate's check result: the run's report


def wants_report(instance: dg.DagsterInstance, run_id: str) -> bool:
    """True when a gold gate of the run built or held back its table (its check links the report)."""
    return any(
        REPORT_LINK in (entry.dagster_event.event_specific_data.metadata or {})
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    )


def report_run(instance: dg.DagsterInstance, run_id: str, wh: Warehouse, folder: Path) -> Path | None:
    """Write ``run_id``'s report if a gate of it asked for one; the path, or ``None``."""
    return write_report(wh, run_id, folder, locate_texts) if wants_report(instance, run_id) else None


def finished_runs(instance: dg.DagsterInstance, cursor: str | None) -> list[dg.RunRecord]:
    """Runs that finished (success or failure) since ``cursor`` (a timestamp), oldest first."""
    since = float(cursor) if cursor else 0.0
    return list(instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE], updated_after=datetime.fromtimestamp(since, timezone.utc)),
        order_by="update_timestamp", ascending=True, limit=100,
    ))


@dg.sensor(name="quality_reports", minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="写质量报告 · writes the quality report of every finished run whose gates built or held back a curated table")
def quality_reports(context: dg.SensorEvaluationContext, warehouse: WarehouseResource, quality: QualityResource):
    finished = finished_runs(context.instance, context.cursor)
    wh = warehouse.get()
    # a run started by `enteronce demo run` on this instance has its report already
    pending = [r.dagster_run.run_id for r in finished if stored_facts(wh, r.dagster_run.run_id) is None]
    written = [path for run_id in pending if (path := report_run(context.instance, run_id, wh, quality.folder()))]
    if finished:
        context.update_cursor(str(finished[-1].update_timestamp.timestamp()))
    return dg.SkipReason(f"{len(written)} report(s) written for {len(finished)} finished run(s)")


__all__ = ["REPORT_LINK", "finished_runs", "quality_reports", "report_run", "wants_report"]
