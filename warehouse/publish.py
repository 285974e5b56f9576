"""Change-only publishing: diff a table's new content against what is published, MERGE the difference.

A curated table is rebuilt from its inputs, but what is *published* is only the difference:
rows whose key is new (insert), rows whose values changed (update), keys that are gone (delete).
When there is no difference there is no commit at all, so the table's version and its change data
feed move only when the data does — the five-level sync and the apps read that feed.

We call ``deltalake`` MERGE directly (not an IO manager): none of Dagster's Delta IO managers
can MERGE, delete by key or record app transactions.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction

from warehouse.storage import _fault_point

OP = "_op"  # column of a change set: "upsert" or "delete"
UPSERT, DELETE = "upsert", "delete"
_HASH = "_row_hash"


@dataclass(frozen=True)
class ChangeCounts:
    inserted: int
    updated: int
    deleted: int

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.deleted

    def as_dict(self) -> dict[str, int]:
        return {"inserted": self.inserted, "updated": self.updated, "deleted": self.deleted}


def align(frame: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """Cast ``frame``'s shared columns to ``schema`` (a published table's) so values compare equal."""
    casts = {c: t for c, t in schema.items() if c in frame.columns and frame.schema[c] != t}
    return frame.cast(casts, strict=False) if casts else frame  # type: ignore[arg-type]


_MIX = 0x100000001B3  # the 64-bit FNV prime


def _row_hash(columns: list[str]) -> pl.Expr:
    """One 64-bit hash of every non-key value; both sides are hashed in one process with one dtype.

    Each column is hashed on its own (a seed per position, so values swapped between columns
    differ) and the hashes are folded in. Hashing the struct of all columns, row by row, took
    1.2 s for 1 M persons of 38 columns; this takes 0.2 s."""
    folded = pl.lit(0, pl.UInt64)
    for position, column in enumerate(columns):
        folded = (folded * pl.lit(_MIX, pl.UInt64)) ^ pl.col(column).hash(seed=7 + position)
    return folded.alias(_HASH)


def diff_by_key(current: pl.DataFrame | pl.LazyFrame | None, new: pl.DataFrame, keys: tuple[str, ...] | list[str]) -> tuple[pl.DataFrame, ChangeCounts]:
    """The change set that turns ``current`` into ``new``: upserted rows plus deleted keys (``_op``).

    ``new`` must be unique on ``keys``. Columns are compared after aligning ``new`` to the
    published schema; a column added or dropped counts as a change of every row. ``current``
    may be a lazy scan: only its keys and one hash per row are materialised.
    """
    keys = list(keys)
    if current is None:
        return new.with_columns(pl.lit(UPSERT).alias(OP)), ChangeCounts(new.height, 0, 0)
    schema = current.collect_schema() if isinstance(current, pl.LazyFrame) else current.schema
    if len(schema) == 0:
        return new.with_columns(pl.lit(UPSERT).alias(OP)), ChangeCounts(new.height, 0, 0)
    new = align(new, schema)
    values = sorted(set(new.columns) - set(keys))
    same_columns = set(schema.names()) == set(new.columns)
    cur = current.lazy().select(
        *keys,
        (_row_hash(values) if same_columns else pl.lit(None, pl.UInt64).alias(_HASH)).alias("_published"),
        pl.lit(True).alias("_present"),
    ).collect(engine="streaming")
    if cur.height == 0:  # nothing published under these keys (a new day of readings): every row is new, none needs a hash
        return new.with_columns(pl.lit(UPSERT).alias(OP)), ChangeCounts(new.height, 0, 0)
    joined = new.with_columns(_row_hash(values)).join(cur, on=keys, how="left", nulls_equal=True)
    inserts = joined.filter(pl.col("_present").is_null())
    updates = joined.filter(pl.col("_present") & (pl.col("_published").is_null() | (pl.col(_HASH) != pl.col("_published"))))
    deletes = cur.select(keys).join(new.select(keys), on=keys, how="anti", nulls_equal=True)
    upserts = pl.concat([inserts, updates]).select(new.columns).with_columns(pl.lit(UPSERT).alias(OP))
    removed = deletes.with_columns(pl.lit(DELETE).alias(OP))
    changes = pl.concat([upserts, removed], how="diagonal_relaxed") if removed.height else upserts
    return changes, ChangeCounts(inserts.height, updates.height, deletes.height)


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def merge_changes(
    uri: str,
    changes: pl.DataFrame,
    keys: tuple[str, ...] | list[str],
    *,
    storage_options: dict[str, str] | None = None,
    app_id: str | None = None,
    app_version: int | None = None,
    table: DeltaTable | None = None,
) -> int | None:
    """Apply a change set (from :func:`diff_by_key`) to the Delta table at ``uri`` in one commit.

    Returns the new version, or ``None`` when there was nothing to apply (no commit made).
    ``app_id``/``app_version`` are recorded in the same commit, so a retry can tell it landed.
    ``table``: the table at ``uri`` already opened by the caller (saves opening it again).
    """
    if changes.height == 0:
        return None
    dt = table if table is not None else DeltaTable(uri, storage_options=storage_options)
    commit = None
    if app_id is not None and app_version is not None:
        commit = CommitProperties(app_transactions=[Transaction(app_id=app_id, version=app_version)])
    columns = [c for c in changes.columns if c != OP]
    source = changes.to_arrow()
    source = source.cast(pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in source.schema]))
    on = " AND ".join(f"(t.{_quote(k)} IS NOT DISTINCT FROM s.{_quote(k)})" for k in keys)  # parenthesised: the SQL parser binds AND tighter
    values = {_quote(c): f"s.{_quote(c)}" for c in columns}
    (
        # streamed_exec=False: the change set is in memory already; its key statistics then let
        # delta-rs skip target files outside the changed keys' range
        dt.merge(source, predicate=on, source_alias="s", target_alias="t", merge_schema=True, commit_properties=commit, streamed_exec=False)
        .when_matched_update(updates=values, predicate=f"s.{OP} = '{UPSERT}'")
        .when_matched_delete(predicate=f"s.{OP} = '{DELETE}'")
        .when_not_matched_insert(updates=values, predicate=f"s.{OP} = '{UPSERT}'")
        .execute()
    )
    _fault_point()
    return dt.version()  # the merge moved ``dt`` to the version it committed


__all__ = ["ChangeCounts", "DELETE", "OP", "UPSERT", "align", "diff_by_key", "merge_changes"]
