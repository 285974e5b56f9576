"""Person resolution: every record about a person → one ``person_id``.

Rules, in order (each a vectorised join, never a loop over records):

1. ``id`` — records with a checksum-valid 18-digit ID (15-digit IDs already upgraded) share the
   ID's person. Guard: a record whose name disagrees completely with the rest of its ID's records
   (an ID typo that lands on someone else's valid ID) is detached and treated as having no ID.
2. ``id_first17`` — a record whose ID fails only its check character joins the one person whose
   ID has the same first 17 characters.
3. ``fuzzy`` — the rest (no ID, corrupt ID, detached) are scored against the people of rules 1–2
   in blocks: same name key + birth date, same pinyin + birth date, same name + place, same birth
   date + place. Field agreements add the weights in :data:`WEIGHTS`; the best candidate is taken
   when it scores at least :data:`ACCEPT` and beats the runner-up by :data:`MARGIN` (two people
   with one name in one building, or twins, stay apart).
4. ``new`` — records still unplaced form new people among themselves by name key + birth date
   (or name key + room when the birth date is unknown).
"""

from __future__ import annotations

import functools
import hashlib
from typing import TYPE_CHECKING

import polars as pl
from rapidfuzz import fuzz, process

from pipelines.dates import parse_date_expr
from pipelines.ids import clean_id_expr, id_birth_date_expr, id_sex_expr, id_to_18_expr, id_valid_expr
from pipelines.text import normalize_compact

if TYPE_CHECKING:
    from address_master.parse import TextParsers

# log-odds style weights per comparison outcome (visible data, not buried in code)
WEIGHTS = {
    "name_exact": 6.0,
    "name_pinyin": 4.5,
    "name_similar": 1.5,  # rapidfuzz ratio ≥ 0.6
    "name_different": -6.0,
    "birth_exact": 8.0,
    "birth_different": -12.0,
    "sex_same": 0.5,
    "sex_different": -8.0,
    "room_same": 5.0,
    "building_same": 3.0,
    "room_different": -5.0,  # both rooms known and none shared: name + birth alone is weak in a city
}
ACCEPT = 10.0
MARGIN = 3.0
# a record no rule placed whose best candidate scores at least this goes to the data officers'
# review queue (name + birth with a one-character difference, name + building, twins' birth + room)
REVIEW_FLOOR = 7.0
REVIEW_CANDIDATES = 3
NAME_SIMILAR = 0.6
# an ID (or its first 17 digits) places a record only if its name is more than half the same as
# the ID's own name (or sounds the same): 张明 / 张伟 share a surname and exactly half — relatives
# sharing one (mistyped) number stay apart; a one-character typo in a 3-character name still joins
SAME_PERSON_NAME = 0.5
RECORD_COLUMNS = ["record_id", "source", "name", "id_number", "birth_date", "sex", "room_key", "building_key"]


# ------------------------------------------------------------------------ preparation
@functools.cache
def _pinyin_table() -> dict[str, str]:
    """Every CJK character's toneless pinyin (pypinyin's table), for homophone folding."""
    from pypinyin import Style, lazy_pinyin

    chars = [chr(c) for c in range(0x4E00, 0x9FA6)]
    readings = lazy_pinyin(chars, style=Style.NORMAL, errors="default")
    return {ch: py for ch, py in zip(chars, readings) if py and py != ch}


def name_key_expr(name: pl.Expr) -> pl.Expr:
    """Names compared as written: simplified, half-width, no spaces or minority-name separators."""
    key = normalize_compact(name).str.replace_all(r"[·•・．.\-]", "")
    return pl.when(key.str.contains(r"^[\p{Han}A-Za-z]+$")).then(key)


def pinyin_key_expr(name_key: pl.Expr) -> pl.Expr:
    """Name as toneless pinyin syllables: 张伟 and 章伟 (a homophone typo) share 'zhang wei'."""
    table = _pinyin_table()
    return name_key.str.replace_many(list(table), [f"{v} " for v in table.values()]).str.strip_chars()


def with_pinyin_keys(frame: pl.DataFrame, name_key: str = "name_key", out: str = "pinyin_key") -> pl.DataFrame:
    """Add :func:`pinyin_key_expr` of ``name_key``, computed once per distinct name (names repeat:
    a million records carry a few hundred thousand names) and joined back."""
    names = frame.select(pl.col(name_key).unique()).drop_nulls()
    keys = names.with_columns(pinyin_key_expr(pl.col(name_key)).alias(out))
    return frame.join(keys, on=name_key, how="left", maintain_order="left")


def prepare_records(df: pl.DataFrame) -> pl.DataFrame:
    """Raw person records (``RECORD_COLUMNS``; any value may be dirty or missing) → comparison keys."""
    cleaned = clean_id_expr(normalize_compact(pl.col("id_number").cast(pl.String)))
    out = df.with_columns(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_r"),
        id_to_18_expr(cleaned).alias("id18"),
        name_key_expr(pl.col("name")).alias("name_key"),
    )
    out = with_pinyin_keys(out).with_columns(
        id_valid_expr(pl.col("id18")).alias("id_valid"),
        pl.col("id18").str.slice(0, 17).alias("id17"),
    )
    birth = pl.col("birth_date")
    if df.schema.get("birth_date") != pl.Date:  # written dates repeat: each distinct one is parsed once
        dates = df.select(pl.col("birth_date").unique()).with_columns(parse_date_expr(pl.col("birth_date")).alias("_birth"))
        out = out.join(dates, on="birth_date", how="left", nulls_equal=True, maintain_order="left")
        birth = pl.col("_birth")
    sex = pl.col("sex").cast(pl.String).replace({"1": "男", "2": "女", "M": "男", "F": "女", "男性": "男", "女性": "女"})
    sex = pl.when(sex.is_in(["男", "女"])).then(sex)
    from_id = pl.col("id_valid")
    return out.with_columns(
        birth.alias("birth_given"),
        sex.alias("sex_given"),
        pl.coalesce(birth, pl.when(from_id).then(id_birth_date_expr(pl.col("id18")))).alias("birth"),
        pl.coalesce(sex, pl.when(from_id).then(id_sex_expr(pl.col("id18")))).alias("sex_norm"),
    ).drop("_birth", strict=False)


# ---------------------------------------------------------------------------- rules
def stable_ids(prefix: str, values: pl.Series) -> pl.Series:
    """Stable ids for clusters: a short digest of each cluster's anchor (ID, name|birth|room, …).

    One digest per cluster (not per record); the same anchor gives the same id in every run.
    """
    digests = [prefix + hashlib.blake2b(v.encode(), digest_size=8).hexdigest() for v in values.to_list()]
    return pl.Series(digests, dtype=pl.String)


def _id_rule(rec: pl.DataFrame) -> pl.DataFrame:
    """Rule 1 with the wrong-ID guard: (_r, anchor) for records placed by their valid ID."""
    valid = rec.filter(pl.col("id_valid") & pl.col("name_key").is_not_null())
    # the ID's "own" name: its most frequent name key
    anchor_name = (
        valid.group_by("id18", "name_key").len()
        .sort(["id18", "len", "name_key"], descending=[False, True, False])
        .unique("id18", keep="first").select("id18", pl.col("name_key").alias("_anchor_name"))
    )
    valid = valid.join(anchor_name, on="id18")
    sim = process.cpdist(valid["name_key"].to_list(), valid["_anchor_name"].to_list(), scorer=fuzz.ratio, workers=-1)
    valid = valid.with_columns(pl.Series("_sim", sim, dtype=pl.Float64) / 100)
    anchor_pinyin = valid.filter(pl.col("name_key") == pl.col("_anchor_name")).select("id18", pl.col("pinyin_key").alias("_anchor_py")).unique("id18")
    valid = valid.join(anchor_pinyin, on="id18", how="left")
    agrees = ((pl.col("_sim") > SAME_PERSON_NAME) | (pl.col("pinyin_key") == pl.col("_anchor_py"))) & _written_agrees_with_id()
    kept = valid.filter(agrees)
    return kept.select("_r", pl.concat_str([pl.lit("id:"), pl.col("id18")]).alias("anchor"), pl.lit("id").alias("rule"), pl.lit(1.0).alias("score"))


def _written_agrees_with_id() -> pl.Expr:
    """The birth date and sex written on the record (when any) are the ones the ID encodes."""
    birth_ok = pl.col("birth_given").is_null() | (pl.col("birth_given") == id_birth_date_expr(pl.col("id18")))
    sex_ok = pl.col("sex_given").is_null() | (pl.col("sex_given") == id_sex_expr(pl.col("id18")))
    return (birth_ok & sex_ok).fill_null(True)


def _first17_rule(rec: pl.DataFrame, placed: pl.DataFrame) -> pl.DataFrame:
    ids = rec.join(placed, on="_r").select("id17", "anchor").unique()
    unique17 = ids.group_by("id17").agg(pl.col("anchor").first(), pl.len().alias("_n")).filter(pl.col("_n") == 1)
    names = rec.join(placed, on="_r").select("anchor", pl.col("name_key").alias("_p_name"), pl.col("pinyin_key").alias("_p_py")).unique()
    todo = rec.join(placed, on="_r", how="anti").filter(
        ~pl.col("id_valid") & pl.col("id18").str.contains(r"^\d{17}[\dX]$") & _written_agrees_with_id()
    )
    cand = todo.join(unique17, on="id17").join(names, on="anchor", how="left")
    # the same guard as rule 1: a name that matches none of the person's names is someone else's
    sim = process.cpdist(cand["name_key"].fill_null("").to_list(), cand["_p_name"].fill_null("").to_list(), scorer=fuzz.ratio, workers=-1)
    cand = cand.with_columns(pl.Series("_sim", sim, dtype=pl.Float64) / 100)
    agrees = pl.col("name_key").is_null() | (pl.col("_sim") > SAME_PERSON_NAME) | (pl.col("pinyin_key") == pl.col("_p_py"))
    kept = cand.filter(agrees).select("_r", "anchor").sort("_r", "anchor").unique("_r", keep="first")
    return kept.select("_r", "anchor", pl.lit("id_first17").alias("rule"), pl.lit(0.95).alias("score"))


def _people(rec: pl.DataFrame, placed: pl.DataFrame) -> pl.DataFrame:
    """Known people (anchor) with every name, pinyin, birth, sex and place their records show."""
    return rec.join(placed.select("_r", "anchor"), on="_r").select(
        "anchor", "name_key", "pinyin_key", "birth", "sex_norm", "room_key", "building_key"
    ).unique()


def _fuzzy_rule(rec: pl.DataFrame, people: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Records placed by weighted evidence (_r, anchor, rule, score), and for the records left
    unplaced their best candidates scoring at least REVIEW_FLOOR (_r, anchor, evidence)."""
    cols = ["name_key", "pinyin_key", "birth", "sex_norm", "room_key", "building_key"]
    left = rec.select("_r", *cols)
    blocks = [["name_key", "birth"], ["pinyin_key", "birth"], ["name_key", "room_key"], ["name_key", "building_key"], ["birth", "room_key"]]
    pairs = pl.concat(
        [
            left.filter(pl.all_horizontal(pl.col(b).is_not_null() for b in block)).join(
                people, on=block, how="inner", suffix="_p"
            ).select(
                "_r", "anchor",
                *[pl.col(c).alias(f"{c}_rec") for c in cols],
                *[(pl.col(c) if c in block else pl.col(f"{c}_p")).alias(f"{c}_p") for c in cols],
            )
            for block in blocks
        ]
    ).unique(["_r", "anchor", "name_key_p", "birth_p", "room_key_p", "building_key_p"])
    if pairs.height == 0:
        return (pl.DataFrame(schema={"_r": pl.UInt32, "anchor": pl.String, "rule": pl.String, "score": pl.Float64}),
                pl.DataFrame(schema={"_r": pl.UInt32, "anchor": pl.String, "evidence": pl.Float64}))
    sim = process.cpdist(pairs["name_key_rec"].fill_null("").to_list(), pairs["name_key_p"].fill_null("").to_list(), scorer=fuzz.ratio, workers=-1) / 100
    pairs = pairs.with_columns(pl.Series("_sim", sim, dtype=pl.Float64))
    w = WEIGHTS
    name = (
        pl.when(pl.col("name_key_rec") == pl.col("name_key_p")).then(w["name_exact"])
        .when(pl.col("pinyin_key_rec") == pl.col("pinyin_key_p")).then(w["name_pinyin"])
        .when(pl.col("_sim") >= NAME_SIMILAR).then(w["name_similar"])
        .when(pl.col("name_key_rec").is_not_null()).then(w["name_different"]).otherwise(0.0)
    )
    birth = pl.when(pl.col("birth_rec").is_null() | pl.col("birth_p").is_null()).then(0.0).when(pl.col("birth_rec") == pl.col("birth_p")).then(w["birth_exact"]).otherwise(w["birth_different"])
    sex = pl.when(pl.col("sex_norm_rec").is_null() | pl.col("sex_norm_p").is_null()).then(0.0).when(pl.col("sex_norm_rec") == pl.col("sex_norm_p")).then(w["sex_same"]).otherwise(w["sex_different"])
    place = (
        pl.when(pl.col("room_key_rec").is_not_null() & (pl.col("room_key_rec") == pl.col("room_key_p"))).then(w["room_same"])
        .when(pl.col("building_key_rec").is_not_null() & (pl.col("building_key_rec") == pl.col("building_key_p"))).then(w["building_same"])
        .when(pl.col("room_key_rec").is_not_null() & pl.col("room_key_p").is_not_null()).then(w["room_different"])
        .otherwise(0.0)
    )
    scored = pairs.with_columns((name + birth + sex + place).alias("score"))
    # a person may show several names/places: keep each record-person pair's best evidence
    best = scored.group_by("_r", "anchor").agg(pl.col("score").max())
    ranked = best.sort(["_r", "score", "anchor"], descending=[False, True, False]).with_columns(
        pl.col("score").shift(-1).over("_r").alias("_runner_up"), pl.int_range(pl.len()).over("_r").alias("_rank")
    )
    chosen = ranked.filter(
        (pl.col("_rank") == 0) & (pl.col("score") >= ACCEPT) & (pl.col("_runner_up").is_null() | (pl.col("score") - pl.col("_runner_up") >= MARGIN))
    )
    near = ranked.join(chosen, on="_r", how="anti").filter((pl.col("_rank") < REVIEW_CANDIDATES) & (pl.col("score") >= REVIEW_FLOOR))
    return (chosen.select("_r", "anchor", pl.lit("fuzzy").alias("rule"), (pl.col("score") / 25).clip(0, 1).alias("score")),
            near.select("_r", "anchor", pl.col("score").alias("evidence")))


def _new_people(rec: pl.DataFrame) -> pl.DataFrame:
    """Records no rule placed: people of their own, grouped by name + birth (or name + room)."""
    anchor = (
        pl.when(pl.col("name_key").is_not_null() & pl.col("birth").is_not_null())
        .then(pl.concat_str([pl.lit("nb:"), pl.col("name_key"), pl.col("birth").cast(pl.String)], separator="|"))
        .when(pl.col("name_key").is_not_null() & pl.col("room_key").is_not_null())
        .then(pl.concat_str([pl.lit("nr:"), pl.col("name_key"), pl.col("room_key")], separator="|"))
        .otherwise(pl.concat_str([pl.lit("rec:"), pl.col("record_id").cast(pl.String)]))
    )
    return rec.select("_r", anchor.alias("anchor"), pl.lit("new").alias("rule"), pl.lit(0.5).alias("score"))


def record_key_expr() -> pl.Expr:
    """What a review decision is kept by: the system and the record's ID, name and birth as
    compared — the same row in a later delivery (a new batch, a new record id) keeps its decision."""
    return pl.concat_str([pl.col("source"), *[pl.col(c).cast(pl.String).fill_null("") for c in ("id18", "name_key", "birth")]], separator="|")


def place_by_id(prepared: pl.DataFrame) -> pl.DataFrame:
    """Records placed by their ID (rules 1 and 2, with their guards): _r, anchor, rule, score. No
    address is looked at: a caller may run this while the addresses are still being parsed."""
    placed = _id_rule(prepared)
    return pl.concat([placed, _first17_rule(prepared, placed)])


def resolve_persons(records: pl.DataFrame, prepared: pl.DataFrame | None = None, decisions: pl.DataFrame | None = None,
                    by_id: pl.DataFrame | None = None) -> pl.DataFrame:
    """Resolve person records (``RECORD_COLUMNS``) → one row per record, in input order:
    record_id, person_id, rule (id | id_first17 | fuzzy | new | review), score.

    ``prepared``: ``prepare_records(records)`` when the caller has it already, and ``by_id``:
    ``place_by_id(prepared)``. ``decisions``: data officers' decisions in force (record_key, action,
    person_id): ``same`` puts the record with that person (rule ``review``)."""
    return resolve_with_review(records, prepared, decisions, by_id)[0]


def resolve_with_review(records: pl.DataFrame, prepared: pl.DataFrame | None = None, decisions: pl.DataFrame | None = None,
                        by_id: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:func:`resolve_persons`, and the review queue: for each record left a person of its own
    whose best candidates score at least ``REVIEW_FLOOR`` (and no decision was made on it),
    record_id, record_key, person_id (its own), candidate_person_id, evidence (log-odds), rank."""
    rec = prepared if prepared is not None else prepare_records(records)
    rec = rec.with_columns(record_key_expr().alias("record_key"))
    placed = by_id if by_id is not None else place_by_id(rec)
    rest = rec.join(placed, on="_r", how="anti")
    # a valid ID the guard detached belongs to someone else: trust only what was written
    rest = rest.with_columns(
        pl.when(pl.col("id_valid")).then(pl.col("birth_given")).otherwise(pl.col("birth")).alias("birth"),
        pl.when(pl.col("id_valid")).then(pl.col("sex_given")).otherwise(pl.col("sex_norm")).alias("sex_norm"),
    )
    fuzzy, near = _fuzzy_rule(rest, _people(rec, placed))
    placed = pl.concat([placed, fuzzy])
    rest = rest.join(fuzzy, on="_r", how="anti")
    placed = pl.concat([placed, _new_people(rest)])
    anchors = placed.select("anchor").unique().sort("anchor")
    anchors = anchors.with_columns(stable_ids("P", anchors["anchor"]).alias("person_id"))
    out = rec.select("_r", "record_id", "record_key").join(placed.join(anchors, on="anchor"), on="_r", how="left").sort("_r")
    decided = pl.DataFrame(schema={"record_key": pl.String, "action": pl.String, "person_id": pl.String}) if decisions is None else decisions.select("record_key", "action", "person_id")
    same = decided.filter(pl.col("action") == "same").select("record_key", pl.col("person_id").alias("_decided"))
    by_officer = pl.col("_decided").is_not_null()
    out = out.join(same, on="record_key", how="left").with_columns(
        pl.coalesce("_decided", "person_id").alias("person_id"),
        pl.when(by_officer).then(pl.lit("review")).otherwise(pl.col("rule")).alias("rule"),
        pl.when(by_officer).then(pl.lit(1.0)).otherwise(pl.col("score")).alias("score"),
    )
    near = near.with_columns(stable_ids("P", near["anchor"]).alias("candidate_person_id"))
    queue = (
        near.join(out.select("_r", "record_id", "record_key", "person_id"), on="_r")
        .join(decided, on="record_key", how="anti")
        .sort(["_r", "evidence", "candidate_person_id"], descending=[False, True, False])
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.UInt32).over("_r").alias("rank"))
        .select("record_id", "record_key", "person_id", "candidate_person_id", pl.col("evidence").round(2), "rank")
    )
    return out.select("record_id", "person_id", "rule", pl.col("score").round(3)), queue


def pairwise_scores(predicted: pl.Series, truth: pl.Series) -> dict[str, float]:
    """Pairwise precision / recall / F1 of a clustering against true entity ids (vectorised)."""
    frame = pl.DataFrame({"p": predicted, "t": truth})
    pairs = lambda counts: float((counts * (counts - 1) / 2).sum())  # noqa: E731
    predicted_pairs = pairs(frame.group_by("p").len()["len"].cast(pl.Float64))
    true_pairs = pairs(frame.group_by("t").len()["len"].cast(pl.Float64))
    both = pairs(frame.group_by("p", "t").len()["len"].cast(pl.Float64))
    precision = both / predicted_pairs if predicted_pairs else 1.0
    recall = both / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_pairs": true_pairs, "predicted_pairs": predicted_pairs}


def place_keys_from_text(addresses: pl.Series, parsers: TextParsers | None = None) -> pl.DataFrame:
    """Room and building keys from raw address text (when no address base is at hand); each
    distinct text is parsed once, by ``parsers`` when given (several processes)."""
    from address_master.parse import TextParsers

    frame = pl.DataFrame({"a": addresses}, schema={"a": pl.String})
    parsed = (parsers or TextParsers()).parse(frame["a"])  # family members share an address: parse each text once
    street = pl.coalesce(pl.concat_str([pl.col("road"), pl.col("road_no")], separator="|"), pl.col("compound"))
    building = pl.when(street.is_not_null()).then(pl.concat_str([street, pl.col("building").fill_null("-")], separator="|"))
    room = pl.when(pl.col("room").is_not_null()).then(pl.concat_str([building, pl.col("unit").fill_null("-"), pl.col("room")], separator="|"))
    keys = parsed.select(pl.col("text").alias("a"), room.alias("room_key"), building.alias("building_key"))
    return frame.join(keys, on="a", how="left", maintain_order="left").select("room_key", "building_key")


__all__ = ["resolve_persons", "place_by_id", "resolve_with_review", "record_key_expr", "REVIEW_FLOOR", "prepare_records", "pairwise_scores", "place_keys_from_text", "stable_ids", "WEIGHTS", "ACCEPT", "MARGIN"]
