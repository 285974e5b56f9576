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

from datetime import datetime

import polars as pl

from address_master.decisions import DecisionError, DecisionLog
from address_master.parse import normalize_address
from address_master.store import LAYER, REVIEW_DECISIONS, REVIEW_QUEUE, read_base
from warehouse.storage import Warehouse

ACTIONS = ("accept", "none", "new", "undo")
# community_code: where the decided address (or the candidate looked at) lies — whose jurisdiction
# may see the decision; none for decisions applied from a file (district level and above see those)
LOG = DecisionLog(table=(LAYER, *REVIEW_DECISIONS), key="address_key",
                  schema={"address_key": pl.String, "address_id": pl.String, "address_text": pl.String, "community_code": pl.String},
                  actions=ACTIONS, legacy_action="accept")


def decision_log(wh: Warehouse) -> pl.DataFrame:
    """Every decision ever recorded, oldest first (rows from before actions existed read as ``accept``)."""
    return LOG.read(wh)


def decisions_in_force(wh: Warehouse) -> pl.DataFrame:
    """address_key, action, address_id: the latest decision of each key, undone ones left out."""
    return LOG.in_force(wh).select("address_key", "action", "address_id")


def record_decisions(wh: Warehouse, decisions: pl.DataFrame, decided_by: str, now: datetime | None = None) -> int:
    """Append decisions (``address_key`` or ``address_text``, ``action``, ``address_id``); checks
    them all first: known actions, an address of the base for every accept, none for the others."""
    rows = decisions
    if rows.height and "address_key" not in rows.columns:
        if "address_text" not in rows.columns:
            raise DecisionError("decisions need address_key or address_text")
        rows = rows.with_columns(normalize_address(pl.col("address_text")).alias("address_key"))
    for column in ("action", "address_id"):
        if column not in rows.columns:
            rows = rows.with_columns(pl.lit("accept" if column == "action" else None, pl.String).alias(column))
    accepts = rows.filter(pl.col("action") == "accept")
    missing = accepts.filter(pl.col("address_id").is_null() | (pl.col("address_id") == ""))
    if missing.height:
        raise DecisionError(f"accepting '{missing['address_key'][0]}' needs an address_id")
    base = read_base(wh).select("address_id", pl.col("community_code").alias("_place"))
    absent = accepts.join(base, on="address_id", how="anti")
    if absent.height:
        raise DecisionError(f"{absent.height} decisions name address_ids not in the base, e.g. {absent['address_id'][0]}")
    rows = rows.with_columns(pl.when(pl.col("action") == "accept").then(pl.col("address_id")).alias("address_id"))
    # an accepted address places the decision (who may see it) when the caller did not
    placed = rows.join(base, on="address_id", how="left", maintain_order="left")
    rows = placed.with_columns((pl.coalesce("community_code", "_place") if "community_code" in rows.columns else pl.col("_place")).alias("community_code")).drop("_place")
    return LOG.append(wh, rows, decided_by, now)


def undo_decision(wh: Warehouse, address_key: str, decided_by: str) -> None:
    """Reverse the decision in force for ``address_key`` (recorded as an ``undo``)."""
    LOG.undo(wh, address_key, decided_by)


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


__all__ = ["ACTIONS", "LOG", "DecisionError", "decision_log", "decisions_in_force", "new_addresses", "open_queue", "record_decisions", "undo_decision"]
