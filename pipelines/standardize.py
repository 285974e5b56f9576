"""Bronze → silver standardisation: canonical names and types, or quarantine with a reason.

Everything here is a polars expression over whole columns. Each canonical field's parser kind
(from the catalogue) yields a value, optional extra columns (``_valid``, ``_raw``) and an
"unreadable" flag; a row with any unreadable value, a missing required field or a row the reader
could not split goes to quarantine, every other row to silver. The two outputs always add up to
the input (row conservation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from warehouse.catalog import DATE_ORDER, MAX_AGE, PLAUSIBLE
from warehouse.catalog import field as catalog_field
from pipelines.dates import parse_date_expr, parse_datetime_expr
from pipelines.ids import clean_id_expr, credit_valid_expr, id_to_18_expr, id_valid_expr
from pipelines.sources.readers import LINES, MALFORMED, RAW, ROW
from pipelines.sources.spec import SourceSpec
from pipelines.text import empty_to_null, in_slices, normalize_compact, normalize_text

LINEAGE_BRONZE = ["_system", "_batch_id", "_source_file", "_file_hash", ROW, "_ingested_at", "_replay_of_batch"]
LINEAGE_SILVER = {
    "_system": "source_system",
    "_batch_id": "batch_id",
    "_source_file": "source_file",
    ROW: "source_row",
    "_ingested_at": "ingested_at",
}
QUARANTINE_COLUMNS = [
    "source_system",
    "batch_id",
    "source_file",
    "source_row",
    "columns",
    "reason",
    "raw_values",
]

_SEX_MALE = ["男", "男性", "M", "m", "1", "male", "Male"]
_SEX_FEMALE = ["女", "女性", "F", "f", "2", "female", "Female"]
_SEX_UNKNOWN = ["未知", "0", "9", "未说明"]


@dataclass
class Parsed:
    value: pl.Expr
    unreadable: pl.Expr = field(default_factory=lambda: pl.lit(False))
    # Derived from the parsed value after it is materialised (kept out of the value's
    # expression tree: an 18-character checksum over a nested expression grows quadratically).
    derived: dict[str, pl.Expr] = field(default_factory=dict)
    keep_raw: bool = False


_COMPACT_KINDS = {"code", "address", "name", "id_number", "credit_code", "sex", "amount", "integer", "phone", "division_code"}
_NO_END_DATE = ["长期", "永久", "无固定期限", "长期有效"]


def _blank_to_null(raw: pl.Expr) -> pl.Expr:
    return pl.when(raw.str.strip_chars() == "").then(None).otherwise(raw)


def _failed(raw: pl.Expr, value: pl.Expr) -> pl.Expr:
    return raw.is_not_null() & value.is_null()


def normalizer(kind: str, raw: pl.Expr) -> pl.Expr:
    """First pass: half-width, simplified, whitespace — compact for codes, names, numbers."""
    return normalize_compact(raw) if kind in _COMPACT_KINDS else normalize_text(raw)


def parse(kind: str, raw: pl.Expr, norm: pl.Expr, name: str, typed_source: bool = False) -> Parsed:
    """Parse one field by its catalogue kind from its raw and normalised text (``typed_source``:
    delivered typed, as numbers or as a Date column, and taken as is)."""
    if kind in ("amount", "integer") and typed_source:
        value = raw.cast(pl.Float64 if kind == "amount" else pl.Int64, strict=False)
        return Parsed(value, _failed(raw, value))
    if kind == "date" and typed_source:  # a Date column: the value as delivered
        return Parsed(raw, pl.lit(False))
    if kind in ("text", "address"):
        return Parsed(norm, keep_raw=kind == "address")
    if kind == "code":
        return Parsed(norm.str.to_uppercase())
    if kind == "name":
        value = norm.str.replace_all(r"[•・．.]", "·")
        readable = value.str.contains(r"^[\p{Han}A-Za-z·]+$")
        return Parsed(value, raw.is_not_null() & ~readable.fill_null(False))
    if kind == "id_number":
        cleaned = clean_id_expr(norm)
        shaped = cleaned.str.contains(r"^\d{14,17}[\dX]$")
        return Parsed(
            id_to_18_expr(cleaned),
            raw.is_not_null() & ~shaped.fill_null(False),
            {f"{name}_valid": id_valid_expr(pl.col(name))},
            keep_raw=True,
        )
    if kind == "credit_code":
        cleaned = clean_id_expr(norm)
        shaped = cleaned.str.contains(r"^[0-9A-Z]{18}$")
        return Parsed(
            cleaned,
            raw.is_not_null() & ~shaped.fill_null(False),
            {f"{name}_valid": credit_valid_expr(pl.col(name))},
            keep_raw=True,
        )
    if kind == "sex":
        value = pl.when(norm.is_in(_SEX_MALE)).then(pl.lit("男")).when(norm.is_in(_SEX_FEMALE)).then(pl.lit("女"))
        known = norm.is_in(_SEX_MALE + _SEX_FEMALE + _SEX_UNKNOWN)
        return Parsed(value, norm.is_not_null() & ~known)
    if kind == "date":
        value = parse_date_expr(norm)
        return Parsed(value, _failed(raw, value) & ~norm.is_in(_NO_END_DATE))
    if kind == "datetime":
        value = parse_datetime_expr(norm)
        return Parsed(value, _failed(raw, value))
    if kind == "amount":
        value = norm.str.replace_all(r"万元|人民币|[,，元¥]", "").cast(pl.Float64, strict=False)
        return Parsed(value, _failed(raw, value))
    if kind == "integer":
        cleaned = norm.str.replace_all(r"[人岁个处项]$", "").str.replace(r"\.0+$", "")
        value = cleaned.cast(pl.Int64, strict=False)
        return Parsed(value, _failed(raw, value))
    if kind == "phone":
        cleaned = norm.str.replace_all(r"[\-()（）+]", "")
        ok = cleaned.str.contains(r"^\d{7,13}$").fill_null(False)
        return Parsed(pl.when(ok).then(cleaned), raw.is_not_null() & ~ok)
    if kind == "division_code":
        ok = norm.str.contains(r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12})$").fill_null(False)
        return Parsed(pl.when(ok).then(norm), raw.is_not_null() & ~ok)
    raise ValueError(f"unknown parser kind '{kind}' for field {name}")


def _with_parsed(frame: pl.DataFrame, field: str, kind: str, parsed: Parsed, per_distinct: bool) -> pl.DataFrame:
    """Add a field's value, ``__bad_`` flag, derived columns and ``_raw`` copy.

    Text fields are parsed once per distinct raw value and joined back: every output depends on
    the raw value alone, and values repeat (sexes, dates, names; a meter's address every day)."""
    raw = f"__raw_{field}"

    def apply(df: pl.DataFrame) -> pl.DataFrame:
        if per_distinct:
            df = df.with_columns(normalizer(kind, pl.col(raw)).alias(f"__norm_{field}"))
        df = df.with_columns(parsed.value.alias(field), parsed.unreadable.fill_null(False).alias(f"__bad_{field}"))
        return df.with_columns(
            *[expr.alias(col) for col, expr in parsed.derived.items()],
            *([pl.col(raw).cast(pl.String).alias(f"{field}_raw")] if parsed.keep_raw else []),
        )

    if not per_distinct:
        return apply(frame)
    values = in_slices(frame.select(pl.col(raw).unique()), apply)  # a day of readings: 400 k distinct addresses
    return frame.join(values, on=raw, how="left", nulls_equal=True, maintain_order="left")


def _implausible(rule: str, value: pl.Expr, kind: str) -> tuple[pl.Expr, str]:
    """(condition, reason) of a :data:`PLAUSIBLE` rule; a day of slack for time zones."""
    today = date.today() + timedelta(days=1)
    if rule == "age":
        return ((value < 0) | (value > MAX_AGE)).fill_null(False), f"an age outside 0–{MAX_AGE}"
    day = value.cast(pl.Date) if kind == "datetime" else value
    future = (day > pl.lit(today)).fill_null(False)
    if rule == "birth":
        oldest = date(today.year - MAX_AGE - 1, today.month, 1)
        return future | (day < pl.lit(oldest)).fill_null(False), f"in the future or more than {MAX_AGE} years ago"
    return future, "in the future"


def standardize(bronze: pl.DataFrame, spec: SourceSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split a bronze batch into (silver rows, quarantined rows) for ``spec``'s system.

    Runs in passes (raw → normalised → parsed → derived → verdict) so each expression stays
    small; every pass is vectorised over the whole batch.
    """
    schema = bronze.schema
    present = set(bronze.columns)
    fields = spec.canonical_fields()
    kinds = {f: catalog_field(f).kind for f in fields}
    raw_exprs: list[pl.Expr] = []
    typed: dict[str, bool] = {}
    for canonical in fields:
        sources = [s for s in spec.sources_of(canonical) if s in present]
        # numbers delivered as numbers, and dates as dates (a Parquet export), need no text parsing
        typed[canonical] = bool(sources) and all(schema[s].is_numeric() or (kinds[canonical] == "date" and schema[s] == pl.Date) for s in sources)
        if not sources:
            expr = pl.lit(None, dtype=pl.String)
        elif typed[canonical]:
            expr = pl.coalesce([pl.col(s) for s in sources])
        else:
            expr = pl.coalesce([_blank_to_null(pl.col(s).cast(pl.String)) for s in sources])
        raw_exprs.append(expr.alias(f"__raw_{canonical}"))
    frame = bronze.with_columns(raw_exprs)
    parsed = {
        f: parse(kinds[f], pl.col(f"__raw_{f}"), pl.col(f"__norm_{f}") if not typed[f] else pl.col(f"__raw_{f}"), f, typed[f])
        for f in fields
    }
    for f, p in parsed.items():
        frame = _with_parsed(frame, f, kinds[f], p, per_distinct=not typed[f])

    problems: list[pl.Expr] = []
    blamed: list[pl.Expr] = []
    for f in fields:
        meta = catalog_field(f)
        source_names = "/".join(spec.sources_of(f))
        bad = pl.col(f"__bad_{f}")
        message = f"unreadable {meta.kind} in {source_names} ({meta.label}): '{{}}'"
        problems.append(pl.when(bad).then(pl.format(message, pl.col(f"__raw_{f}").cast(pl.String))))
        blamed.append(pl.when(bad).then(pl.lit(source_names)))
        rule = PLAUSIBLE.get(f)
        if rule:
            implausible, why = _implausible(rule, pl.col(f), kinds[f])
            problems.append(pl.when(implausible).then(pl.format(f"implausible {meta.label} in {source_names}: {why}: '{{}}'", pl.col(f"__raw_{f}").cast(pl.String))))
            blamed.append(pl.when(implausible).then(pl.lit(source_names)))
        if f in spec.required:
            missing = pl.col(f).is_null() & ~bad
            problems.append(pl.when(missing).then(pl.lit(f"required field {source_names} ({meta.label}) is empty")))
            blamed.append(pl.when(missing).then(pl.lit(source_names)))
    for earlier, later in DATE_ORDER:
        if earlier in fields and later in fields:
            a, b = catalog_field(earlier), catalog_field(later)
            names = f"{'/'.join(spec.sources_of(earlier))},{'/'.join(spec.sources_of(later))}"
            wrong = (pl.col(earlier) > pl.col(later)).fill_null(False)
            problems.append(pl.when(wrong).then(pl.format(f"{a.label} after {b.label}: '{{}}' > '{{}}'", pl.col(f"__raw_{earlier}").cast(pl.String), pl.col(f"__raw_{later}").cast(pl.String))))
            blamed.append(pl.when(wrong).then(pl.lit(names)))
    reason = pl.concat_str(problems, separator="; ", ignore_nulls=True)
    reason = empty_to_null(reason)
    columns = pl.concat_str(blamed, separator=",", ignore_nulls=True)
    if MALFORMED in present:  # a row the reader could not split has only that one reason
        reason = pl.coalesce(pl.col(MALFORMED), reason)
        columns = pl.when(pl.col(MALFORMED).is_not_null()).then(pl.lit("(whole row)")).otherwise(columns)
    frame = frame.with_columns(reason.alias("__reason"), columns.alias("__columns"))
    lineage = [pl.col(src).alias(dst) for src, dst in LINEAGE_SILVER.items()]
    # a replayed correction keeps pointing at the batch it corrects
    replay = [pl.col("_replay_of_batch").alias("replay_of_batch_id")] if "_replay_of_batch" in present else []
    output_cols = [c for f, p in parsed.items() for c in [f, *p.derived, *([f"{f}_raw"] if p.keep_raw else [])]]
    # lazily, so that only the output columns are filtered (not every helper column of the batch)
    silver = frame.lazy().filter(pl.col("__reason").is_null()).select(*lineage, *replay, *output_cols).collect()
    quarantine = frame.lazy().filter(pl.col("__reason").is_not_null()).select(
        *lineage[:4],
        *replay,
        pl.col("__columns").alias("columns"),
        pl.col("__reason").alias("reason"),
        _raw_values_expr(bronze).alias("raw_values"),
    ).collect()
    return silver, quarantine


def _raw_values_expr(bronze: pl.DataFrame) -> pl.Expr:
    """The row as received (source columns only) as a JSON object, for people fixing it."""
    data_cols = [c for c in bronze.columns if c not in LINEAGE_BRONZE and c not in (MALFORMED, LINES)]
    return pl.struct([pl.col(c).cast(pl.String) for c in data_cols]).struct.json_encode()


def unmapped_columns(columns: list[str], spec: SourceSpec) -> list[str]:
    """Delivered columns the spec does not map (kept in bronze, reported, not standardised)."""
    known = set(spec.columns) | set(spec.ignored) | set(LINEAGE_BRONZE) | {MALFORMED, RAW, LINES}
    return [c for c in columns if c not in known]
