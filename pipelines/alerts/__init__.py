"""Proactive alerts (主动办 / 提前告知): rules as data (``rules.yaml``) over the curated tables.

Each rule has a *kind* — how it is evaluated — and the kind's parameters:

- ``anniversary``: a date column plus ``years`` falls within the next ``within_days`` (turning 80,
  a licence expiring);
- ``recent``: a date column within the last ``days`` (a business newly registered);
- ``power_drop``: a resident living alone whose address used, on each of the last ``recent_days``
  days, under ``ratio`` of their own mean over the ``baseline_days`` before;
- ``weather``: the residents of the listed groups inside the area of a warning in force (a
  division code: the warning covers every division under it);
- ``policy``: every requirement met → 主动办, none failed but some unknown → 提前告知.

``where`` filters a rule's rows (equality, a list, or comparisons). Every alert names the rule,
the action, the department, the subject and its community; its id is the rule plus the rule's
``once_per`` values, so a run raises an alert once and later runs never reset its state.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import yaml

from warehouse.registry import place_expr

RULES = Path(__file__).parent / "rules.yaml"
COMPARE = {">": "__gt__", ">=": "__ge__", "<": "__lt__", "<=": "__le__", "==": "__eq__", "!=": "__ne__"}
STATES = ("new", "dispatched", "done")
STATE_LABELS = {"new": "待派发", "dispatched": "已派发", "done": "已办结"}
ALERT_SCHEMA = {
    "alert_id": pl.String, "rule_id": pl.String, "label": pl.String, "action": pl.String, "department": pl.String,
    "subject_type": pl.String, "subject_id": pl.String, "name": pl.String, "detail": pl.String, "due_date": pl.Date,
    "community_code": pl.String, "street_code": pl.String, "district_code": pl.String,
}
PLACE = ("community_code", "street_code", "district_code")


class RuleError(ValueError):
    """A rule that cannot be evaluated; the message names it."""


@dataclass(frozen=True)
class Rule:
    id: str
    label: str
    department: str
    action: str
    kind: str
    params: dict = field(default_factory=dict, hash=False, compare=False)


def load_rules(path: Path = RULES) -> list[Rule]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    rules = []
    for i, entry in enumerate(raw, start=1):
        missing = {"id", "label", "department", "action", "kind", "once_per"} - set(entry)
        if missing:
            raise RuleError(f"{path}: rule #{i} lacks {sorted(missing)}")
        if entry["kind"] not in KINDS:
            raise RuleError(f"{path}: rule {entry['id']}: unknown kind '{entry['kind']}' (kinds: {', '.join(KINDS)})")
        rules.append(Rule(entry["id"], entry["label"], entry["department"], entry["action"], entry["kind"],
                          {k: v for k, v in entry.items() if k not in {"id", "label", "department", "action", "kind"}}))
    return rules


def _condition(column: str, test: object) -> pl.Expr:
    if isinstance(test, list):
        return pl.col(column).is_in(test)
    if isinstance(test, dict):
        return pl.all_horizontal([getattr(pl.col(column), COMPARE[op])(value) for op, value in test.items()])
    return pl.col(column) == test


def _where(frame: pl.LazyFrame, rule: Rule) -> pl.LazyFrame:
    for column, test in (rule.params.get("where") or {}).items():
        frame = frame.filter(_condition(column, test))
    return frame


def _subject(frame: pl.LazyFrame, rule: Rule, subject_type: str, name: str, detail: pl.Expr, due: pl.Expr) -> pl.LazyFrame:
    key = rule.params.get("subject", "person_id")
    schema = frame.collect_schema()
    return frame.select(
        pl.lit(subject_type).alias("subject_type"), pl.col(key).cast(pl.String).alias("subject_id"),
        (pl.col(name) if name in schema else pl.lit(None, pl.String)).alias("name"), detail.alias("detail"), due.cast(pl.Date).alias("due_date"),
        *[(pl.col(c) if c in schema else pl.lit(None, pl.String)).alias(c) for c in PLACE],
        *[pl.col(c).cast(pl.String).alias(f"_once_{c}") for c in rule.params["once_per"] if c in schema],
    )


def anniversary(rule: Rule, tables: dict[str, pl.LazyFrame], today: dt.date) -> pl.LazyFrame:
    table = tables[rule.params["table"]]
    column, years, days = rule.params["date"], int(rule.params.get("years", 0)), int(rule.params["within_days"])
    when = pl.col(column).dt.offset_by(f"{years}y")
    rows = _where(table, rule).filter(when.is_between(pl.lit(today), pl.lit(today + dt.timedelta(days=days))))
    kind = "business" if rule.params.get("subject") == "business_id" else "person"
    name = "business_name" if kind == "business" else "name"
    return _subject(rows, rule, kind, name, pl.concat_str([pl.lit(f"{column}="), pl.col(column).cast(pl.String)]), when)


def recent(rule: Rule, tables: dict[str, pl.LazyFrame], today: dt.date) -> pl.LazyFrame:
    table = tables[rule.params["table"]]
    column = rule.params["date"]
    rows = _where(table, rule).filter(pl.col(column).is_between(pl.lit(today - dt.timedelta(days=int(rule.params["days"]))), pl.lit(today)))
    return _subject(rows, rule, "business" if rule.params.get("subject") == "business_id" else "person",
                    "business_name", pl.concat_str([pl.lit(f"{column}="), pl.col(column).cast(pl.String)]), pl.lit(today))


def power_drop(rule: Rule, tables: dict[str, pl.LazyFrame], today: dt.date) -> pl.LazyFrame:
    recent_days, baseline_days, ratio = int(rule.params["recent_days"]), int(rule.params["baseline_days"]), float(rule.params["ratio"])
    power = tables["power_daily"]
    last = power.select(pl.col("reading_date").max()).collect().item()
    if last is None:
        return pl.LazyFrame(schema={**{c: pl.String for c in ("subject_type", "subject_id", "name", "detail")}, "due_date": pl.Date})
    recent_start = last - dt.timedelta(days=recent_days - 1)
    base_start = recent_start - dt.timedelta(days=baseline_days)
    usage = power.filter(pl.col("reading_date") >= base_start).group_by("address_id").agg(
        pl.col("kwh").filter(pl.col("reading_date") < recent_start).mean().alias("baseline"),
        pl.col("kwh").filter(pl.col("reading_date") >= recent_start).max().alias("recent_max"),
        (pl.col("reading_date") >= recent_start).sum().alias("recent_readings"),
    ).filter((pl.col("recent_readings") >= recent_days) & (pl.col("baseline") > 0) & (pl.col("recent_max") < pl.col("baseline") * ratio))
    alone = tables["elderly"].filter(pl.col("living_alone")).join(usage, on="address_id")
    rows = alone.with_columns(pl.lit(last).alias("recent_end"))
    detail = pl.format("近{}天日用电≤{} kWh，此前{}天日均{} kWh", pl.lit(recent_days), pl.col("recent_max").round(2), pl.lit(baseline_days),
                       pl.col("baseline").round(2))
    return _subject(rows, rule, "person", "name", detail, pl.lit(today))


def weather(rule: Rule, tables: dict[str, pl.LazyFrame], today: dt.date) -> pl.LazyFrame:
    now = dt.datetime.combine(today, dt.time(12))
    warnings = tables["weather_warnings"].filter((pl.col("starts_at") <= now) & (pl.col("ends_at") >= now)).select(
        "warning_id", "division_code", pl.format("{}{}预警", "warning_type", "warning_level").alias("_warning"),
        pl.col("division_code").str.len_chars().alias("_length")).collect()
    people = tables["persons"].filter(pl.any_horizontal([pl.col(g).fill_null(False) for g in rule.params["groups"]]))
    place = place_expr(levels=3)
    # a warning covers every division under its code: join on the place cut to each code length in use (a handful)
    hits = [people.with_columns(place.str.slice(0, length).alias("_area")).join(
        warnings.lazy().filter(pl.col("_length") == length).drop("_length"), left_on="_area", right_on="division_code")
        for length in warnings["_length"].unique().sort()]
    if not hits:
        hits = [people.head(0).with_columns(pl.lit("").alias("warning_id"), pl.lit("").alias("_warning"))]
    return _subject(pl.concat(hits, how="diagonal_relaxed"), rule, "person", "name", pl.col("_warning"), pl.lit(today))


def policy(rule: Rule, tables: dict[str, pl.LazyFrame], today: dt.date) -> pl.LazyFrame:
    requires = [_condition(r["column"], {k: v for k, v in r.items() if k != "column"}) for r in rule.params["requires"]]
    met, unknown = pl.all_horizontal([r.fill_null(False) for r in requires]), pl.any_horizontal([r.is_null() for r in requires])
    failed = pl.any_horizontal([r.fill_null(True).not_() for r in requires])
    rows = _where(tables[rule.params["table"]], rule).filter(~failed).with_columns(
        pl.when(met).then(pl.lit("主动办")).when(unknown).then(pl.lit("提前告知")).alias("_action"))
    return _subject(rows, rule, "person", "name", pl.col("_action"), pl.lit(today)).with_columns(pl.col("detail").alias("_action"))


KINDS = {"anniversary": anniversary, "recent": recent, "power_drop": power_drop, "weather": weather, "policy": policy}
TABLES = {"anniversary": (), "recent": (), "power_drop": ("power_daily", "elderly"), "weather": ("weather_warnings", "persons"), "policy": ()}


def rule_tables(rule: Rule) -> set[str]:
    """The curated tables ``rule`` reads."""
    return {*TABLES[rule.kind], *([rule.params["table"]] if "table" in rule.params else [])}


def needed_tables(rules: list[Rule]) -> set[str]:
    return {t for rule in rules for t in rule_tables(rule)}


def evaluate(rules: list[Rule], tables: dict[str, pl.LazyFrame], today: dt.date) -> pl.DataFrame:
    """Every alert the rules raise on ``today`` (one row per alert id)."""
    frames = []
    for rule in rules:
        if not rule_tables(rule) <= set(tables):
            continue  # a table not published yet: nothing to evaluate
        found = KINDS[rule.kind](rule, tables, today).collect()
        once = [c for c in found.columns if c.startswith("_once_")]
        action = found["_action"] if "_action" in found.columns else pl.Series([rule.action] * found.height, dtype=pl.String)
        frames.append(found.with_columns(
            # readable and stable: the rule and what it is raised once per (turning_80|P…, licence_expiring|E…|2026-12-01)
            pl.concat_str([pl.lit(rule.id), *[pl.col(c).fill_null("") for c in once]], separator="|").alias("alert_id"),
            pl.lit(rule.id).alias("rule_id"), pl.lit(rule.label).alias("label"), action.alias("action"), pl.lit(rule.department).alias("department"),
        ).select(list(ALERT_SCHEMA)))
    out = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame(schema=ALERT_SCHEMA)
    return out.unique("alert_id", keep="first", maintain_order=True)


__all__ = ["ALERT_SCHEMA", "RULES", "RuleError", "Rule", "STATES", "STATE_LABELS", "evaluate", "load_rules", "needed_tables"]
