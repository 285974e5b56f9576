"""Row conservation: every record the file holds (counted from the file at intake) is a bronze
row, and every bronze row ends in silver or in quarantine.

Checked per batch for the batches a run standardises (a batch's counts never change afterwards:
a withdrawal or a replay moves rows between silver and quarantine or adds a batch of its own),
and for the whole table from the Delta log's record counts, which costs no data read."""

from __future__ import annotations

import polars as pl

from pipelines.ingest import FILES_TABLE, QUARANTINE_TABLE
from pipelines.sources.readers import LINES
from pipelines.sources.spec import SourceSpec
from warehouse.storage import Warehouse

COUNTS_SCHEMA = {"batch_id": pl.String, "received": pl.Int64, "bronze_lines": pl.Int64, "bronze_rows": pl.UInt32,
                 "silver_rows": pl.UInt32, "quarantined_rows": pl.UInt32, "balanced": pl.Boolean}


def row_conservation(spec: SourceSpec, wh: Warehouse, batches: list[str] | None = None) -> pl.DataFrame:
    """Per batch (all of them, or only ``batches``): records received (counted from the file) vs
    lines the bronze rows account for, and bronze rows vs silver rows + quarantined rows — read
    from the tables themselves."""
    bronze = wh.scan("bronze", spec.system, spec.table)
    if bronze is None or batches == []:
        return pl.DataFrame(schema=COUNTS_SCHEMA)
    if batches is not None:
        bronze = bronze.filter(pl.col("_batch_id").is_in(batches))
    lines = pl.col(LINES).fill_null(1).sum() if LINES in bronze.collect_schema().names() else pl.len()
    counts = bronze.group_by(pl.col("_batch_id").alias("batch_id")).agg(lines.cast(pl.Int64).alias("bronze_lines"), pl.len().alias("bronze_rows")).collect()
    files = wh.read("bronze", spec.system, FILES_TABLE)
    if files.height and "received" in files.columns:
        received = files.filter(pl.col("status") == "ingested").group_by("batch_id").agg(pl.col("received").max())
        counts = counts.join(received, on="batch_id", how="left")
    else:
        counts = counts.with_columns(pl.lit(None, pl.Int64).alias("received"))
    for layer, table, name in (("silver", spec.table, "silver_rows"), ("quarantine", QUARANTINE_TABLE, "quarantined_rows")):
        scan = wh.scan(layer, spec.system, table)
        if scan is None:
            counts = counts.with_columns(pl.lit(0, dtype=pl.UInt32).alias(name))
            continue
        if batches is not None:
            scan = scan.filter(pl.col("batch_id").is_in(batches))
        layer_counts = scan.group_by("batch_id").len(name).collect()
        counts = counts.join(layer_counts, on="batch_id", how="left").with_columns(pl.col(name).fill_null(0))
    # received is unknown only for batches taken in before files were counted (or replays)
    from_file = pl.col("received").is_null() | (pl.col("received") == pl.col("bronze_lines"))
    return counts.with_columns(
        (from_file & (pl.col("bronze_rows") == pl.col("silver_rows") + pl.col("quarantined_rows"))).alias("balanced")
    ).select(*COUNTS_SCHEMA).sort("batch_id")


def table_totals(spec: SourceSpec, wh: Warehouse) -> dict[str, int | bool]:
    """Whole tables: bronze rows = silver rows + quarantined rows, each counted from the Delta log
    (the sum of the balanced batches' identity, so it holds whenever every batch balances)."""
    totals = {
        name: wh.row_count(layer, spec.system, table)
        for name, layer, table in (("bronze_rows", "bronze", spec.table), ("silver_rows", "silver", spec.table),
                                   ("quarantined_rows", "quarantine", QUARANTINE_TABLE))
    }
    return {**totals, "balanced": totals["bronze_rows"] == totals["silver_rows"] + totals["quarantined_rows"]}
