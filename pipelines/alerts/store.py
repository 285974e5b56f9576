"""The alerts table (``alerts/curated/alerts``): raised once, then moved through new → dispatched → done.

Published like a curated table: MERGE by ``alert_id`` with the change data feed on, so a run
that finds nothing new commits nothing and a state change is one updated row.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from pipelines.alerts import ALERT_SCHEMA, STATES, Rule, evaluate, needed_tables
from warehouse.publish import diff_by_key, merge_changes
from warehouse.storage import Warehouse

ALERTS = ("alerts", "curated", "alerts")
STATE_SCHEMA = {**ALERT_SCHEMA, "state": pl.String, "raised_at": pl.Datetime("us", "UTC"), "state_changed_at": pl.Datetime("us", "UTC"),
                "changed_by": pl.String}


def read_alerts(wh: Warehouse) -> pl.DataFrame:
    return wh.read(*ALERTS) if wh.exists(*ALERTS) else pl.DataFrame(schema=STATE_SCHEMA)


def _publish(wh: Warehouse, before: pl.DataFrame, after: pl.DataFrame) -> int:
    if not wh.exists(*ALERTS):
        if after.height:
            wh.write(after, *ALERTS)
        return after.height
    changes, counts = diff_by_key(before, after, ["alert_id"])
    merge_changes(wh.uri(*ALERTS), changes, ["alert_id"], storage_options=dict(wh.storage_options) or None)
    return counts.total


def raise_alerts(wh: Warehouse, rules: list[Rule], today: dt.date, now: dt.datetime | None = None) -> pl.DataFrame:
    """Evaluate the rules on the curated tables and add the alerts not raised before; returns the new ones."""
    tables = {name: wh.scan("gold", "curated", name) for name in needed_tables(rules)}
    found = evaluate(rules, {k: v for k, v in tables.items() if v is not None}, today)
    stamp = now or dt.datetime.now(dt.timezone.utc)
    with wh.writer_lock("alerts"):
        existing = read_alerts(wh)
        new = found.join(existing.select("alert_id"), on="alert_id", how="anti").with_columns(
            pl.lit("new").alias("state"), pl.lit(stamp, dtype=STATE_SCHEMA["raised_at"]).alias("raised_at"),
            pl.lit(stamp, dtype=STATE_SCHEMA["state_changed_at"]).alias("state_changed_at"), pl.lit(None, pl.String).alias("changed_by"),
        ).select(list(STATE_SCHEMA))
        if new.height:
            _publish(wh, existing, pl.concat([existing, new], how="vertical_relaxed"))
    return new


def set_state(wh: Warehouse, alert_ids: list[str], state: str, by: str, now: dt.datetime | None = None) -> int:
    """Move alerts to ``state`` (recorded with who and when); returns how many changed."""
    if state not in STATES:
        raise ValueError(f"unknown state '{state}' ({', '.join(STATES)})")
    stamp = now or dt.datetime.now(dt.timezone.utc)
    with wh.writer_lock("alerts"):
        existing = read_alerts(wh)
        unknown = sorted(set(alert_ids) - set(existing["alert_id"]))
        if unknown:
            raise ValueError(f"no alerts {unknown}")
        chosen = pl.col("alert_id").is_in(alert_ids) & (pl.col("state") != state)
        after = existing.with_columns(
            pl.when(chosen).then(pl.lit(state)).otherwise(pl.col("state")).alias("state"),
            pl.when(chosen).then(pl.lit(stamp, dtype=STATE_SCHEMA["state_changed_at"])).otherwise(pl.col("state_changed_at")).alias("state_changed_at"),
            pl.when(chosen).then(pl.lit(by)).otherwise(pl.col("changed_by")).alias("changed_by"),
        )
        return _publish(wh, existing, after)


__all__ = ["ALERTS", "raise_alerts", "read_alerts", "set_state"]
