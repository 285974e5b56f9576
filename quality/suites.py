"""Expectation suites, generated from the field catalogue and the table registry plus hand rules.

Checks Great Expectations cannot express over a single column (checksums, membership in the
division table, referential integrity, freshness) are computed first as flag columns with polars
(``_id_valid``, ``_community_known``, ``_address_known``, ``_person_known``, ``_age_days``) and then
asserted with ordinary expectations, so every rule still lands in the GX results and Data Docs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

import polars as pl

from warehouse.catalog import CATALOG
from pipelines.ids import credit_valid_expr, id_valid_expr
from pipelines.reference import divisions
from pipelines.sources.spec import SourceSpec
from warehouse.registry import DIVISION_COLUMNS, TableSpec



def _expectations():
    """Great Expectations' expectation classes, imported on first use: importing GX takes seconds,
    and most Dagster step processes (bronze, masters) never validate anything."""
    import great_expectations as gx

    return gx.expectations

# share of checksum-valid IDs a silver batch must reach (the default noise gives ≈ 99.5 %)
SILVER_ID_VALID = 0.98
SILVER_QUARANTINE_MAX = 0.02
SILVER_QUARANTINE_FLOOR = 5  # rows
# one row per rule checked, whether by GX or by polars
RESULT_SCHEMA = {
    "run_id": pl.String, "suite": pl.String, "batch_id": pl.String, "expectation": pl.String, "column": pl.String, "rule": pl.String,
    "success": pl.Boolean, "observed_value": pl.String, "element_count": pl.Int64, "unexpected_count": pl.Int64,
    "unexpected_percent": pl.Float64, "examples": pl.String, "validated_at": pl.Datetime("us", "UTC"),
    "offending": pl.String,  # JSON: up to 5 failing rows, each the value and where it came from (system, file, row / key)
}
SILVER_LOCATORS = ("source_system", "source_file", "source_row", "batch_id")


@dataclass
class Suite:
    name: str
    frame: pl.DataFrame  # the rows to validate, with flag columns added
    expectations: list
    locators: tuple[str, ...] = SILVER_LOCATORS  # columns that say where a failing row is (file and row, or the key)


def _flag(expr: pl.Expr, present: pl.Expr) -> pl.Expr:
    """True/False where the checked value is present, null where it is not (GX skips nulls)."""
    return pl.when(present).then(expr)


def _known_codes(level_length: int) -> pl.Series:
    d = divisions()
    return d.filter(pl.col("code").str.len_chars() == level_length)["code"]


def silver_suite(spec: SourceSpec, batch: pl.DataFrame, quarantined: int) -> Suite:
    """Rules for one silver batch of ``spec``'s system (types come from standardisation).

    Freshness is not here: a late delivery is a warning (its own check), not a reason to
    hold back every table built from the system."""
    E = _expectations()
    frame = batch
    exp: list = [E.ExpectTableRowCountToBeBetween(min_value=1)]
    for col in ("source_system", "batch_id", "source_file", "source_row"):
        exp.append(E.ExpectColumnValuesToNotBeNull(column=col))
    for field in spec.canonical_fields():
        kind = CATALOG[field].kind
        if field in spec.required:
            exp.append(E.ExpectColumnValuesToNotBeNull(column=field))
        if kind == "id_number" and f"{field}_valid" in frame.columns:
            frame = frame.with_columns(_flag(pl.col(f"{field}_valid"), pl.col(field).is_not_null()).alias(f"_{field}_valid"))
            exp.append(E.ExpectColumnValuesToBeInSet(column=f"_{field}_valid", value_set=[True], mostly=SILVER_ID_VALID, meta={"rule": "ID checksum (GB 11643)", "value_column": field}))
        if kind == "credit_code" and f"{field}_valid" in frame.columns:
            frame = frame.with_columns(_flag(pl.col(f"{field}_valid"), pl.col(field).is_not_null()).alias(f"_{field}_valid"))
            exp.append(E.ExpectColumnValuesToBeInSet(column=f"_{field}_valid", value_set=[True], mostly=0.98, meta={"rule": "credit code checksum (GB 32100)", "value_column": field}))
        if kind == "division_code":
            frame = frame.with_columns(_flag(pl.col(field).is_in(divisions()["code"].implode()), pl.col(field).is_not_null()).alias(f"_{field}_known"))
            exp.append(E.ExpectColumnValuesToBeInSet(column=f"_{field}_known", value_set=[True], meta={"rule": "division code in the division table", "value_column": field}))
        if kind == "sex":
            exp.append(E.ExpectColumnValuesToBeInSet(column=field, value_set=["男", "女"]))
        if field == "age":
            exp.append(E.ExpectColumnValuesToBeBetween(column=field, min_value=0, max_value=120))
        if kind == "amount" and field != "kwh":
            exp.append(E.ExpectColumnValuesToBeBetween(column=field, min_value=0, max_value=1e8))
        if field == "kwh":
            exp.append(E.ExpectColumnValuesToBeBetween(column=field, min_value=0, max_value=500))
    # quarantine share of the batch
    total = max(batch.height + quarantined, 1)
    allowed = max(SILVER_QUARANTINE_MAX, SILVER_QUARANTINE_FLOOR / total)  # a small batch may lose a few rows
    share = E.ExpectColumnMaxToBeBetween(column="_quarantine_share", max_value=allowed, meta={"rule": f"at most {allowed:.1%} of the batch quarantined"})
    if batch.height == 0:
        # no row left in silver (all quarantined, or all of them corrected and replayed into
        # another batch): the quarantine share is the one rule left to check
        return Suite(f"silver.{spec.system}", pl.DataFrame({"_quarantine_share": [quarantined / total]}), [share])
    frame = frame.with_columns(pl.lit(quarantined / total).alias("_quarantine_share"))
    exp.append(share)
    return Suite(f"silver.{spec.system}", frame, exp)


def gold_row_suite(spec: TableSpec, rows: pl.DataFrame, address_ids: pl.Series | None, person_ids: pl.Series | None) -> Suite:
    """Row rules of a curated table, for the rows a publish would insert or update.

    Every rule here holds row by row (so checking only the changed rows is exact); rules about
    shares of the whole table are in :func:`gold_table_rules`."""
    E = _expectations()
    frame = rows
    exp: list = []  # key uniqueness is a whole-table invariant (gold_table_rules)
    for col in spec.required:
        exp.append(E.ExpectColumnValuesToNotBeNull(column=col))
    for col in spec.lineage:
        exp.append(E.ExpectColumnToExist(column=col))
    if spec.divisions:
        for col, length in zip(DIVISION_COLUMNS, (2, 4, 6, 9, 12)):
            exp.append(E.ExpectColumnValuesToMatchRegex(column=col, regex=rf"^\d{{{length}}}$"))
        frame = frame.with_columns(
            _flag(pl.col("community_code").is_in(_known_codes(12).implode()), pl.col("community_code").is_not_null()).alias("_community_known"),
            _flag(pl.col("district_code").is_in(_known_codes(6).implode()), pl.col("district_code").is_not_null()).alias("_district_known"),
        )
        exp.append(E.ExpectColumnValuesToBeInSet(column="_community_known", value_set=[True], meta={"rule": "community code in the division table", "value_column": "community_code"}))
        exp.append(E.ExpectColumnValuesToBeInSet(column="_district_known", value_set=[True], meta={"rule": "district code in the division table", "value_column": "district_code"}))
    for col, rules in spec.rules.items():
        if col not in frame.columns:
            continue
        if rules.get("valid_id") == 1.0:
            frame = frame.with_columns(_flag(id_valid_expr(pl.col(col)), pl.col(col).is_not_null()).alias(f"_{col}_valid"))
            exp.append(E.ExpectColumnValuesToBeInSet(column=f"_{col}_valid", value_set=[True], meta={"rule": "ID checksum (GB 11643)", "value_column": col}))
        if "between" in rules:
            low, high = rules["between"]
            exp.append(E.ExpectColumnValuesToBeBetween(column=col, min_value=low, max_value=high))
        if "in_set" in rules:
            exp.append(E.ExpectColumnValuesToBeInSet(column=col, value_set=rules["in_set"]))
    if "address_id" in frame.columns and address_ids is not None:
        frame = frame.with_columns(_flag(pl.col("address_id").is_in(address_ids.implode()), pl.col("address_id").is_not_null()).alias("_address_known"))
        exp.append(E.ExpectColumnValuesToBeInSet(column="_address_known", value_set=[True], meta={"rule": "address_id exists in the address base", "value_column": "address_id"}))
    if "person_id" in frame.columns and person_ids is not None and spec.name != "persons":
        frame = frame.with_columns(_flag(pl.col("person_id").is_in(person_ids.implode()), pl.col("person_id").is_not_null()).alias("_person_known"))
        exp.append(E.ExpectColumnValuesToBeInSet(column="_person_known", value_set=[True], meta={"rule": "person_id exists in golden persons", "value_column": "person_id"}))
    return Suite(f"gold.{spec.name}", frame, exp, locators=tuple(dict.fromkeys((*spec.keys, *(c for c in spec.lineage if c in frame.columns)))))


def offending_rows(bad: pl.DataFrame, value_column: str, locators: tuple[str, ...] | list[str], limit: int = 5) -> str:
    """Up to ``limit`` failing rows as JSON: ``value`` (the value that broke the rule) and the
    columns saying where the row is (system, file and row; or the table's key) — what a data
    officer needs to find and fix it."""
    if bad.height == 0 or value_column not in bad.columns:
        return "[]"
    where = [c for c in locators if c in bad.columns and c != value_column]
    shown = bad.head(limit).select(pl.col(value_column).cast(pl.String).alias("value"), *[pl.col(c).cast(pl.String) for c in where])
    return json.dumps(shown.to_dicts(), ensure_ascii=False)


def _share_rules(spec: TableSpec, columns: list[str]) -> list[tuple[str, str, pl.Expr, float]]:
    """(rule, column, per-row truth, minimum share) for the rules that hold over the whole table."""
    rules: list[tuple[str, str, pl.Expr, float]] = []
    for col, checks in spec.rules.items():
        if col not in columns:
            continue
        if "valid_id" in checks and checks["valid_id"] < 1.0:
            rules.append(("ID checksum (GB 11643)", col, id_valid_expr(pl.col(col)).fill_null(True), checks["valid_id"]))
        if "valid_credit" in checks:
            rules.append(("credit code checksum (GB 32100)", col, pl.col(col).is_null() | credit_valid_expr(pl.col(col)).fill_null(False), checks["valid_credit"]))
    if spec.divisions:
        level = "city_code" if spec.name == "weather_warnings" else "district_code"
        rules.append(("rows carry their divisions", level, pl.col(level).is_not_null(), 0.95))
    if "address_id" in columns and spec.name not in ("addresses", "buildings", "weather_warnings"):
        rules.append(("address match rate ≥ 95 %", "address_id", pl.col("address_id").is_not_null(), 0.95))
    return rules


def gold_table_rules(spec: TableSpec, table: pl.DataFrame, run_id: str, additions_only: bool = False) -> pl.DataFrame:
    """Whole-table invariants of a curated table as it would be after the publish (polars, cheap):
    not empty, unique on its keys, and the share rules. Same shape as GX results.

    ``additions_only``: ``table`` holds only the rows new batches add to a published table; the
    rules then hold over those rows (and an empty addition is no fault)."""
    keys = list(spec.keys)
    duplicated = int(table.select(pl.struct(keys).is_duplicated().sum()).item()) if table.height else 0
    rows = [
        ("table.not_empty", "", "the table has rows", additions_only or table.height > 0, table.height, 0, [], "[]"),
        ("table.unique_keys", ",".join(keys), "one row per key", duplicated == 0, table.height, duplicated, [],
         offending_rows(table.filter(pl.struct(keys).is_duplicated()) if duplicated else table.clear(), keys[0], keys)),
    ]
    for rule, col, truth, minimum in _share_rules(spec, table.columns):
        bad = table.filter(~truth)
        share = 1 - bad.height / table.height if table.height else 1.0
        rows.append(("table.share_at_least", col, f"{rule} (≥ {minimum:.0%})", share >= minimum, table.height, bad.height, bad[col].head(5).to_list(),
                     offending_rows(bad, col, keys)))
    now = datetime.now(timezone.utc)
    return pl.DataFrame(
        [
            {
                "run_id": run_id, "suite": f"gold.{spec.name}", "batch_id": None, "expectation": name, "column": col, "rule": rule,
                "success": ok, "observed_value": None, "element_count": n, "unexpected_count": bad,
                "unexpected_percent": 100 * bad / n if n else 0.0, "examples": json.dumps([str(v) for v in examples], ensure_ascii=False),
                "validated_at": now, "offending": offending,
            }
            for name, col, rule, ok, n, bad, examples, offending in rows
        ],
        schema=RESULT_SCHEMA,
    )
