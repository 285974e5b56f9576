"""Businesses and premises: market-regulation registrations, city-management and fire inspections
resolved to one business each, so every inspection of a premises hangs off one record
("最多查一次": the premises' fields are filled once, from the registry).

Rules: a valid 统一社会信用代码 → that business; otherwise the name core (leading province, city
and district names dropped, full or short, from the division table) at the same building; otherwise the name core alone when exactly one
registered business has it; otherwise a premises of its own (name core + building).
"""

from __future__ import annotations

import functools
import re

import polars as pl

from address_master.persons import stable_ids
from address_master.store import LAYER, LINKS
from pipelines.ids import credit_valid_expr
from pipelines.reference import divisions
from pipelines.text import normalize_compact
from warehouse.storage import Warehouse

SOURCES = {"shichang": "businesses", "chengguan": "shop_inspections", "xiaofang": "fire_inspections"}
@functools.cache
def region_prefix() -> str:
    """A pattern for leading place names in a business name (``<省><市><区>…``, a city's short name): every
    province, city and district of the division table, by its full name and its short form
    (suffix 省/市/区/县 dropped where two characters or more remain), longest first."""
    names = divisions().filter(pl.col("level") <= 3)["name"].to_list()
    short = [re.sub(r"(省|市|区|县|自治县)$", "", n) for n in names]
    forms = sorted({n for n in [*names, *short] if len(n) >= 2}, key=len, reverse=True)
    return "^(?:" + "|".join(map(re.escape, forms)) + ")+"


def name_core_expr(name: pl.Expr) -> pl.Expr:
    return normalize_compact(name).str.replace(region_prefix(), "").str.replace_all(r"[()（）·\s]", "")


def collect_business_records(wh: Warehouse) -> pl.DataFrame:
    links = wh.scan(LAYER, *LINKS)
    frames = []
    for system, table in SOURCES.items():
        scan = wh.scan("silver", system, table)
        if scan is None:
            continue
        names = set(scan.collect_schema().names())
        opt = lambda c, t=pl.String: (pl.col(c) if c in names else pl.lit(None, t)).alias(c)  # noqa: E731
        frame = scan.select(
            pl.format("{}:{}:{}", pl.lit(system), pl.col("batch_id"), pl.col("source_row")).alias("record_id"),
            pl.lit(system).alias("source"), "batch_id", "source_row", "ingested_at",
            "business_name", opt("credit_code"), opt("legal_representative"), opt("phone"),
            opt("registered_capital", pl.Float64), opt("established_date", pl.Date), opt("licence_expiry", pl.Date),
            opt("business_status"), opt("inspection_date", pl.Date), opt("inspection_result"),
            opt("hazard_count", pl.Int64), opt("issue_description"),
        )
        if links is not None:
            place = links.filter((pl.col("source_system") == system) & (pl.col("source_column") == "address")).select(
                "batch_id", "source_row", "address_id", "building_id"
            )
            frame = frame.join(place, on=["batch_id", "source_row"], how="left")
        else:
            frame = frame.with_columns(pl.lit(None, pl.String).alias("address_id"), pl.lit(None, pl.String).alias("building_id"))
        frames.append(frame)
    return pl.concat([f.collect() for f in frames], how="diagonal_relaxed") if frames else pl.DataFrame()


def resolve_businesses(records: pl.DataFrame) -> pl.DataFrame:
    """record_id → business_id, rule."""
    rec = records.with_row_index("_r").with_columns(
        name_core_expr(pl.col("business_name")).alias("name_core"),
        pl.when(credit_valid_expr(pl.col("credit_code"))).then(pl.col("credit_code")).alias("code"),
    )
    by_code = rec.filter(pl.col("code").is_not_null()).select("_r", pl.concat_str([pl.lit("code:"), pl.col("code")]).alias("anchor"), pl.lit("credit_code").alias("rule"))
    coded = rec.join(by_code, on="_r").select("anchor", "name_core", "building_id").unique()
    rest = rec.join(by_code, on="_r", how="anti")
    at_building = coded.filter(pl.col("building_id").is_not_null()).group_by("name_core", "building_id").agg(pl.col("anchor").unique())
    at_building = at_building.filter(pl.col("anchor").list.len() == 1).with_columns(pl.col("anchor").list.first())
    step2 = rest.join(at_building, on=["name_core", "building_id"]).select("_r", "anchor", pl.lit("name+building").alias("rule"))
    rest = rest.join(step2, on="_r", how="anti")
    by_name = coded.group_by("name_core").agg(pl.col("anchor").unique()).filter(pl.col("anchor").list.len() == 1).with_columns(pl.col("anchor").list.first())
    step3 = rest.join(by_name, on="name_core").select("_r", "anchor", pl.lit("name").alias("rule"))
    rest = rest.join(step3, on="_r", how="anti")
    step4 = rest.select(
        "_r",
        pl.concat_str([pl.lit("premises:"), pl.col("name_core").fill_null(""), pl.col("building_id").fill_null("?")], separator="|").alias("anchor"),
        pl.lit("new").alias("rule"),
    )
    placed = pl.concat([by_code, step2, step3, step4])
    anchors = placed.select("anchor").unique().sort("anchor")
    anchors = anchors.with_columns(stable_ids("E", anchors["anchor"]).alias("business_id"))
    return rec.select("_r", "record_id").join(placed.join(anchors, on="anchor"), on="_r").sort("_r").select("record_id", "business_id", "rule")


def golden_businesses(records: pl.DataFrame, links: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(one row per business with registry fields and inspection counts, inspections → business)."""
    rec = records.join(links, on="record_id")
    registry_first = pl.col("source").replace_strict(list(SOURCES), [0, 1, 2], default=3, return_dtype=pl.Int32)
    ordered = rec.sort(["business_id", registry_first, pl.col("ingested_at"), pl.col("record_id")], descending=[False, False, True, False])

    def survivor(col: str) -> pl.Expr:
        return pl.col(col).drop_nulls().first().alias(col)

    golden = ordered.group_by("business_id", maintain_order=True).agg(
        survivor("credit_code"), survivor("business_name"), survivor("legal_representative"), survivor("phone"),
        survivor("registered_capital"), survivor("established_date"), survivor("licence_expiry"), survivor("business_status"),
        survivor("address_id"), survivor("building_id"),
        (pl.col("source") == "shichang").any().alias("registered"),
        (pl.col("source") == "chengguan").sum().alias("city_inspections"),
        (pl.col("source") == "xiaofang").sum().alias("fire_inspections"),
        pl.col("inspection_date").max().alias("last_inspection"),
        pl.col("source").unique().sort().str.join(",").alias("systems"),
    )
    inspections = rec.filter(pl.col("inspection_date").is_not_null()).select(
        "business_id", "record_id", "source", "inspection_date", "inspection_result", "hazard_count", "issue_description", "address_id"
    ).sort("business_id", "inspection_date")
    return golden, inspections
