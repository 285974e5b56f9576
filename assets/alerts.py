"""Proactive alerts in Dagster: after the curated tables they read change, the rules are evaluated
and new alerts are added to ``alerts/curated/alerts`` (raised once; their state kept)."""

import datetime as dt

import dagster as dg

from assets.automation import AFTER_GATES
from assets.gold import gold_key
from assets.resources import WarehouseResource
from pipelines.alerts import load_rules, needed_tables
from pipelines.alerts.store import raise_alerts
from pipelines.pii import scrubbed_errors


@dg.asset(
    key=dg.AssetKey(["alerts", "curated", "alerts"]),
    deps=[gold_key(name) for name in sorted(needed_tables(load_rules()))],
    group_name="alerts",
    kinds={"delta", "polars"},
    automation_condition=AFTER_GATES,
    description="主动办 / 提前告知: the rules of pipelines/alerts/rules.yaml over the curated tables; new alerts added, states kept",
)
@scrubbed_errors
def alerts_asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    new = raise_alerts(warehouse.get(), load_rules(), today)
    by_rule = new.group_by("rule_id").len().sort("rule_id")
    context.log.info(f"{new.height} new alerts as of {today}")
    return dg.MaterializeResult(metadata={"new_alerts": new.height, **{f"new_{r}": n for r, n in by_rule.iter_rows()}})
