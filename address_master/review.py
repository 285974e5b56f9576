"""Data officers' decisions on the address review queue: recorded, attributed, reversible.

Every decision is one appended row of ``address/review/decisions`` — the text's key, the action,
the address chosen, who and when — never an update: the history stays complete. The latest row
of a key is in force:

- ``accept``: the text is that address (``address_id``) for every record using it, from the next
  linking on;
- ``none``: none of the candidates is right; the text stays unmatched and leaves the queue;
- ``new``: the text is an address the base does not have yet; unmatched and listed as a new
  address for the base's keepers (:func:`new_addresses`);
- ``undo``: the previous decision no longer holds; the matcher decides again (and may queue it).
"""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl

from address_master.parse import normalize_address
from address_master.store import LAYER, REVIEW_DECISIONS, REVIEW_QUEUE, read_base
from warehouse.storage import Warehouse

ACTIONS = ("accept", "none", "new", "undo")
SCHEMA = {"address_key": pl.String, "address_id": pl.String, "decided_by": pl.String, "decided_at": pl.Datetime("us", "UTC"),
          "action": pl.String, "address_text": pl.String}


class DecisionError(ValueError):
    """A decision that cannot be recorded; the message says why."""


def decision_log(wh: Warehouse) -> pl.DataFrame:
    """Every decision ever recorded, oldest first (rows from before actions existed read as ``accept``)."""
    log = wh.read(LAYER, *REVIEW_DECISIONS)
    if log.height == 0:
        return pl.DataFrame(schema=SCHEMA)
    for column, dtype in SCHEMA.items():
        if column not in log.columns:
            log = log.with_columns(pl.lit(None, dtype).alias(column))
    return log.select(list(SCHEMA)).with_columns(pl.col("action").fill_null("accept")).sort("decided_at")


def decisions_in_force(wh: Warehouse) -> pl.DataFrame:
    """address_key, action, address_id: the latest decision of each key, undone ones left out."""
    latest = decision_log(wh).unique("address_key", keep="last", maintain_order=True)
    return latest.filter(pl.col("action") != "undo").select("address_key", "action", "address_id")


def record_decisions(wh: Warehouse, decisions: pl.DataFrame, decided_by: str, now: datetime | None = None) -> int:
    """Append decisions (``address_key`` or ``address_text``, ``action``, ``address_id``); checks
    them all first: known actions, an address of the base for every accept, none for the others."""
    if decisions.height == 0:
        return 0
    if not decided_by.strip():
        raise DecisionError("a decision needs who made it")
    rows = decisions
    if "address_key" not in rows.columns:
        if "address_text" not in rows.columns:
            raise DecisionError("decisions need address_key or address_text")
        rows = rows.with_columns(normalize_address(pl.col("address_text")).alias("address_key"))
    for column in ("action", "address_id", "address_text"):
        if column not in rows.columns:
            rows = rows.with_columns(pl.lit("accept" if column == "action" else None, pl.String).alias(column))
    unknown = rows.filter(~pl.col("action").is_in(ACTIONS))
    if unknown.height:
        raise DecisionError(f"unknown action '{unknown['action'][0]}'; actions: {', '.join(ACTIONS)}")
    if rows["address_key"].null_count():
        raise DecisionError("a decision names no address text")
    accepts = rows.filter(pl.col("action") == "accept")
    missing = accepts.filter(pl.col("address_id").is_null() | (pl.col("address_id") == ""))
    if missing.height:
        raise DecisionError(f"accepting '{missing['address_key'][0]}' needs an address_id")
    absent = accepts.join(read_base(wh).select("address_id"), on="address_id", how="anti")
    if absent.height:
        raise DecisionError(f"{absent.height} decisions name address_ids not in the base, e.g. {absent['address_id'][0]}")
    stamp = now or datetime.now(timezone.utc)
    out = rows.with_columns(
        pl.when(pl.col("action") == "accept").then(pl.col("address_id")).otherwise(None).alias("address_id"),
        pl.lit(decided_by).alias("decided_by"), pl.lit(stamp).dt.cast_time_unit("us").dt.replace_time_zone("UTC").alias("decided_at"),
    ).select(list(SCHEMA))
    wh.write(out, LAYER, *REVIEW_DECISIONS, mode="append")
    return out.height


def undo_decision(wh: Warehouse, address_key: str, decided_by: str) -> None:
    """Reverse the decision in force for ``address_key`` (recorded as an ``undo``)."""
    if decisions_in_force(wh).filter(pl.col("address_key") == address_key).height == 0:
        raise DecisionError(f"no decision in force for '{address_key}'")
    record_decisions(wh, pl.DataFrame({"address_key": [address_key], "action": ["undo"]}), decided_by)


def open_queue(wh: Warehouse) -> pl.DataFrame:
    """The review queue without the texts decided since it was computed (the next linking drops them)."""
    queue = wh.read(LAYER, *REVIEW_QUEUE)
    if queue.height == 0:
        return queue
    return queue.join(decisions_in_force(wh).select("address_key"), on="address_key", how="anti")


def new_addresses(wh: Warehouse) -> pl.DataFrame:
    """Texts data officers marked as addresses the base lacks, with who and when."""
    log = decision_log(wh).unique("address_key", keep="last", maintain_order=True)
    return log.filter(pl.col("action") == "new").select("address_key", "address_text", "decided_by", "decided_at")


__all__ = ["ACTIONS", "DecisionError", "decision_log", "decisions_in_force", "new_addresses", "open_queue", "record_decisions", "undo_decision"]
