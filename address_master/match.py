"""Address matching against the unified address base: exact key join first, then fuzzy in blocks.

1. **Exact**: parsed (road, road_no, building, unit, room) equals a base address's, and the base
   address lies inside whatever divisions the text named. Several hits (two compounds sharing a
   road number) are told apart by compound similarity.
2. **Fuzzy** (rapidfuzz), only for what step 1 left: candidates share the numbers
   (road_no, building, unit, room) and the named divisions — a block of a handful of addresses —
   and are scored on road and compound similarity. A text that finds none there is tried on a
   subset of the numbers: without its unit (``3幢301室``: the building's rooms 301 in any unit).
3. **Building level**: when no address can be told — the unit left out and room 301 in two
   units, a mistyped room — but every strong candidate lies in one building (found among the
   candidates above, or among the building's rooms: same road number and building), the answer
   is that ``building_id`` with ``level`` "building" and no ``address_id``.

Scores are in [0, 1]; :data:`THRESHOLDS` say what is accepted, sent for review or rejected.
Rules, weights and thresholds are data here, not buried in code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process

from address_master.numbers import canonical_numbers
from address_master.parse import normalize_address, parse_frame

KEY = ["road", "road_no", "building", "unit", "room"]


@dataclass(frozen=True)
class Thresholds:
    accept: float = 0.75  # at or above: linked automatically …
    margin: float = 0.10  # … provided the runner-up scores at least this much lower
    review: float = 0.50  # at or above (and not accepted): to the review queue with candidates


@dataclass(frozen=True)
class BlockingRule:
    """Candidates for fuzzy scoring: base addresses sharing ``on`` with a parsed address."""

    name: str
    on: tuple[str, ...]
    applies: pl.Expr  # which parsed rows use this rule


BLOCKS = [
    # the numbers survive almost every kind of noise: road typo, missing compound, shorthand
    BlockingRule("numbers", ("road_no", "building", "unit", "room"), pl.col("road_no").is_not_null()),
    # no road number written ("紫金花园3幢2单元301室", or the road without its number): same
    # building/unit/room, compound's first character
    BlockingRule("compound", ("building", "unit", "room", "_c1"), pl.col("road_no").is_null() & pl.col("compound").is_not_null() & pl.col("building").is_not_null()),
]
# for texts the blocks above found nothing for: a subset of the numbers
FALLBACK_BLOCKS = [
    # the unit left out ("…路12号3幢301室"): room 301 of any unit of that building
    BlockingRule("no_unit", ("road_no", "building", "room"), pl.col("unit").is_null() & pl.col("road_no").is_not_null() & pl.col("building").is_not_null() & pl.col("room").is_not_null()),
    # … and with no road number either ("丽舍新村2幢202室"): the compound's first character instead
    BlockingRule("compound_no_unit", ("building", "room", "_c1"), pl.col("unit").is_null() & pl.col("road_no").is_null() & pl.col("compound").is_not_null()
                 & pl.col("building").is_not_null() & pl.col("room").is_not_null()),
]
# the building's rooms, for an answer at building level only (never an address)
BUILDING_BLOCK = BlockingRule("building", ("road_no", "building"), pl.col("road_no").is_not_null() & pl.col("building").is_not_null())


THRESHOLDS = Thresholds()
# Fuzzy score = ROAD_WEIGHT * road similarity + (1 - ROAD_WEIGHT) * compound similarity
# (road similarity alone when either side has no compound).
ROAD_WEIGHT = 0.6
# A match on the compound alone (no road written) is worth a little less than one with a road.
NO_ROAD_FACTOR = 0.95
# Score of an exact-key hit that needed the compound to choose between several base addresses.
EXACT_TIE_BASE = 0.80


def prepare_base(base: pl.DataFrame) -> pl.DataFrame:
    """Base rows (import format) → comparable keys, district code and a natural building_id."""
    text = lambda c: normalize_address(pl.col(c).cast(pl.String))  # noqa: E731
    number = lambda c: canonical_numbers(pl.col(c).cast(pl.String))  # noqa: E731  (301号, 三〇一, 0301 → 301)
    prepared = base.select(
        pl.col("address_id").cast(pl.String),
        pl.col("division_code").cast(pl.String),
        text("road").alias("road"),
        number("road_no").alias("road_no"),
        text("compound").alias("compound"),
        number("building").alias("building"),
        number("unit").alias("unit"),
        number("room").alias("room"),
    )
    if "building_id" in base.columns:
        prepared = prepared.with_columns(base["building_id"].cast(pl.String))
    else:
        prepared = prepared.with_columns(
            pl.concat_str([pl.col("division_code"), pl.col("road"), pl.col("road_no"), pl.col("building").fill_null("-")], separator="|").alias("building_id")
        )
    return prepared


def _inside(parsed_code: pl.Expr, base_code: pl.Expr) -> pl.Expr:
    """The base address lies within the division the text named (or the text named none)."""
    return parsed_code.is_null() | base_code.str.starts_with(parsed_code)


def _similarity(a: pl.Series, b: pl.Series) -> np.ndarray:
    """Pairwise normalised similarity of aligned string columns (nulls score 0)."""
    left = a.fill_null("").to_list()
    right = b.fill_null("").to_list()
    if not left:
        return np.zeros(0)
    return process.cpdist(left, right, scorer=fuzz.ratio, workers=-1).astype(np.float64) / 100.0


def _fuzzy_block(rest: pl.DataFrame, base: pl.DataFrame, rule: BlockingRule) -> pl.DataFrame:
    """Score one blocking rule's candidates: road and compound similarity (see ROAD_WEIGHT)."""
    first_char = pl.col("compound").str.slice(0, 1).alias("_c1")
    rows = rest.filter(rule.applies).with_columns(first_char)
    pairs = rows.join(base.with_columns(first_char), on=list(rule.on), how="inner", nulls_equal=True, suffix="_base").filter(
        _inside(pl.col("division_code"), pl.col("division_code_base"))
    )
    road_sim = _similarity(pairs["road"], pairs["road_base"])
    comp_sim = _similarity(pairs["compound"], pairs["compound_base"])
    both = (pairs["compound"].is_not_null() & pairs["compound_base"].is_not_null()).to_numpy()
    has_road = pairs["road"].is_not_null().to_numpy()
    score = np.where(has_road, np.where(both, ROAD_WEIGHT * road_sim + (1 - ROAD_WEIGHT) * comp_sim, road_sim), NO_ROAD_FACTOR * comp_sim)
    return pairs.select(
        "_i", "address_id", "building_id", pl.Series("score", score, dtype=pl.Float64), pl.lit(f"fuzzy:{rule.name}").alias("method")
    )


def match_parsed(parsed: pl.DataFrame, base: pl.DataFrame, top_k: int = 3) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Match parsed rows (with ``_i``) against a prepared base.

    Returns (links: one row per input ``_i`` with address_id/building_id — null unless
    accepted —, score, method, decision; candidates: up to ``top_k`` scored candidates per
    row that needs review).
    """
    q = parsed.select("_i", "division_code", *KEY, "compound")
    # ---- exact key
    exact = q.filter(pl.col("road").is_not_null() & pl.col("road_no").is_not_null()).join(
        base, on=KEY, how="inner", nulls_equal=True, suffix="_base"
    ).filter(_inside(pl.col("division_code"), pl.col("division_code_base")))
    exact = exact.with_columns(pl.len().over("_i").alias("_n"))
    exact = exact.with_columns(pl.Series("_csim", _similarity(exact["compound"], exact["compound_base"]), dtype=pl.Float64))
    exact = exact.with_columns(
        pl.when(pl.col("_n") == 1).then(pl.lit(1.0)).otherwise(EXACT_TIE_BASE + (1 - EXACT_TIE_BASE) * pl.col("_csim")).alias("score"),
        pl.when(pl.col("_n") == 1).then(pl.lit("exact")).otherwise(pl.lit("exact+compound")).alias("method"),
    )
    # ---- fuzzy, in blocks, for rows the exact step did not place
    done = exact.select("_i").unique()
    rest = q.join(done, on="_i", how="anti")
    fuzzy = pl.concat([_fuzzy_block(rest, base, rule) for rule in BLOCKS])
    nothing = rest.join(fuzzy.select("_i").unique(), on="_i", how="anti")
    fuzzy = pl.concat([fuzzy, *[_fuzzy_block(nothing, base, rule) for rule in FALLBACK_BLOCKS]])

    cols = ["_i", "address_id", "building_id", "score", "method"]
    scored = pl.concat([exact.select(cols), fuzzy.select(cols)]).unique(["_i", "address_id"], keep="first", maintain_order=True)
    ranked = scored.sort(["_i", "score", "address_id"], descending=[False, True, False]).with_columns(
        pl.int_range(pl.len()).over("_i").alias("_rank"),
        pl.col("score").shift(-1).over("_i").alias("_runner_up"),
    )
    best = ranked.filter(pl.col("_rank") == 0)
    # a best candidate that ties its runner-up cannot be decided automatically
    decided = best.with_columns(
        pl.when(pl.col("_runner_up").is_not_null() & (pl.col("_runner_up") > pl.col("score") - THRESHOLDS.margin))
        .then(pl.lit("review"))
        .when(pl.col("score") >= THRESHOLDS.accept).then(pl.lit("accept"))
        .when(pl.col("score") >= THRESHOLDS.review).then(pl.lit("review"))
        .otherwise(pl.lit("reject"))
        .alias("decision")
    )
    links = q.select("_i").join(decided.select(cols + ["decision"]), on="_i", how="left", maintain_order="left").with_columns(
        pl.col("decision").fill_null("no_candidate"),
        pl.col("method").fill_null("none"),
        pl.col("score").fill_null(0.0),
    )
    accepted = pl.col("decision") == "accept"
    links = links.with_columns(
        pl.col("address_id").alias("candidate_id"),  # the best candidate, whatever the decision
        pl.when(accepted).then(pl.col("address_id")).alias("address_id"),
        pl.when(accepted).then(pl.col("building_id")).alias("building_id"),
    )
    links = _building_level(links, ranked, q, base)
    review_ids = links.filter(pl.col("decision") == "review").select("_i")
    candidates = ranked.join(review_ids, on="_i").filter(pl.col("_rank") < top_k).select(cols + ["_rank"])
    return links, candidates


def _building_level(links: pl.DataFrame, ranked: pl.DataFrame, q: pl.DataFrame, base: pl.DataFrame) -> pl.DataFrame:
    """Rows no address was accepted for, answered with a building when one stands out: the best
    candidate building (its best room's score) reaches ``accept`` and every other building scores
    at least ``margin`` lower. Adds ``level``: address / building / null."""
    open_rows = links.filter(pl.col("decision") != "accept").select("_i")
    cols = ["_i", "building_id", "score"]
    candidates = pl.concat([
        ranked.join(open_rows, on="_i", how="semi").select(cols),
        _fuzzy_block(q.join(open_rows, on="_i", how="semi"), base, BUILDING_BLOCK).select(cols),
    ])
    buildings = (
        candidates.filter(pl.col("building_id").is_not_null()).group_by("_i", "building_id").agg(pl.col("score").max())
        .sort(["_i", "score", "building_id"], descending=[False, True, False])
        .with_columns(pl.int_range(pl.len()).over("_i").alias("_rank"), pl.col("score").shift(-1).over("_i").alias("_runner_up"))
    )
    chosen = buildings.filter(
        (pl.col("_rank") == 0) & (pl.col("score") >= THRESHOLDS.accept)
        & (pl.col("_runner_up").is_null() | (pl.col("_runner_up") <= pl.col("score") - THRESHOLDS.margin))
    ).select("_i", pl.col("building_id").alias("_building"), pl.col("score").alias("_building_score"))
    at_building = pl.col("_building").is_not_null()
    return links.join(chosen, on="_i", how="left", maintain_order="left").with_columns(
        pl.when(at_building).then(pl.col("_building")).otherwise(pl.col("building_id")).alias("building_id"),
        pl.when(at_building).then(pl.col("_building_score")).otherwise(pl.col("score")).alias("score"),
        pl.when(at_building).then(pl.lit("fuzzy:building")).otherwise(pl.col("method")).alias("method"),
        pl.when(at_building).then(pl.lit("building")).otherwise(pl.col("decision")).alias("decision"),
        pl.when(pl.col("decision") == "accept").then(pl.lit("address")).when(at_building).then(pl.lit("building")).alias("level"),
    ).drop("_building", "_building_score")


def match_addresses(addresses: pl.Series | list[str], base: pl.DataFrame) -> pl.DataFrame:
    """Parse and match raw address strings; one row per input in order (prepared ``base``)."""
    frame = pl.DataFrame({"address": addresses}, schema={"address": pl.String})
    parsed = parse_frame(frame, "address", base=base).with_row_index("_i")
    links, _ = match_parsed(parsed, base)
    return links.sort("_i").select("address_id", "building_id", "level", "score", "method", "decision", "candidate_id")
