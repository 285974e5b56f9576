"""Append-only logs of data officers' review decisions, one per kind of item (addresses, persons).

A decision is one appended row — the item's key, the action, what was chosen, who and when —
never an update: the history stays complete. The latest row of a key is in force, unless its
action is ``undo`` (the matcher decides that item again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import polars as pl

from warehouse.storage import Warehouse

UNDO = "undo"
STAMP = {"decided_by": pl.String, "decided_at": pl.Datetime("us", "UTC")}


class DecisionError(ValueError):
    """A decision that cannot be recorded; the message says why."""


@dataclass(frozen=True)
class DecisionLog:
    """Where one kind of decision is logged and what a row holds.

    ``schema``: the item's columns (key first) and what a decision names; ``decided_by``,
    ``decided_at`` and ``action`` are added. ``legacy_action``: the action of rows written before
    actions existed."""

    table: tuple[str, ...]
    key: str
    schema: dict[str, pl.DataType]
    actions: tuple[str, ...]
    legacy_action: str | None = None

    @property
    def columns(self) -> dict[str, pl.DataType]:
        return {**self.schema, **STAMP, "action": pl.String}

    def read(self, wh: Warehouse) -> pl.DataFrame:
        """Every decision ever recorded, oldest first."""
        log = wh.read(*self.table)
        if log.height == 0:
            return pl.DataFrame(schema=self.columns)
        missing = [pl.lit(None, dtype).alias(c) for c, dtype in self.columns.items() if c not in log.columns]
        log = log.with_columns(missing).select(list(self.columns))
        if self.legacy_action:
            log = log.with_columns(pl.col("action").fill_null(self.legacy_action))
        return log.sort("decided_at", maintain_order=True)

    def in_force(self, wh: Warehouse) -> pl.DataFrame:
        """The latest decision of each key, undone ones left out."""
        latest = self.read(wh).unique(self.key, keep="last", maintain_order=True)
        return latest.filter(pl.col("action") != UNDO)

    def history(self, wh: Warehouse) -> pl.DataFrame:
        """The log newest first, each row with its ``state``: 生效中 / 已撤销 / 已被后续决定取代."""
        log = self.read(wh).with_row_index("_n")
        last = log.group_by(self.key).agg(pl.col("_n").max().alias("_last"))
        log = log.join(last, on=self.key)
        is_last = pl.col("_n") == pl.col("_last")
        return log.sort("_n", descending=True).with_columns(
            (is_last & (pl.col("action") != UNDO)).alias("in_force"),
            pl.when(~is_last).then(pl.lit("已被后续决定取代")).when(pl.col("action") == UNDO).then(pl.lit("已撤销")).otherwise(pl.lit("生效中")).alias("state"),
        ).drop("_n", "_last")

    def append(self, wh: Warehouse, rows: pl.DataFrame, decided_by: str, now: datetime | None = None) -> int:
        """Record ``rows`` (the key, ``action`` and any of the schema's columns) as decided by
        ``decided_by`` now; checks who, keys and actions first and records nothing if one is wrong."""
        if rows.height == 0:
            return 0
        if not decided_by.strip():
            raise DecisionError("a decision needs who made it")
        if self.key not in rows.columns or rows[self.key].null_count():
            raise DecisionError(f"every decision needs its {self.key}")
        unknown = rows.filter(~pl.col("action").is_in(self.actions))
        if unknown.height:
            raise DecisionError(f"unknown action '{unknown['action'][0]}'; actions: {', '.join(self.actions)}")
        stamp = now or datetime.now(timezone.utc)
        out = rows.with_columns(
            [pl.lit(None, dtype).alias(c) for c, dtype in self.schema.items() if c not in rows.columns]
            + [pl.lit(decided_by).alias("decided_by"), pl.lit(stamp).dt.cast_time_unit("us").dt.replace_time_zone("UTC").alias("decided_at")]
        ).select([pl.col(c).cast(dtype) for c, dtype in self.columns.items()])
        wh.write(out, *self.table, mode="append")
        return out.height

    def undo(self, wh: Warehouse, key: str, decided_by: str) -> None:
        """Reverse the decision in force for ``key`` (recorded as an ``undo``)."""
        current = self.in_force(wh).filter(pl.col(self.key) == key)
        if current.height == 0:
            raise DecisionError(f"no decision in force for '{key}'")
        # the undo keeps the item's description columns so the log reads on its own
        self.append(wh, current.select(list(self.schema)).with_columns(pl.lit(UNDO).alias("action")), decided_by)


__all__ = ["DecisionError", "DecisionLog", "UNDO"]
