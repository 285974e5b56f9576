"""Row conservation: every bronze row ends in silver or in quarantine, per batch."""

from __future__ import annotations

import polars as pl

from pipelines.ingest import QUARANTINE_TABLE
from pipelines.sources.spec import SourceSpec
from warehouse.storage import Warehouse


def row_conservation(spec: SourceSpec, wh: Warehouse) -> pl.DataFrame:
    """Per batch: bronze rows vs silver rows + quarantined rows, read from the tables themselves."""
    bronze = wh.scan("bronze", spec.system, spec.table)
    if bronze is None:
        return pl.DataFrame(schema={"batch_id": pl.String, "bronze_rows": pl.UInt32, "silver_rows": pl.UInt32, "quarantined_rows": pl.UInt32, "balanced": pl.Boolean})
    counts = bronze.group_by(pl.col("_batch_id").alias("batch_id")).len("bronze_rows").collect()
    for layer, table, name in (("silver", spec.table, "silver_rows"), ("quarantine", QUARANTINE_TABLE, "quarantined_rows")):
        scan = wh.scan(layer, spec.system, table)
        if scan is None:
            counts = counts.with_columns(pl.lit(0, dtype=pl.UInt32).alias(name))
            continue
        layer_counts = scan.group_by("batch_id").len(name).collect()
        counts = counts.join(layer_counts, on="batch_id", how="left").with_columns(pl.col(name).fill_null(0))
    return counts.with_columns(
        (pl.col("bronze_rows") == pl.col("silver_rows") + pl.col("quarantined_rows")).alias("balanced")
    ).sort("batch_id")
