"""Data officers' decisions on uncertain person merges: recorded, attributed, reversible.

The resolver leaves a record a person of its own when its evidence for a known person falls short
of the acceptance line; when its best candidates come close (``persons.REVIEW_FLOOR``) it is
queued (``person/review/queue``) with up to three candidates. A data officer compares the record
with each candidate's records side by side and decides, one appended row of
``person/review/decisions`` each:

- ``same``: the record is that person (``person_id``); every resolve from then on puts it there
  (rule ``review``), in this delivery and the same row in later ones (decisions are kept by the
  record's system, ID, name and birth: :func:`address_master.persons.record_key_expr`);
- ``different``: none of the candidates; the record stays apart and leaves the queue;
- ``undo``: the resolver decides again (and may queue it).

A change of the decisions in force makes the next person-master update a full resolve.
"""

from __future__ import annotations

import hashlib

import polars as pl

from address_master.decisions import DecisionError, DecisionLog
from warehouse.storage import Warehouse
from warehouse.tables import PERSON_REVIEW_DECISIONS, PERSON_REVIEW_QUEUE

ACTIONS = ("same", "different", "undo")
LOG = DecisionLog(
    table=PERSON_REVIEW_DECISIONS, key="record_key",
    # record_id and community_code say which row was looked at and whose jurisdiction it was in
    schema={"record_key": pl.String, "person_id": pl.String, "record_id": pl.String, "community_code": pl.String},
    actions=ACTIONS,
)
QUEUE_SCHEMA = {"record_id": pl.String, "record_key": pl.String, "person_id": pl.String, "candidate_person_id": pl.String,
                "evidence": pl.Float64, "rank": pl.UInt32}


def decisions_in_force(wh: Warehouse) -> pl.DataFrame:
    """record_key, action, person_id: the decision in force for each decided record."""
    return LOG.in_force(wh).select("record_key", "action", "person_id")


def review_signature(wh: Warehouse) -> str:
    """A digest of the decisions in force: the person master resolves afresh when it changes."""
    rows = decisions_in_force(wh).sort("record_key")
    if rows.height == 0:
        return "none"
    text = "\n".join("|".join(str(v) for v in row) for row in rows.iter_rows())
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def record_decision(wh: Warehouse, item: dict, action: str, decided_by: str, person_id: str | None = None) -> None:
    """Record ``action`` on a queue item (a row of :func:`open_queue`: record_key, record_id,
    community_code); ``same`` names one of the item's candidates."""
    if action == "same" and not person_id:
        raise DecisionError("'same' needs the candidate person_id")
    LOG.append(wh, pl.DataFrame([{
        "record_key": item["record_key"], "record_id": item["record_id"], "community_code": item.get("community_code"),
        "person_id": person_id if action == "same" else None, "action": action,
    }], schema_overrides={k: pl.String for k in ("record_key", "record_id", "community_code", "person_id", "action")}), decided_by)


def undo_decision(wh: Warehouse, record_key: str, decided_by: str) -> None:
    """Reverse the decision in force for ``record_key`` (recorded as an ``undo``)."""
    LOG.undo(wh, record_key, decided_by)


def read_queue(wh: Warehouse) -> pl.DataFrame:
    queue = wh.read(*PERSON_REVIEW_QUEUE)
    return queue if queue.height else pl.DataFrame(schema=QUEUE_SCHEMA)


def open_queue(wh: Warehouse) -> pl.DataFrame:
    """The queue without the records decided since it was computed (the next resolve drops them)."""
    return read_queue(wh).join(decisions_in_force(wh).select("record_key"), on="record_key", how="anti")


def write_queue(wh: Warehouse, queue: pl.DataFrame) -> None:
    wh.write(queue.select(list(QUEUE_SCHEMA)).sort("record_id", "rank"), *PERSON_REVIEW_QUEUE, mode="overwrite", schema_mode="overwrite")


__all__ = ["ACTIONS", "LOG", "DecisionError", "decisions_in_force", "open_queue", "read_queue", "record_decision", "review_signature", "undo_decision", "write_queue"]
