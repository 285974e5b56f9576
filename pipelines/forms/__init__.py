"""Forms in one click (报表一键生成): form templates are data (YAML), built from the curated tables.

A template names a title, the curated table, which rows (the month, equality or comparison
filters), an optional grouping, and its columns with Chinese headers — a column is a source
column, or an aggregate (``count``, ``n_unique``, ``sum``, ``mean``) of one when the form groups
— plus totals and layout. ``mode: changes`` lists the rows that appeared or disappeared since the
previous month (新增 / 停发). A data officer adds a form by adding a template; a template that
names an unknown table, column, aggregate or key gets an error naming its file and line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import yaml

from pipelines.reference import division_names
from warehouse.registry import GOLD_BY_NAME, place_expr

TEMPLATES = Path(__file__).parent / "templates"
AGGREGATES = {"count": lambda c: pl.len(), "n_unique": lambda c: pl.col(c).n_unique(), "sum": lambda c: pl.col(c).sum(),
              "mean": lambda c: pl.col(c).mean()}
COMPARISONS = {">": "__gt__", ">=": "__ge__", "<": "__lt__", "<=": "__le__", "!=": "__ne__"}
FORM_KEYS = {"title", "table", "month_column", "filters", "group_by", "columns", "totals", "sort", "mode", "key", "landscape", "join"}
JOIN_KEYS = {"table", "by", "count"}  # not "on": YAML reads a bare on as true
COLUMN_KEYS = {"header", "source", "agg", "format", "names", "total"}
CHANGE = "变动类型"


class FormError(ValueError):
    """A template that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Column:
    header: str
    source: str | None = None
    agg: str | None = None
    format: str | None = None  # Excel number format, e.g. "#,##0.00"
    names: bool = False  # a division code shown as its Chinese name
    total: bool = False  # summed in the totals row (aggregated counts and sums always are)
    line: int = 0


@dataclass(frozen=True)
class Form:
    name: str
    title: str
    table: str
    columns: tuple[Column, ...]
    month_column: str | None = None
    filters: dict = field(default_factory=dict)
    group_by: tuple[str, ...] = ()
    totals: bool = False
    sort: tuple[str, ...] = ()
    mode: str = "rows"  # or "changes": rows new or gone since the previous month
    key: str | None = None  # what identifies a row across months (mode changes)
    landscape: bool = False
    # counts from other tables by a shared column: {table, by, count: new column name}
    joins: tuple[dict, ...] = ()
    path: str = ""
    lines: dict = field(default_factory=dict, hash=False, compare=False)

    def error(self, key: str, message: str) -> FormError:
        return FormError(f"{self.path} line {self.lines.get(key, 1)}: {message}")

    def tables(self) -> set[str]:
        """The curated tables the form reads: its own and those its joins count from."""
        return {self.table, *(join["table"] for join in self.joins)}

    def sources(self) -> list[tuple[str, str]]:
        """(key for the line, column) of every column the template reads."""
        named = [("month_column", self.month_column)] if self.month_column else []
        named += [(f"filters.{c}", c) for c in self.filters] + [(f"group_by.{c}", c) for c in self.group_by]
        made = {CHANGE} if self.mode == "changes" else set()
        made |= {j["count"] for j in self.joins}
        named += [(f"columns.{i}", c.source) for i, c in enumerate(self.columns) if c.source and c.source not in made]
        named += [(f"join.{i}.by", j["by"]) for i, j in enumerate(self.joins)]
        named += [("key", self.key)] if self.key else []
        return named


def _lines(node: yaml.Node, prefix: str = "") -> dict[str, int]:
    """Each key path (``columns.2``, ``filters.assistance_type``) → its 1-based line in the file."""
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = f"{prefix}{key.value}"
            lines[path] = key.start_mark.line + 1
            lines.update(_lines(value, path + "."))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = f"{prefix}{i}"
            lines[path] = item.start_mark.line + 1
            if isinstance(item, yaml.ScalarNode):
                lines[f"{prefix}{item.value}"] = item.start_mark.line + 1
            lines.update(_lines(item, path + "."))
    return lines


def load_form(path: Path) -> Form:
    """Read and check one template (shape only; :func:`check_form` checks it against the table)."""
    text = path.read_text(encoding="utf-8")
    try:
        raw, lines = yaml.safe_load(text), _lines(yaml.compose(text) or yaml.MappingNode("", []))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise FormError(f"{path} line {mark.line + 1 if mark else 1}: not YAML ({getattr(err, 'problem', err)})") from None
    where = str(path)
    if not isinstance(raw, dict):
        raise FormError(f"{where} line 1: a template is a mapping (title, table, columns …)")
    for key in raw:
        if key not in FORM_KEYS:
            raise FormError(f"{where} line {lines.get(str(key), 1)}: unknown key '{key}' (keys: {', '.join(sorted(FORM_KEYS))})")
    for key in ("title", "table", "columns"):
        if key not in raw:
            raise FormError(f"{where} line 1: '{key}' is missing")
    if raw["table"] not in GOLD_BY_NAME:
        raise FormError(f"{where} line {lines.get('table', 1)}: unknown table '{raw['table']}' (curated tables: {', '.join(GOLD_BY_NAME)})")
    columns = []
    for i, item in enumerate(raw["columns"] or []):
        line = lines.get(f"columns.{i}", 1)
        if not isinstance(item, dict) or "header" not in item:
            raise FormError(f"{where} line {line}: a column needs a header")
        unknown = set(item) - COLUMN_KEYS
        if unknown:
            raise FormError(f"{where} line {line}: unknown column key {sorted(unknown)} (keys: {', '.join(sorted(COLUMN_KEYS))})")
        if item.get("agg") is not None and item["agg"] not in AGGREGATES:
            raise FormError(f"{where} line {line}: unknown aggregate '{item['agg']}' (aggregates: {', '.join(AGGREGATES)})")
        if item.get("agg") not in (None, "count") and not item.get("source"):
            raise FormError(f"{where} line {line}: aggregate '{item['agg']}' needs a source column")
        columns.append(Column(str(item["header"]), item.get("source"), item.get("agg"), item.get("format"), bool(item.get("names")),
                              bool(item.get("total")), line))
    form = Form(name=path.stem, title=str(raw["title"]), table=raw["table"], columns=tuple(columns), month_column=raw.get("month_column"),
                filters=dict(raw.get("filters") or {}), group_by=tuple(raw.get("group_by") or ()), totals=bool(raw.get("totals")),
                sort=tuple(raw.get("sort") or ()), mode=raw.get("mode", "rows"), key=raw.get("key"), landscape=bool(raw.get("landscape")),
                joins=tuple(raw.get("join") or ()), path=where, lines=lines)
    for i, join in enumerate(form.joins):
        if not isinstance(join, dict) or set(join) != JOIN_KEYS:
            raise form.error(f"join.{i}", f"a join names exactly {', '.join(sorted(JOIN_KEYS))}")
        if join["table"] not in GOLD_BY_NAME:
            raise form.error(f"join.{i}", f"unknown table '{join['table']}' (curated tables: {', '.join(GOLD_BY_NAME)})")
    if form.mode not in ("rows", "changes"):
        raise form.error("mode", f"unknown mode '{form.mode}' (rows, changes)")
    if form.mode == "changes" and not (form.key and form.month_column):
        raise form.error("mode", "mode 'changes' needs key and month_column")
    loose = [c for c in form.columns if c.agg is None and c.source is not None and c.source not in form.group_by]
    if form.group_by and loose:
        bad = loose[0]
        raise FormError(f"{where} line {bad.line}: column '{bad.header}' is neither grouped by nor aggregated")
    return form


def load_forms(folder: Path = TEMPLATES) -> dict[str, Form]:
    return {path.stem: load_form(path) for path in sorted(folder.glob("*.yaml"))}


def check_form(form: Form, schema: pl.Schema) -> None:
    """Every column the template names exists in the table."""
    for key, column in form.sources():
        if column not in schema:
            raise form.error(key, f"unknown column '{column}' of table {form.table} (columns: {', '.join(schema)})")


def _month_rows(frame: pl.LazyFrame, form: Form, month: dt.date) -> pl.LazyFrame:
    column = pl.col(form.month_column)
    return frame.filter((column.dt.year() == month.year) & (column.dt.month() == month.month))


def _filtered(frame: pl.LazyFrame, form: Form, scope: str) -> pl.LazyFrame:
    place = place_expr(frame.collect_schema().names(), levels=3)
    frame = frame.filter(place.str.starts_with(scope))
    for column, value in form.filters.items():
        if isinstance(value, list):
            frame = frame.filter(pl.col(column).is_in(value))
        elif isinstance(value, dict):
            for op, operand in value.items():
                if op not in COMPARISONS:
                    raise form.error(f"filters.{column}", f"unknown comparison '{op}' ({', '.join(COMPARISONS)})")
                frame = frame.filter(getattr(pl.col(column), COMPARISONS[op])(operand))
        else:
            frame = frame.filter(pl.col(column) == value)
    return frame


def build_form(form: Form, table: pl.LazyFrame, month: dt.date, scope: str, others: dict[str, pl.LazyFrame] | None = None) -> pl.DataFrame:
    """The form's rows for ``month`` inside division ``scope``, with its headers (totals not included).
    ``others``: the tables the template's joins count from."""
    rows = table
    for i, join in enumerate(form.joins):
        other = (others or {}).get(join["table"])
        if other is None:
            raise form.error(f"join.{i}", f"table '{join['table']}' is not published yet")
        if join["by"] not in other.collect_schema():
            raise form.error(f"join.{i}.by", f"unknown column '{join['on']}' of table {join['table']}")
        counts = other.filter(pl.col(join["by"]).is_not_null()).group_by(join["by"]).agg(pl.len().cast(pl.Int64).alias(join["count"]))
        rows = rows.join(counts, on=join["by"], how="left").with_columns(pl.col(join["count"]).fill_null(0))
    check_form(form, rows.collect_schema())
    rows = _filtered(rows, form, scope)
    if form.mode == "changes":
        previous = (month.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
        now, before = _month_rows(rows, form, month).collect(), _month_rows(rows, form, previous).collect()
        added = now.join(before.select(form.key), on=form.key, how="anti").with_columns(pl.lit("新增").alias(CHANGE))
        gone = before.join(now.select(form.key), on=form.key, how="anti").with_columns(pl.lit("停发").alias(CHANGE))
        frame = pl.concat([added, gone], how="diagonal_relaxed")
    else:
        frame = (_month_rows(rows, form, month) if form.month_column else rows).collect()
    if form.group_by:
        aggregates = [AGGREGATES[c.agg](c.source).alias(c.header) for c in form.columns if c.agg]
        frame = frame.group_by(list(form.group_by)).agg(aggregates).sort(list(form.group_by))
        keys = {c.source: c.header for c in form.columns if c.agg is None}
        frame = frame.rename({k: v for k, v in keys.items() if k in frame.columns})
    else:
        if form.sort:
            frame = frame.sort(list(form.sort), nulls_last=True)
        frame = frame.select([pl.col(c.source).alias(c.header) for c in form.columns if c.source])
    # a column without a source is left blank for the community worker to fill in (走访日期 …)
    frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(c.header) for c in form.columns if c.source is None and c.agg is None)
    names = division_names()
    for column in form.columns:
        if column.names:
            frame = frame.with_columns(pl.col(column.header).replace_strict(names, default=pl.col(column.header)))
    return frame.select([c.header for c in form.columns])


def totals(form: Form, frame: pl.DataFrame) -> dict[str, float | int | None]:
    """The totals row: aggregated counts and sums, and the columns marked ``total`` (a mean is not summed)."""
    return {c.header: frame[c.header].sum() if c.agg in ("count", "n_unique", "sum") or c.total else None for c in form.columns}




def build_every(forms: dict[str, Form], tables: dict[str, pl.LazyFrame], month: dt.date, scopes: list[str]):
    """(scope, form name, frame) of every form for every scope; each table is read once, then cut per scope."""
    read = {name: frame.collect().lazy() for name, frame in tables.items()}
    for scope in scopes:
        for name, form in forms.items():
            if form.table in read:
                yield scope, name, build_form(form, read[form.table], month, scope, read)


__all__ = ["Column", "Form", "FormError", "TEMPLATES", "build_every", "build_form", "check_form", "load_form", "load_forms", "totals"]
