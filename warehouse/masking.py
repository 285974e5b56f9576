"""Masking personal values, as data: one policy per field kind, one place.

Reports (data officers see *which* value broke a rule, not the whole value), and later the
replicas of the five levels and the query API, mask with the same rules. A rule keeps the first
``keep_start`` and last ``keep_end`` characters and replaces the rest with ``*``;
``digits`` masks every digit (house numbers, rooms) and keeps the words.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import polars as pl

from warehouse.catalog import CATALOG


@dataclass(frozen=True)
class MaskRule:
    keep_start: int = 0
    keep_end: int = 0
    digits: bool = False  # mask digits only


# by the catalogue field's kind (warehouse/catalog.py); a field of another kind is shown as is
POLICY: dict[str, MaskRule] = {
    "id_number": MaskRule(keep_start=6, keep_end=4),  # first 6 + last 4: region code and check digit stay readable
    "phone": MaskRule(keep_start=3, keep_end=4),  # 138****6620
    "name": MaskRule(keep_start=1),  # 张**
    "address": MaskRule(digits=True),  # house, building and room numbers hidden, road names kept
}


def kind_of(column: str) -> str | None:
    """The catalogue kind of ``column`` (``mother_id_number`` → id_number); None when unknown."""
    field = CATALOG.get(column)
    return field.kind if field else None


def mask_text(value: str | None, rule: MaskRule | None) -> str | None:
    """One value masked by ``rule`` (None: unchanged)."""
    if value is None or rule is None:
        return value
    if rule.digits:
        return "".join("*" if ch.isdigit() else ch for ch in value)
    hidden = len(value) - rule.keep_start - rule.keep_end
    if hidden <= 0:
        return value[:1] + "*" * (len(value) - 1)  # too short to keep both ends: the first character only
    return value[: rule.keep_start] + "*" * hidden + (value[-rule.keep_end:] if rule.keep_end else "")


def mask_expr(column: str, rule: MaskRule | None = None) -> pl.Expr:
    """``column`` masked by its kind's rule (or ``rule``), as a polars expression over every row."""
    rule = rule or POLICY.get(kind_of(column) or "")
    value = pl.col(column).cast(pl.String)
    if rule is None:
        return value
    if rule.digits:
        return value.str.replace_all(r"\d", "*")
    n = value.str.len_chars().cast(pl.Int64)  # unsigned would wrap below zero
    hidden = (n - rule.keep_start - rule.keep_end).clip(lower_bound=0)
    tail = value.str.slice(-rule.keep_end) if rule.keep_end else pl.lit("")
    masked = pl.concat_str([value.str.slice(0, rule.keep_start), pl.lit("*").repeat_by(hidden).list.join(""), tail])
    short = pl.concat_str([value.str.slice(0, 1), pl.lit("*").repeat_by((n - 1).clip(lower_bound=0)).list.join("")])
    return pl.when(n - rule.keep_start - rule.keep_end > 0).then(masked).otherwise(short).alias(column)


def mask_examples(examples: str | None, column: str | None) -> str | None:
    """A JSON list of example values (as quality results store them) masked by ``column``'s kind."""
    if not examples or not column:
        return examples
    rule = POLICY.get(kind_of(column) or "")
    if rule is None:
        return examples
    try:
        values = json.loads(examples)
    except ValueError:
        return examples
    return json.dumps([mask_text(str(v), rule) if v is not None else None for v in values], ensure_ascii=False)


__all__ = ["MaskRule", "POLICY", "kind_of", "mask_text", "mask_expr", "mask_examples"]
