"""Retention in Dagster: a daily job that removes table versions older than the retention window
(``ENTERONCE_RETENTION_HOURS``, default 168): old data files, change-feed files and log entries,
which hold unmasked ID numbers, phones and names (:mod:`warehouse.retention`)."""

from typing import Optional

import dagster as dg

from assets.resources import WarehouseResource
from pipelines.pii import scrubbed_errors
from warehouse.retention import apply_retention, retention_hours


class RetentionConfig(dg.Config):
    hours: Optional[int] = None  # default: ENTERONCE_RETENTION_HOURS, else 168


@dg.op(description="compact tables of many small appends, then vacuum every table of the lake to the retention window, change-feed files and old log entries included")
@scrubbed_errors
def apply_retention_op(context: dg.OpExecutionContext, config: RetentionConfig, warehouse: WarehouseResource) -> None:
    hours = retention_hours() if config.hours is None else config.hours
    results = apply_retention(warehouse.get(), hours)
    for r in results:
        if r.compacted:
            context.log.info(f"{r.table}: {r.compacted} small files compacted")
        if r.data_files or r.change_files:
            context.log.info(f"{r.table}: {r.data_files} data files and {r.change_files} change-feed files removed; oldest version now {r.oldest_version}")
    context.log.info(f"retention {hours} h: {len(results)} tables, {sum(r.compacted for r in results)} small files compacted, "
                     f"{sum(r.data_files for r in results)} data files and {sum(r.change_files for r in results)} change-feed files removed")


@dg.job(description="保留期清理：删除保留期之前的表版本（含变更数据与日志），时间旅行窗口 = 保留期")
def retention():
    apply_retention_op()


retention_schedule = dg.ScheduleDefinition(
    name="retention_daily", job=retention, cron_schedule="30 3 * * *", execution_timezone="Asia/Shanghai",
    default_status=dg.DefaultScheduleStatus.RUNNING, description="every night at 03:30: apply the retention window to the lake",
)
