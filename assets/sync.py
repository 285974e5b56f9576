"""Five-level sync in Dagster: one asset per direction (up, down, back), a job for each, a sensor
that ships gold as soon as it changed and a schedule that collects the nodes' corrections.

``sync/up`` and ``sync/down`` read the curated tables; ``sync/back`` writes the corrections it
collects into ``landing/jiaozheng``, where that system's landing sensor takes them through
bronze, silver and the gates into gold — and the sensor here ships the result back out.
Without a nodes file (``ENTERONCE_NODES``) every step says so and does nothing.
"""


import dagster as dg

from assets.gold import gold_key
from assets.resources import LandingResource, SyncResource, WarehouseResource
from pipelines.corrections import collect_corrections
from pipelines.pii import scrubbed_errors
from pipelines.sync import SyncConfigError, logged_watermarks, run_sync
from warehouse.registry import GOLD

SYNC_GROUP = "sync"
DIRECTIONS = {"up": "上行：市、省节点", "down": "下行：区、街道、社区节点"}


def _shipped_metadata(shipments) -> dict:
    return {
        "nodes": len({s.node.code for s in shipments}), "rows_shipped": sum(s.rows for s in shipments),
        "bytes_shipped": sum(s.bytes for s in shipments), "full_copies": sum(s.mode == "full" for s in shipments),
    }


def sync_asset(direction: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey(["sync", direction]),
        deps=[gold_key(spec.name) for spec in GOLD],
        group_name=SYNC_GROUP,
        kinds={"delta", "polars"},
        description=f"五级同步 {DIRECTIONS[direction]}: the curated tables' changes since each node's watermark, scoped and masked by level, MERGEd by key",
        output_required=False,
        pool="sync",
    )
    @scrubbed_errors
    def _sync(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sync: SyncResource):
        try:
            config = sync.config()
        except SyncConfigError as err:
            context.log.warning(f"no sync: {err}")
            return
        shipments = run_sync(warehouse.get(), config, direction=direction, run_id=context.run_id[:12], progress=context.log.info)
        yield dg.MaterializeResult(metadata=_shipped_metadata(shipments))

    return _sync


@dg.asset(
    key=dg.AssetKey(["sync", "back"]),
    group_name=SYNC_GROUP,
    kinds={"delta", "polars"},
    description="校正回流: the nodes' new inbox corrections, checked for jurisdiction, delivered to landing/jiaozheng (rejected ones to quarantine)",
    output_required=False,
    pool="sync",
)
@scrubbed_errors
def sync_back(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sync: SyncResource, landing: LandingResource):
    try:
        config = sync.config()
    except SyncConfigError as err:
        context.log.warning(f"no sync: {err}")
        return
    summaries = collect_corrections(warehouse.get(), config, landing.path())
    yield dg.MaterializeResult(metadata={
        "nodes": len(summaries), "accepted": sum(s["accepted"] for s in summaries), "rejected": sum(s["rejected"] for s in summaries),
        "files": ", ".join(s["file"] for s in summaries if s["file"]) or "none",
    })


SYNC_ASSETS = [sync_asset("up"), sync_asset("down"), sync_back]
SYNC_JOBS = {
    name: dg.define_asset_job(f"sync_{name}", selection=dg.AssetSelection.assets(dg.AssetKey(["sync", name])), description=f"五级同步: {name}")
    for name in ("up", "down", "back")
}

collect_corrections_schedule = dg.ScheduleDefinition(
    name="sync_collect_corrections",
    job=SYNC_JOBS["back"],
    cron_schedule="*/30 * * * *",
    execution_timezone="Asia/Shanghai",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="every 30 minutes: collect the nodes' corrections into landing/jiaozheng",
)


@dg.sensor(
    name="sync_on_gold_change", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
    jobs=[SYNC_JOBS["up"], SYNC_JOBS["down"]],
    description="a curated table moved past what its nodes hold: run sync down and up (one run pair per set of versions)",
)
def sync_on_gold_change(context: dg.SensorEvaluationContext, warehouse: WarehouseResource, sync: SyncResource):
    try:
        config = sync.config()
    except SyncConfigError as err:
        return dg.SkipReason(str(err))
    wh = warehouse.get()
    logged = logged_watermarks(wh)
    versions = {name: wh.table("gold", "curated", name).version() for name in config.tables if wh.exists("gold", "curated", name)}
    behind = sorted(name for name, version in versions.items() if any(logged.get((n.code, name), -1) < version for n in config.nodes))
    if not behind:
        return dg.SkipReason("every node holds the current version of every table")
    key = ",".join(f"{name}@{versions[name]}" for name in behind)
    return [dg.RunRequest(run_key=f"{direction}:{key}", job_name=f"sync_{direction}", tags={"enteronce/behind": key[:200]}) for direction in ("down", "up")]
