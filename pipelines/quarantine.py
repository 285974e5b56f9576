"""Quarantine workflow: list rows with their reasons, export them for correction, replay fixes.

A replayed file is a new bronze batch of the same system, standardised and checked exactly like
a delivery; every row keeps its original ``source_row`` and names the batch it replays
(``replay_of_batch_id``), so lineage runs from the corrected row back to the original one.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from pipelines.ingest import FILES_TABLE, QUARANTINE_TABLE, SilverReport, build_silver, replace_batches
from pipelines.sources import all_specs, get_spec
from warehouse.storage import Warehouse

KEY_COLUMNS = ["source_system", "batch_id", "source_row", "reason"]
REPLAY_OF = "_replay_of_batch"


def list_quarantine(wh: Warehouse, system: str | None = None) -> pl.DataFrame:
    systems = [system] if system else list(all_specs())
    frames = [wh.read("quarantine", s, QUARANTINE_TABLE) for s in systems]
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
    return reports
