"""Corrections flowing back (校正回流): from the nodes' inboxes, through the hub's gates, into gold.

1. A node worker's verified update (a community worker's phone or living status, a province
   system's authoritative fix of an identity field) is appended to the node's **inbox** table
   (``inbox/corrections/corrections`` in the node's warehouse; ``enteronce sync correct``).
2. :func:`collect_corrections` reads each inbox's new rows (its change feed after the hub's
   watermark), sets aside what the node may not correct — a person it cannot see — into
   ``quarantine/jiaozheng/rejected`` with the reason, and writes the rest as one JSON-lines
   delivery into ``landing/jiaozheng/``: from there the corrections are a source system like any
   other (bronze, silver, the batch gate).
3. :func:`apply_corrections` (the persons builder) resolves conflicts field by field: the
   authority of the level that corrected (:data:`AUTHORITY`) against the departmental systems,
   then the latest correction. The republished row reaches every node that can see it with the
   next sync.
"""

from __future__ import annotations

import os
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl

from pipelines.dates import age_expr
from pipelines.flags import person_flags
from pipelines.sources import get_spec
from pipelines.sync import LEVEL_OF_LENGTH, Node, SyncConfig, place_expr
from warehouse.storage import Warehouse

SYSTEM = "jiaozheng"  # the source system the inboxes feed (pipelines/sources/jiaozheng)
INBOX = ("inbox", "corrections", "corrections")
INBOX_LOG = ("sync", "_log", "inbox")  # hub side: how far each node's inbox was collected
REJECTED = ("quarantine", SYSTEM, "rejected")
SYSTEMS = "systems"  # the departmental systems' own value, as a place in the order below

# Per field, who wins (first wins): the levels that may correct it and where the departmental
# systems stand. Contact and living facts are best known on the doorstep; identity facts by the
# province's authoritative registers. A correction from a level ranked after the systems only
# fills a value the systems left empty.
AUTHORITY: dict[str, tuple[str, ...]] = {
    "phone": ("community", "street", SYSTEMS, "district", "city", "province"),
    "living_status": ("community", "street", SYSTEMS, "district", "city", "province"),
    "name": ("province", "city", SYSTEMS, "district", "street", "community"),
    "id_number": ("province", "city", SYSTEMS, "district", "street", "community"),
    "birth_date": ("province", "city", SYSTEMS, "district", "street", "community"),
    "sex": ("province", "city", SYSTEMS, "district", "street", "community"),
}
FIELDS = tuple(AUTHORITY)
INBOX_SCHEMA = {
    "correction_id": pl.String, "person_id": pl.String, "node_code": pl.String, **{f: pl.String for f in FIELDS},
    "correction_reason": pl.String, "corrected_by": pl.String, "corrected_at": pl.Datetime("us", "UTC"),
}
_SOURCE_NAMES = {canonical: source for source, canonical in get_spec(SYSTEM).columns.items()}  # inbox column → delivered key
LOCAL_TIME = "Asia/Shanghai"  # deliveries carry local time, as every departmental system does
INBOX_LOG_SCHEMA = {"node": pl.String, "from_version": pl.Int64, "to_version": pl.Int64, "accepted": pl.Int64,
                    "rejected": pl.Int64, "file": pl.String, "at": pl.Datetime("us", "UTC")}


# ------------------------------------------------------------------------------ at a node
def submit_correction(node: Node, person_id: str, corrected_by: str, reason: str, values: dict[str, str | None],
                      corrected_at: datetime | None = None) -> str:
    """Append one correction to ``node``'s inbox; returns its id."""
    given = {f: v for f, v in values.items() if v not in (None, "")}
    unknown = sorted(set(given) - set(FIELDS))
    if unknown:
        raise ValueError(f"cannot correct {unknown}; correctable fields: {', '.join(FIELDS)}")
    if not given:
        raise ValueError(f"a correction names at least one of {', '.join(FIELDS)}")
    if not corrected_by or not reason:
        raise ValueError("a correction says who verified it (corrected_by) and why (reason)")
    correction_id = uuid.uuid4().hex
    row = {"correction_id": correction_id, "person_id": person_id, "node_code": node.code, **{f: given.get(f) for f in FIELDS},
           "correction_reason": reason, "corrected_by": corrected_by, "corrected_at": corrected_at or datetime.now(timezone.utc)}
    node.warehouse().write(pl.DataFrame([row], schema=INBOX_SCHEMA), *INBOX, mode="append")
    return correction_id


# ------------------------------------------------------------------------------ at the hub
def _collected(wh: Warehouse) -> dict[str, int]:
    log = wh.read(*INBOX_LOG)
    return dict(log.group_by("node").agg(pl.col("to_version").max()).iter_rows()) if log.height else {}


def _new_rows(node: Node, since: int | None, until: int) -> pl.DataFrame:
    nwh = node.warehouse()
    if since is None:  # first collection: the whole inbox as it is at ``until``
        return pl.read_delta(nwh.uri(*INBOX), version=until, storage_options=dict(node.storage_options) or None)
    changes = nwh.changes(*INBOX, since=since + 1, until=until)
    return changes.filter(pl.col("_change_type") == "insert").drop("_change_type", "_commit_version", "_commit_timestamp")


def check_corrections(rows: pl.DataFrame, node: Node, persons: pl.DataFrame, hub: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(accepted, rejected with ``reject_reason``): a node may correct only persons it can see."""
    visible = persons.filter(place_expr(persons.columns, hub).str.starts_with(node.code)).select("person_id").with_columns(pl.lit(True).alias("_seen"))
    judged = rows.join(visible, on="person_id", how="left").with_columns(
        pl.when(pl.col("node_code") != node.code).then(pl.lit(f"submitted under another node's code, not {node.code}"))
        .when(pl.col("_seen").is_null()).then(pl.lit(f"person not among the residents node {node.code} can see"))
        .alias("reject_reason")
    ).drop("_seen")
    return judged.filter(pl.col("reject_reason").is_null()).drop("reject_reason"), judged.filter(pl.col("reject_reason").is_not_null())


def collect_corrections(wh: Warehouse, config: SyncConfig, landing: Path, codes: list[str] | tuple[str, ...] = ()) -> list[dict]:
    """Move every node's new inbox rows to the hub: the accepted ones as a delivery in
    ``landing/jiaozheng/``, the others to quarantine. Returns one summary per node that had any."""
    done = _collected(wh)
    persons = wh.read("gold", "curated", "persons", columns=["person_id", "district_code", "street_code", "community_code"])
    folder = Path(landing) / SYSTEM
    summaries = []
    for node in config.select(codes=codes):
        nwh = node.warehouse()
        if not nwh.exists(*INBOX):
            continue
        until = nwh.table(*INBOX).version()
        since = done.get(node.code)
        if since is not None and since >= until:
            continue
        rows = _new_rows(node, since, until)
        accepted, rejected = check_corrections(rows, node, persons, config.hub) if persons.height else (rows.clear(), rows.with_columns(pl.lit("the hub has no published persons yet").alias("reject_reason")))
        name = ""
        if accepted.height:
            folder.mkdir(parents=True, exist_ok=True)
            name = f"inbox_{node.code}_v{(since if since is not None else -1) + 1}-{until}.jsonl"
            tmp = folder / f".{name}.tmp"
            delivery = accepted.with_columns(pl.col("corrected_at").dt.convert_time_zone(LOCAL_TIME).dt.strftime("%Y-%m-%d %H:%M:%S"))
            delivery = delivery.select([c for c in delivery.columns if c in _SOURCE_NAMES]).rename(_SOURCE_NAMES)
            delivery.write_ndjson(tmp)  # whole file, then renamed: the landing sensor never sees half of it
            os.replace(tmp, folder / name)
        if rejected.height:
            wh.write(rejected.with_columns(pl.lit(datetime.now(timezone.utc)).alias("rejected_at")), *REJECTED, mode="append")
        summary = {"node": node.code, "from_version": since, "to_version": until, "accepted": accepted.height,
                   "rejected": rejected.height, "file": name, "at": datetime.now(timezone.utc)}
        wh.write(pl.DataFrame([summary], schema=INBOX_LOG_SCHEMA), *INBOX_LOG, mode="append")
        summaries.append(summary)
    return summaries


# ------------------------------------------------------------------------------ in gold
def _authority_table() -> pl.DataFrame:
    rows = []
    for name, order in AUTHORITY.items():
        systems = order.index(SYSTEMS)
        rows += [{"field": name, "level": level, "rank": i, "overrides": i < systems} for i, level in enumerate(order) if level != SYSTEMS]
    return pl.DataFrame(rows)


def apply_corrections(persons: pl.DataFrame, corrections: pl.DataFrame, as_of: date | None = None) -> pl.DataFrame:
    """Golden persons with the winning correction of each (person, field) applied.

    Per field: the correcting level's authority first (:data:`AUTHORITY`), then the latest
    ``corrected_at``, then the correction id (one answer every run). A correction that outranks
    the systems replaces their value; one that does not fills only an empty value. An applied
    field's ``<field>_source`` says ``jiaozheng``; age and the flags are derived again."""
    fields = [f for f in FIELDS if f in corrections.columns and f in persons.columns]
    if corrections.height == 0 or not fields:
        return persons
    authority = _authority_table()
    levels = corrections.with_columns(pl.col("node_code").str.len_chars().replace_strict(LEVEL_OF_LENGTH, default=None, return_dtype=pl.String).alias("level"))
    out, touched = persons, []
    for name in fields:
        offered = levels.filter(pl.col(name).is_not_null()).join(authority.filter(pl.col("field") == name), on="level", how="inner")
        if offered.height == 0:
            continue
        winners = offered.sort(["rank", "corrected_at", "correction_id"], descending=[False, True, True], nulls_last=True).unique(
            "person_id", keep="first", maintain_order=True
        ).select("person_id", pl.col(name).alias("_value"), pl.col("overrides").alias("_overrides"))
        out = out.join(winners, on="person_id", how="left")
        use = pl.col("_value").is_not_null() & (pl.col("_overrides") | pl.col(name).is_null())
        updates = [pl.when(use).then(pl.col("_value").cast(persons.schema[name])).otherwise(pl.col(name)).alias(name)]
        if f"{name}_source" in out.columns:
            updates.append(pl.when(use).then(pl.lit(SYSTEM)).otherwise(pl.col(f"{name}_source")).alias(f"{name}_source"))
        out = out.with_columns(updates).drop("_value", "_overrides")
        touched.append(name)
    if "birth_date" in touched and "age" in out.columns:
        corrected = pl.col("birth_date_source") == SYSTEM if "birth_date_source" in out.columns else pl.lit(True)
        out = out.with_columns(pl.when(corrected).then(age_expr(pl.col("birth_date"), as_of or date.today())).otherwise(pl.col("age")).alias("age"))
    flags = person_flags()
    if {"occupants", "living_status", "registered"} <= set(out.columns):
        out = out.with_columns(flags)
    return out


__all__ = ["AUTHORITY", "FIELDS", "INBOX", "INBOX_LOG", "REJECTED", "SYSTEM", "apply_corrections", "check_corrections",
           "collect_corrections", "submit_correction"]
