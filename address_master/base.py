"""The unified address base: validate an import, attach all five levels, derive buildings.

Import format (CSV, UTF-8): ``address_id,division_code,road,road_no,compound,building,unit,room``
plus optional ``full_text``; ``division_code`` is the 12-digit community code. Numbers are taken
the way real 标准地址 exports write them — with or without their words (301号, 1幢/1栋/1号楼,
1单元, 101室), in Chinese numerals, with letters (A幢, 商铺3) — and blank where a level does not
exist (a villa has no unit). Matching keys are canonical (:mod:`address_master.numbers`); the
standard text keeps the values as written. Only truly unusable rows are returned, each with its
line, column and reason, instead of being loaded.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from address_master.match import prepare_base
from address_master.numbers import canonical_numbers
from pipelines.reference import division_names, divisions

BASE_COLUMNS = ["address_id", "division_code", "road", "road_no", "compound", "building", "unit", "room"]
NUMBER_COLUMNS = ("road_no", "building", "unit", "room")
LEVELS = {"province": 2, "city": 4, "district": 6, "street": 9, "community": 12}


class AddressBaseError(Exception):
    """The file cannot be used as an address base at all (missing columns, unreadable)."""


def read_base_csv(path: Path | str, encoding: str = "utf-8") -> pl.DataFrame:
    """Read an import file as strings, keeping the CSV line number in ``line``.

    Strict: a wrong encoding (the usual wrong one named), a repeated or missing column, a file
    with no rows, a ragged or unterminated-quote line are :class:`AddressBaseError` naming the file
    and line — a base is reference data, nothing in it is guessed."""
    from pipelines.sources.readers import ROW, SourceFileError, read_csv_strict

    path = Path(path)
    try:
        df = read_csv_strict(path, encoding)
    except SourceFileError as err:
        raise AddressBaseError(str(err)) from None
    missing = [c for c in BASE_COLUMNS if c not in df.columns]
    if missing:
        raise AddressBaseError(f"{path}: line 1: missing column(s) {', '.join(missing)} (need {','.join(BASE_COLUMNS)})")
    blank_to_null = [pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c)).alias(c) for c in df.columns if c != ROW]
    return df.select(pl.col(ROW).cast(pl.Int64).alias("line"), *blank_to_null)


def validate_base(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split an import into (valid rows with all five levels, rejected rows with reasons)."""
    communities = divisions().filter(pl.col("level") == 5).select(pl.col("code").alias("division_code"), pl.lit(True).alias("_known"))
    checked = df.join(communities, on="division_code", how="left", maintain_order="left")
    blank = lambda c: pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "")  # noqa: E731
    # a number is usable when its canonical form has a digit, or is a letter or 甲乙丙丁 (A幢, 乙)
    usable = lambda c: canonical_numbers(pl.col(c)).str.contains(r"\d|^[A-Z甲乙丙丁戊己庚辛]{1,2}$")  # noqa: E731
    not_number = lambda c: ~blank(c) & ~usable(c).fill_null(False)  # noqa: E731
    rules = [
        ("address_id", blank("address_id"), "address_id is empty"),
        ("address_id", ~blank("address_id") & pl.col("address_id").is_duplicated(), "address_id is not unique"),
        ("division_code", ~pl.col("division_code").fill_null("").str.contains(r"^\d{12}$"), "division_code is not a 12-digit community code"),
        ("division_code", pl.col("division_code").fill_null("").str.contains(r"^\d{12}$") & pl.col("_known").is_null(), "division_code is not in the Zhejiang division table"),
        ("road", blank("road") & blank("compound"), "neither road nor compound is given"),
        ("road_no", not_number("road_no"), "road_no is not a number"),
        ("building", not_number("building"), "building is not a number"),
        ("unit", not_number("unit"), "unit is not a number"),
        ("room", not_number("room"), "room is not a number"),
    ]
    reasons = pl.concat_str([pl.when(cond).then(pl.lit(f"{col}: {why}")) for col, cond, why in rules], separator="; ", ignore_nulls=True)
    checked = checked.with_columns(pl.when(reasons == "").then(None).otherwise(reasons).alias("reason"))
    rejected = checked.filter(pl.col("reason").is_not_null()).select("line", "address_id", "reason")
    valid = checked.filter(pl.col("reason").is_null()).drop("_known", "reason")
    return with_levels(valid), rejected


def with_levels(valid: pl.DataFrame) -> pl.DataFrame:
    """Prepared matching keys plus every level's code and name and the standard full text."""
    names = division_names()
    written = [pl.col(c).cast(pl.String).alias(f"_written_{c}") for c in NUMBER_COLUMNS]
    prepared = prepare_base(valid).with_columns(valid.select(written))
    levels = [
        expr
        for level, length in LEVELS.items()
        for expr in (
            pl.col("division_code").str.slice(0, length).alias(f"{level}_code"),
            pl.col("division_code").str.slice(0, length).replace_strict(names, default=None).alias(f"{level}_name"),
        )
    ]
    out = prepared.with_columns(levels)
    standard = pl.concat_str(
        [
            *[pl.col(f"{lv}_name") for lv in LEVELS],
            pl.col("road").fill_null(""), _written("road_no", "号"), pl.col("compound").fill_null(""),
            _written("building", "幢"), _written("unit", "单元"), _written("room", "室"),
        ]
    )
    full_text = valid["full_text"] if "full_text" in valid.columns else None
    out = out.with_columns(standard.alias("full_text")).drop(f"_written_{c}" for c in NUMBER_COLUMNS)
    if full_text is not None:
        out = out.with_columns(pl.coalesce(pl.Series("_given", full_text).replace("", None), pl.col("full_text")).alias("full_text"))
    return out


def _written(column: str, word: str) -> pl.Expr:
    """A number as the base wrote it, its word added when it came without one (12 → 12幢, 1号楼 stays)."""
    value = pl.col(f"_written_{column}").str.strip_chars()
    return pl.when(value.is_null()).then(pl.lit("")).when(value.str.contains(r"[\d A-Za-z]$")).then(value + word).otherwise(value)


def buildings_of(addresses: pl.DataFrame) -> pl.DataFrame:
    """One row per building with its location and how many addresses (rooms) it holds."""
    return addresses.group_by("building_id", maintain_order=True).agg(
        pl.first("division_code", "road", "road_no", "compound", "building"),
        pl.len().alias("addresses"),
    )


MAX_LOSS = 0.05  # default share of the base in force a new delivery may drop or re-key


def replacement_problems(current_ids: pl.Series | None, new_ids: pl.Series, max_loss: float = MAX_LOSS) -> list[str]:
    """Why a new base must not replace the one in force (empty list: it may).

    A delivery with no valid rows, or one that drops (or re-keys: the old ids are gone either
    way) more than ``max_loss`` of the addresses in force, is refused: every person and record
    would otherwise be re-linked against a broken reference."""
    if new_ids.len() == 0:
        return ["the new base has no valid rows"]
    if current_ids is None or current_ids.len() == 0:
        return []
    kept = current_ids.is_in(new_ids.implode()).sum()
    lost = 1 - kept / current_ids.len()
    if lost > max_loss:
        return [f"{lost:.1%} of the {current_ids.len():,} addresses in force are missing from the new base "
                f"({new_ids.len():,} rows; at most {max_loss:.0%} may go at once): dropped or re-keyed en masse"]
    return []


def load_base(path: Path | str, encoding: str = "utf-8") -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Read and validate an import file: (addresses, buildings, rejected rows)."""
    valid, rejected = validate_base(read_base_csv(path, encoding))
    return valid, buildings_of(valid), rejected
