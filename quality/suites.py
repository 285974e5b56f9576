"""Expectation suites, generated from the field catalogue and the table registry plus hand rules.

Checks Great Expectations cannot express over a single column (checksums, membership in the
division table, referential integrity, freshness) are computed first as flag columns with polars
(``_id_valid``, ``_community_known``, ``_address_known``, ``_person_known``, ``_age_days``) and then
asserted with ordinary expectations, so every rule still lands in the GX results and Data Docs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import great_expectations as gx
import polars as pl

from pipelines.catalog import CATALOG
from pipelines.ids import credit_valid_expr, id_valid_expr
from pipelines.reference import divisions
from pipelines.sources.spec import SourceSpec
from warehouse.registry import DIVISION_COLUMNS, TableSpec

E = gx.expectations
# share of checksum-valid IDs a silver batch must reach (the default noise gives ≈ 99.5 %)
SILVER_ID_VALID = 0.98
SILVER_QUARANTINE_MAX = 0.02
SILVER_QUARANTINE_FLOOR = 5  # rows


@dataclass
class Suite:
    name: str
    frame: pl.DataFrame  # the rows to validate, with flag columns added
    expectations: list


def _flag(expr: pl.Expr, present: pl.Expr) -> pl.Expr:
    """True/False where the checked value is present, null where it is not (GX skips nulls)."""
    return pl.when(present).then(expr)


def _known_codes(level_length: int) -> pl.Series:
    d = divisions()
    return d.filter(pl.col("code").str.len_chars() == level_length)["code"]


def silver_suite(spec: SourceSpec, batch: pl.DataFrame, quarantined: int, now: datetime | None = None) -> Suite:
    """Rules for one silver batch of ``spec``'s system (types come from standardisation)."""
    now = now or datetime.now(timezone.utc)
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
            exp.append(E.ExpectColumnValuesToBeInSet(column=f"_{field}_valid", value_set=[True], mostly=SILVER_ID_VALID, meta={"rule": "ID checksum (GB 11643)"}))
        if kind == "credit_code" and f"{field}_valid" in frame.columns:
            frame = frame.with_columns(_flag(pl.col(f"{field}_valid"), pl.col(field).is_not_null()).alias(f"_{field}_valid"))
            exp.append(E.ExpectColumnValuesToBeInSet(column=f"_{field}_valid", value_set=[True], mostly=0.98, meta={"rule": "credit code checksum (GB 32100)"}))
        if kind == "division_code":
            frame = frame.with_columns(_flag(pl.col(field).is_in(divisions()["code"].implode()), pl.col(field).is_not_null()).alias(f"_{field}_known"))
            exp.append(E.ExpectColumnValuesToBeInSet(column=f"_{field}_known", value_set=[True], meta={"rule": "division code in the Zhejiang table"}))
        if kind == "sex":
            exp.append(E.ExpectColumnValuesToBeInSet(column=field, value_set=["男", "女"]))
        if field == "age":
            exp.append(E.ExpectColumnValuesToBeBetween(column=field, min_value=0, max_value=120))
        if kind == "amount" and field != "kwh":
            exp.append(E.ExpectColumnValuesToBeBetween(column=field, min_value=0, max_value=1e8))
        if field == "kwh":
            exp.append(E.ExpectColumnValuesToBeBetween(column=field, min_value=0, max_value=500))
    # freshness (数据鲜活度): the batch is no older than the system's delivery cadence
    frame = frame.with_columns(
        ((pl.lit(now).dt.replace_time_zone(None) - pl.col("ingested_at").dt.replace_time_zone(None)).dt.total_seconds() / 86400).alias("_age_days")
    )
    exp.append(E.ExpectColumnMinToBeBetween(column="_age_days", max_value=float(spec.cadence_days), meta={"rule": f"freshness: delivered every {spec.cadence_days} day(s)"}))
    # quarantine share of the batch
    total = max(batch.height + quarantined, 1)
    allowed = max(SILVER_QUARANTINE_MAX, SILVER_QUARANTINE_FLOOR / total)  # a small batch may lose a few rows
    frame = frame.with_columns(pl.lit(quarantined / total).alias("_quarantine_share"))
    exp.append(E.ExpectColumnMaxToBeBetween(column="_quarantine_share", max_value=allowed, meta={"rule": f"at most {allowed:.1%} of the batch quarantined"}))
    return Suite(f"silver.{spec.system}", frame, exp)


def gold_suite(spec: TableSpec, frame: pl.DataFrame, address_ids: pl.Series | None, person_ids: pl.Series | None) -> Suite:
    """Rules for a curated table: keys, required fields, checksums, divisions, ranges, references."""
    exp: list = [E.ExpectTableRowCountToBeBetween(min_value=1)]
    keys = list(spec.keys)
    if len(keys) == 1:
        exp.append(E.ExpectColumnValuesToBeUnique(column=keys[0]))
    else:
        exp.append(E.ExpectCompoundColumnsToBeUnique(column_list=keys))
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
        exp.append(E.ExpectColumnValuesToBeInSet(column="_community_known", value_set=[True], meta={"rule": "community code in the Zhejiang table"}))
        exp.append(E.ExpectColumnValuesToBeInSet(column="_district_known", value_set=[True], meta={"rule": "district code in the Zhejiang table"}))
        level = "city_code" if spec.name == "weather_warnings" else "district_code"
        exp.append(E.ExpectColumnValuesToNotBeNull(column=level, mostly=0.95, meta={"rule": "rows carry their divisions"}))
    for col, rules in spec.rules.items():
        if col not in frame.columns:
            continue
        if "valid_id" in rules:
            frame = frame.with_columns(_flag(id_valid_expr(pl.col(col)), pl.col(col).is_not_null()).alias(f"_{col}_valid"))
            exp.append(E.ExpectColumnValuesToBeInSet(column=f"_{col}_valid", value_set=[True], mostly=rules["valid_id"], meta={"rule": "ID checksum (GB 11643)"}))
        if "valid_credit" in rules:
            frame = frame.with_columns(_flag(credit_valid_expr(pl.col(col)), pl.col(col).is_not_null()).alias(f"_{col}_valid"))
            exp.append(E.ExpectColumnValuesToBeInSet(column=f"_{col}_valid", value_set=[True], mostly=rules["valid_credit"], meta={"rule": "credit code checksum (GB 32100)"}))
        if "between" in rules:
            low, high = rules["between"]
            exp.append(E.ExpectColumnValuesToBeBetween(column=col, min_value=low, max_value=high))
        if "in_set" in rules:
            exp.append(E.ExpectColumnValuesToBeInSet(column=col, value_set=rules["in_set"]))
    if "address_id" in frame.columns and address_ids is not None:
        frame = frame.with_columns(_flag(pl.col("address_id").is_in(address_ids.implode()), pl.col("address_id").is_not_null()).alias("_address_known"))
        exp.append(E.ExpectColumnValuesToBeInSet(column="_address_known", value_set=[True], meta={"rule": "address_id exists in the address base"}))
        if spec.name not in ("addresses", "buildings", "weather_warnings"):
            exp.append(E.ExpectColumnValuesToNotBeNull(column="address_id", mostly=0.95, meta={"rule": "address match rate ≥ 95 %"}))
    if "person_id" in frame.columns and person_ids is not None and spec.name != "persons":
        frame = frame.with_columns(_flag(pl.col("person_id").is_in(person_ids.implode()), pl.col("person_id").is_not_null()).alias("_person_known"))
        exp.append(E.ExpectColumnValuesToBeInSet(column="_person_known", value_set=[True], meta={"rule": "person_id exists in golden persons"}))
    return Suite(f"gold.{spec.name}", frame, exp)
