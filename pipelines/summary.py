"""Summaries people read: rows per layer, quarantine reasons, rejected files, the field catalogue."""

from __future__ import annotations

import polars as pl

from warehouse.catalog import CATALOG
from pipelines.ingest import FILES_TABLE, QUARANTINE_TABLE, summarize_reasons
from pipelines.sources import all_specs
from warehouse.storage import Warehouse


def warehouse_summary(wh: Warehouse) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(rows per system per layer, quarantined rows by system and reason, rejected/duplicate files)."""
    rows, reasons, files = [], [], []
    for spec in all_specs().values():
        bronze = wh.row_count("bronze", spec.system, spec.table)
        silver = wh.row_count("silver", spec.system, spec.table)
        quarantined = wh.row_count("quarantine", spec.system, QUARANTINE_TABLE)
        rows.append(
            {
                "system": spec.system,
                "label": spec.label,
                "bronze": bronze,
                "silver": silver,
                "quarantine": quarantined,
                "balanced": bronze == silver + quarantined,
            }
        )
        if quarantined:
            q = wh.read("quarantine", spec.system, QUARANTINE_TABLE, columns=["reason"])
            reasons.append(summarize_reasons(q).with_columns(pl.lit(spec.system).alias("system")))
        log = wh.read("bronze", spec.system, FILES_TABLE)
        if log.height:
            files.append(log.filter(pl.col("status") != "ingested").select(pl.lit(spec.system).alias("system"), "file_name", "status", "message"))
    table = pl.DataFrame(rows)
    if table.height:
        total = table.select(
            pl.lit("TOTAL").alias("system"), pl.lit("").alias("label"),
            pl.col("bronze").sum(), pl.col("silver").sum(), pl.col("quarantine").sum(), pl.col("balanced").all(),
        )
        table = pl.concat([table, total])
    reason_table = (
        pl.concat(reasons).select("system", "reason", "rows")
        if reasons
        else pl.DataFrame(schema={"system": pl.String, "reason": pl.String, "rows": pl.UInt32})
    )
    file_table = pl.concat(files) if files else pl.DataFrame(schema={"system": pl.String, "file_name": pl.String, "status": pl.String, "message": pl.String})
    return table, reason_table, file_table


def catalog_table() -> tuple[pl.DataFrame, int, int]:
    """Per system: source fields, canonical fields and their labels; totals over all systems."""
    rows = []
    canonical_used: set[str] = set()
    total_source = 0
    for spec in all_specs().values():
        fields = spec.canonical_fields()
        canonical_used.update(fields)
        total_source += len(spec.columns)
        rows.append(
            {
                "system": spec.system,
                "label": spec.label,
                "format": spec.format.kind,
                "source_fields": len(spec.columns),
                "canonical_fields": len(fields),
                "mapping": ", ".join(f"{src}→{CATALOG[dst].label}" for src, dst in spec.columns.items()),
            }
        )
    return pl.DataFrame(rows), total_source, len(canonical_used)


def address_summary(wh: Warehouse) -> pl.DataFrame | None:
    """Per system: address values linked, accepted, in review, unmatched (None before linking)."""
    from warehouse.tables import ADDRESS_LAYER as LAYER, ADDRESS_LINKS as LINKS

    scan = wh.scan(LAYER, *LINKS)
    if scan is None:
        return None
    return (
        scan.group_by("source_system")
        .agg(
            pl.len().alias("address_values"),
            (pl.col("decision") == "accept").sum().alias("accepted"),
            (pl.col("decision") == "review").sum().alias("review"),
            (pl.col("decision") == "building").sum().alias("building_only"),  # the building told, not the room
            pl.col("decision").is_in(["reject", "no_candidate"]).sum().alias("unmatched"),
        )
        .with_columns((pl.col("accepted") / pl.col("address_values")).round(4).alias("match_rate"))
        .sort("source_system")
        .collect()
    )
