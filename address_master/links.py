"""Address links: every address column of every silver table → address_id / building_id.

Each distinct address text is parsed and matched once (many records share a text); reviewed
decisions (``address/review/decisions``) are applied before matching, so a data officer's
answer is reused for every record with that text from then on. Uncertain texts go to the review
queue with their top candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from address_master.match import match_parsed
from address_master.parse import normalize_address, parse_frame
from address_master.store import LAYER, REVIEW_DECISIONS
from warehouse.catalog import CATALOG
from pipelines.sources.spec import SourceSpec
from warehouse.storage import Warehouse

LINK_COLUMNS = [
    "source_system", "source_table", "source_column", "batch_id", "source_row",
    "address_text", "address_key", "address_id", "building_id", "score", "method", "decision",
]


@dataclass
class LinkReport:
    rows: int
    distinct_texts: int
    decisions: dict[str, int]
    review_texts: int


def address_columns(spec: SourceSpec) -> list[str]:
    """Canonical address fields a system delivers (address, registered_address, …)."""
    return [f for f in spec.canonical_fields() if CATALOG[f].kind == "address"]


def collect_addresses(wh: Warehouse, specs: list[SourceSpec]) -> pl.DataFrame:
    """All address values of all silver tables, one row per (record, address column)."""
    frames = []
    for spec in specs:
        scan = wh.scan("silver", spec.system, spec.table)
        if scan is None:
            continue
        for column in address_columns(spec):
            frames.append(
                scan.select(
                    pl.lit(spec.system).alias("source_system"),
                    pl.lit(spec.table).alias("source_table"),
                    pl.lit(column).alias("source_column"),
                    "batch_id",
                    "source_row",
                    pl.col(f"{column}_raw").alias("address_text"),
                ).filter(pl.col("address_text").is_not_null())
            )
    if not frames:
        return pl.DataFrame(schema={c: pl.String for c in LINK_COLUMNS[:6]})
    return pl.concat([f.collect() for f in frames])


def read_decisions(wh: Warehouse) -> pl.DataFrame:
    decisions = wh.read(LAYER, *REVIEW_DECISIONS)
    if decisions.height == 0:
        return pl.DataFrame(schema={"address_key": pl.String, "address_id": pl.String})
    # the latest decision for a text wins
    return decisions.sort("decided_at").unique("address_key", keep="last").select("address_key", "address_id")


def link_addresses(records: pl.DataFrame, base: pl.DataFrame, decisions: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(links for every record, review candidates per distinct text needing review)."""
    keyed = records.with_columns(normalize_address(pl.col("address_text")).alias("address_key"))
    texts = keyed.select("address_key").unique().filter(pl.col("address_key").is_not_null()).with_row_index("_i")
    decided = texts.join(decisions, on="address_key", how="inner").join(base.select("address_id", "building_id"), on="address_id", how="inner")
    todo = texts.join(decided.select("_i"), on="_i", how="anti")
    parsed = parse_frame(todo.rename({"address_key": "text"}), "text").with_columns(todo["_i"])
    links, candidates = match_parsed(parsed, base)
    by_text = pl.concat(
        [
            links.select("_i", "address_id", "building_id", "score", "method", "decision"),
            decided.select("_i", "address_id", "building_id", pl.lit(1.0).alias("score"), pl.lit("review_decision").alias("method"), pl.lit("accept").alias("decision")),
        ]
    ).join(texts, on="_i")
    linked = keyed.join(by_text.drop("_i"), on="address_key", how="left").with_columns(
        pl.col("decision").fill_null("no_candidate"), pl.col("method").fill_null("none"), pl.col("score").fill_null(0.0)
    )
    candidates = candidates.join(texts, on="_i").drop("_i")
    return linked.select(LINK_COLUMNS), candidates


def review_queue(links: pl.DataFrame, candidates: pl.DataFrame, base: pl.DataFrame) -> pl.DataFrame:
    """One row per distinct text to review: how many records use it, and its top candidates."""
    waiting = links.filter(pl.col("decision") == "review").group_by("address_key").agg(
        pl.first("address_text"), pl.len().alias("records"), pl.col("source_system").unique().sort().str.join(",").alias("systems")
    )
    cands = candidates.join(base.select("address_id", "full_text"), on="address_id", how="left").sort("address_key", "_rank")
    cands = cands.group_by("address_key").agg(
        pl.struct("address_id", "building_id", "full_text", pl.col("score").round(3)).alias("candidates")
    )
    return waiting.join(cands, on="address_key", how="left").sort("records", descending=True)
