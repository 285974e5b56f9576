"""Masking personal values, as data: named rules, which rule each level applies to which field, one place.

Reports (data officers see *which* value broke a rule, not the whole value), the replicas of the
five levels (:mod:`pipelines.sync`) and the query API mask with the same rules. A rule keeps the
first ``keep_start`` and last ``keep_end`` characters and replaces the rest with ``*``;
``digits`` masks every digit (house numbers, rooms) and keeps the words.

A level's policy names, per catalogue *kind* (every column of that kind, ``mother_id_number``
too) or per *column*, the rule to apply; a column named nowhere is shown as is, and "clear"
shows a column in full where its kind would be masked. The hub masks nothing; a deployment
overrides the defaults per level and column in its nodes file (``masking:``).
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


CLEAR = "clear"
RULES: dict[str, MaskRule] = {
    "id_6_4": MaskRule(keep_start=6, keep_end=4),  # first 6 + last 4: region code and check digit stay readable
    "phone_3_4": MaskRule(keep_start=3, keep_end=4),  # 138****6620
    "name_1": MaskRule(keep_start=1),  # 张**
    "digits": MaskRule(digits=True),  # house, building and room numbers hidden, road names kept
}

# reports: by the catalogue field's kind (warehouse/catalog.py); a field of another kind is shown as is
REPORT_POLICY: dict[str, str] = {"id_number": "id_6_4", "phone": "phone_3_4", "name": "name_1", "address": "digits"}
POLICY: dict[str, MaskRule] = {kind: RULES[rule] for kind, rule in REPORT_POLICY.items()}

LEVELS = ("province", "city", "district", "street", "community")
# replicas outside the hub, by level: kind or column → rule name (or "clear"). Streets and
# communities work door to door with names; the province and the city see statistics, not people.
# A disability certificate number is the holder's ID number plus two digits: masked like one.
LEVEL_POLICY: dict[str, dict[str, str]] = {
    "province": {"id_number": "id_6_4", "disability_cert_no": "id_6_4", "phone": "phone_3_4", "name": "name_1"},
    "city": {"id_number": "id_6_4", "disability_cert_no": "id_6_4", "phone": "phone_3_4", "name": "name_1"},
    "district": {"id_number": "id_6_4", "disability_cert_no": "id_6_4", "phone": "phone_3_4"},
    "street": {"id_number": "id_6_4", "disability_cert_no": "id_6_4", "phone": "phone_3_4"},
    "community": {"id_number": "id_6_4", "disability_cert_no": "id_6_4", "phone": "phone_3_4"},
}
# roles of the query API (api/), on top of the level's policy: who does what with the rows
ROLES: dict[str, str] = {"caseworker": "社区工作者（上门服务，见姓名）", "analyst": "统计分析（只看汇总所需，姓名与门牌脱敏）",
                         "officer": "数据专员（质量报告与地址复核，见辖区内明细，可作复核决定）"}
ROLE_POLICY: dict[str, dict[str, str]] = {
    # the level's policy as is: communities and streets see names, IDs and certificate numbers 6+4, phones 3+4
    "caseworker": {},
    "officer": {},  # reviews need the records as caseworkers see them
    "analyst": {"name": "name_1", "address": "digits", "id_number": "id_6_4", "phone": "phone_3_4", "disability_cert_no": "id_6_4"},
}
RAW_SUFFIX = "_raw"  # a value as delivered (``id_number_raw``) is as personal as the parsed one


def kind_of(column: str) -> str | None:
    """The catalogue kind of ``column`` (``mother_id_number`` → id_number, ``phone_raw`` → phone); None when unknown."""
    field = CATALOG.get(column.removesuffix(RAW_SUFFIX)) if column != RAW_SUFFIX else None
    return field.kind if field else None


def level_policy(level: str, overrides: dict[str, dict[str, str]] | None = None) -> dict[str, str]:
    """The policy of ``level``: the defaults with a deployment's overrides for that level on top."""
    if level not in LEVELS:
        raise ValueError(f"unknown level '{level}'; levels: {', '.join(LEVELS)}")
    policy = {**LEVEL_POLICY[level], **(overrides or {}).get(level, {})}
    unknown = sorted({rule for rule in policy.values() if rule != CLEAR and rule not in RULES})
    if unknown:
        raise ValueError(f"masking policy of level '{level}' names unknown rules {unknown}; rules: {', '.join([*RULES, CLEAR])}")
    return policy


def role_policy(level: str, role: str, overrides: dict[str, dict[str, str]] | None = None) -> dict[str, str]:
    """The policy of a ``role`` at ``level``: the level's policy with the role's entries on top."""
    if role not in ROLES:
        raise ValueError(f"unknown role '{role}'; roles: {', '.join(ROLES)}")
    return {**level_policy(level, overrides), **ROLE_POLICY[role]}


def rules_for(columns: list[str], policy: dict[str, str]) -> dict[str, MaskRule]:
    """The rule each of ``columns`` gets under ``policy`` (a column's own entry before its kind's)."""
    chosen = {}
    for column in columns:
        name = policy.get(column, policy.get(kind_of(column) or "", CLEAR))
        if name != CLEAR:
            chosen[column] = RULES[name]
    return chosen


def mask_frame(frame: pl.DataFrame, policy: dict[str, str]) -> pl.DataFrame:
    """``frame`` with every column the policy names masked (the others unchanged)."""
    rules = rules_for(frame.columns, policy)
    return frame.with_columns(mask_expr(column, rule) for column, rule in rules.items()) if rules else frame


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
    texts = pl.DataFrame({"v": [str(v) if v is not None else None for v in values]}, schema={"v": pl.String})
    return json.dumps(texts.select(mask_expr("v", rule))["v"].to_list(), ensure_ascii=False)  # the one implementation of a rule


__all__ = ["CLEAR", "LEVELS", "LEVEL_POLICY", "MaskRule", "POLICY", "ROLES", "ROLE_POLICY", "RULES", "kind_of", "level_policy", "role_policy", "mask_examples", "mask_expr", "mask_frame", "rules_for"]
