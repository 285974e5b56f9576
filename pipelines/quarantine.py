"""Quarantine workflow: list rows with their reasons, export them for correction, replay fixes,
withdraw a whole batch.

A replayed file is a new bronze batch of the same system, standardised and checked exactly like
a delivery; every row keeps its original ``source_row`` and names the batch it replays
(``replay_of_batch_id``), so lineage runs from the corrected row back to the original one.
A replayed row leaves the open quarantine: ``quarantine/<system>/replayed`` records it (state
open → replayed, with the batch it went into). Replaying it again does nothing, so a second
round never duplicates a row; a corrected row that fails again is open under its replay batch.

Withdrawing a batch (a delivery the sending department says is wrong) moves its silver rows to
quarantine with the reason and takes the batch out of everything built from silver.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from pipelines.ingest import BATCHES_TABLE, FILES_TABLE, QUARANTINE_TABLE, WITHDRAWN_TABLE, SilverReport, build_silver, replace_batches
from pipelines.sources import all_specs, get_spec
from warehouse.storage import Warehouse

KEY_COLUMNS = ["source_system", "batch_id", "source_row", "reason"]
REPLAY_OF = "_replay_of_batch"
REPLAYED_TABLE = "replayed"  # quarantine/<system>/replayed: batch_id, source_row, replayed_into, replayed_at


def open_rows(wh: Warehouse, system: str) -> pl.DataFrame:
    """The system's quarantined rows not replayed yet."""
    rows = wh.read("quarantine", system, QUARANTINE_TABLE)
    replayed = wh.read("quarantine", system, REPLAYED_TABLE, columns=["batch_id", "source_row"])
    if rows.height and replayed.height:
        rows = rows.join(replayed, on=["batch_id", "source_row"], how="anti")
    return rows


def list_quarantine(wh: Warehouse, system: str | None = None) -> pl.DataFrame:
    """Open quarantined rows (replayed ones have left), by system, batch and row."""
    systems = [system] if system else list(all_specs())
    frames = [open_rows(wh, s) for s in systems]
    frames = [f for f in frames if f.height]
    if not frames:
        return pl.DataFrame(schema={c: pl.String for c in KEY_COLUMNS})
    return pl.concat(frames, how="diagonal_relaxed").sort("source_system", "batch_id", "source_row")


def export_quarantine(wh: Warehouse, system: str, path: Path) -> int:
    """Write the system's quarantined rows as CSV: lineage, reason, then the raw source columns."""
    rows = list_quarantine(wh, system)
    if rows.height == 0:
        return 0
    raw = pl.DataFrame([json.loads(r) for r in rows["raw_values"].to_list()], infer_schema_length=None)
    raw = raw.with_columns(pl.all().cast(pl.String)) if raw.width else raw
    out = pl.concat([rows.select(KEY_COLUMNS), raw], how="horizontal")
    out.write_csv(path)
    return out.height


def replay(wh: Warehouse, path: Path) -> list[SilverReport]:
    """Re-ingest corrected rows from an exported file; returns the silver report per system."""
    path = Path(path)
    fixed = pl.read_csv(path, infer_schema=False)
    missing = [c for c in ("source_system", "batch_id", "source_row") if c not in fixed.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; export with `enteronce quarantine export` first")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    reports = []
    for (system,), rows in fixed.group_by("source_system", maintain_order=True):
        spec = get_spec(str(system))
        batch_id = f"{spec.system}-replay-{digest[:12]}"
        # rows already replayed (by an earlier round or this very file) are not taken twice
        rows = rows.with_columns(pl.col("source_row").cast(pl.Int64)).join(
            wh.read("quarantine", spec.system, REPLAYED_TABLE, columns=["batch_id", "source_row"]), on=["batch_id", "source_row"], how="anti"
        ) if wh.exists("quarantine", spec.system, REPLAYED_TABLE) else rows
        rows = rows.unique(["batch_id", "source_row"], keep="last", maintain_order=True)
        if rows.height == 0:
            reports.append(SilverReport(spec.system))
            continue
        source_cols = [c for c in rows.columns if c not in KEY_COLUMNS]
        bronze = rows.select(
            *source_cols,
            pl.col("source_row").cast(pl.Int64).alias("_source_row"),
            pl.col("batch_id").alias(REPLAY_OF),
            pl.lit(spec.system).alias("_system"),
            pl.lit(batch_id).alias("_batch_id"),
            pl.lit(str(path)).alias("_source_file"),
            pl.lit(digest).alias("_file_hash"),
            pl.lit(datetime.now(timezone.utc)).dt.cast_time_unit("us").alias("_ingested_at"),
        )
        replace_batches(wh, bronze, "bronze", spec.system, spec.table, "_batch_id", [batch_id])
        log = pl.DataFrame(
            [{"file_path": str(path), "file_name": path.name, "file_hash": digest, "batch_id": batch_id, "status": "replay", "rows": bronze.height, "message": f"corrected rows replayed ({bronze.height})", "unmapped_columns": ""}]
        ).with_columns(pl.col("rows").cast(pl.Int64), pl.lit(datetime.now(timezone.utc)).dt.cast_time_unit("us").alias("logged_at"))
        wh.write(log, "bronze", spec.system, FILES_TABLE, mode="append")
        reports.append(build_silver(spec, wh))
        done = rows.select("batch_id", pl.col("source_row").cast(pl.Int64), pl.lit(batch_id).alias("replayed_into"),
                           pl.lit(datetime.now(timezone.utc)).dt.cast_time_unit("us").alias("replayed_at"))
        wh.write(done, "quarantine", spec.system, REPLAYED_TABLE, mode="append")
    return reports


def withdraw_batch(wh: Warehouse, system: str, batch_id: str, reason: str) -> int:
    """Take a delivered batch back: its silver rows move to quarantine (reason ``batch withdrawn:
    …``), the batch is listed in ``silver/<system>/_withdrawn`` and leaves every build and audit.
    Idempotent: a withdrawal interrupted between its commits is completed by running it again."""
    spec = get_spec(system)
    silver = wh.scan("silver", system, spec.table)
    batches = wh.read("silver", system, BATCHES_TABLE)
    if silver is None or batches.height == 0 or batch_id not in set(batches["batch_id"].to_list()):
        raise ValueError(f"{system} has no standardised batch {batch_id}")
    rows = silver.filter(pl.col("batch_id") == batch_id).collect()
    why = f"batch withdrawn: {reason}"
    quarantined = wh.read("quarantine", system, QUARANTINE_TABLE)
    already = quarantined.filter((pl.col("batch_id") == batch_id) & (pl.col("reason") == why)).height if quarantined.height else 0
    if rows.height and not already:
        moved = rows.select(
            "source_system", "batch_id", "source_file", "source_row",
            pl.lit("(whole batch)").alias("columns"), pl.lit(why).alias("reason"),
            pl.struct(pl.exclude("source_system", "batch_id", "source_file", "source_row")).struct.json_encode().alias("raw_values"),
            pl.lit(datetime.now(timezone.utc)).dt.cast_time_unit("us").alias("quarantined_at"),
        )
        wh.write(moved, "quarantine", system, QUARANTINE_TABLE, mode="append")
    if rows.height:
        wh.table("silver", system, spec.table).delete(f"batch_id = '{batch_id}'")
    if batch_id not in set(wh.read("silver", system, WITHDRAWN_TABLE, columns=["batch_id"]).get_column("batch_id", default=pl.Series([], dtype=pl.String)).to_list()):
        wh.write(pl.DataFrame({"batch_id": [batch_id], "reason": [reason], "rows": [rows.height],
                               "withdrawn_at": [datetime.now(timezone.utc)]}).with_columns(pl.col("withdrawn_at").dt.cast_time_unit("us"), pl.col("rows").cast(pl.Int64)),
                 "silver", system, WITHDRAWN_TABLE, mode="append")
    return rows.height
