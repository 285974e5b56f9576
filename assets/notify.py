"""Sensors that tell people: a run failed, a gate held a table back, a system delivered late."""


import dagster as dg

from assets.report import finished_runs
from assets.resources import NotifierResource
from pipelines.notify import notification, send

# checks worth a message when they fail: the gates, and freshness (a warning)
ANNOUNCED = {
    "quality_gate": ("gate_failure", "发布闸门未通过"),
    "freshness": ("late_delivery", "数据未按时报送"),
    "row_conservation": ("gate_failure", "行数不守恒"),
    "files_readable": ("file_rejected", "文件被拒收"),
    "columns_as_catalogued": ("column_drift", "列名变化"),
    "reference_guard": ("reference_refused", "参考数据被拒用"),
}


@dg.run_failure_sensor(name="notify_run_failure", default_status=dg.DefaultSensorStatus.RUNNING, description="POSTs every failed run to the webhook")
def notify_run_failure(context: dg.RunFailureSensorContext, notifier: NotifierResource):
    run = context.dagster_run
    steps = [e.step_key for e in context.get_step_failure_events()]
    payload = notification(
        "run_failure", "运行失败 · run failed", f"run {run.run_id[:8]} ({run.job_name}) failed in {', '.join(steps) or 'launch'}",
        run_id=run.run_id, job=run.job_name, failed_steps=steps,
    )
    send(notifier.webhook_url, payload, notifier.timeout_seconds)


@dg.sensor(name="notify_check_failures", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="POSTs failed quality gates, row-conservation failures, rejected files, column drift, refused reference data and late deliveries to the webhook")
def notify_check_failures(context: dg.SensorEvaluationContext, notifier: NotifierResource):
    # walk runs that finished since the cursor (works on run-sharded SQLite storage as on Postgres)
    finished = finished_runs(context.instance, context.cursor)
    sent = 0
    for record in finished:
        for entry in context.instance.all_logs(record.dagster_run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = entry.dagster_event.event_specific_data
            if evaluation.passed or evaluation.check_name not in ANNOUNCED:
                continue
            kind, title = ANNOUNCED[evaluation.check_name]
            table = evaluation.asset_key.to_user_string()
            payload = notification(kind, f"{title} · {table}", evaluation.description or "", table=table, check=evaluation.check_name, run_id=entry.run_id)
            sent += send(notifier.webhook_url, payload, notifier.timeout_seconds)
    if finished:
        context.update_cursor(str(finished[-1].update_timestamp.timestamp()))
    return dg.SkipReason(f"{sent} notification(s) sent for {len(finished)} finished run(s)")


NOTIFY_SENSORS = [notify_run_failure, notify_check_failures]
