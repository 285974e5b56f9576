"""Bad reference data is refused (the base in force stays); implausible values are quarantined
with their reason; ages are right around 29 February."""

from __future__ import annotations

from datetime import date

import dagster as dg
import polars as pl

from pipelines.dates import age_expr
from pipelines.ingest import QUARANTINE_TABLE, build_silver, ingest_bronze
from pipelines.sources import get_spec
from tests.faults.test_files import HEADER, _deliver, _row
from tests.helpers import resources_for


def _import_base(landing, root, tmp_path, config: dict | None = None):
    from assets.address import address_base

    return dg.materialize(
        [address_base], resources=resources_for(landing, root, tmp_path), raise_on_error=False,
        run_config={"ops": {"address_base": {"config": config}}} if config else None,
    )


def _guard(result) -> dg.AssetCheckEvaluation:
    return next(e for e in result.get_asset_check_evaluations() if e.check_name == "reference_guard")


def test_an_empty_or_shrunken_base_is_refused_and_the_one_in_force_stays(district, tmp_path):
    from warehouse.storage import Warehouse

    landing, root = tmp_path / "landing", tmp_path / "wh"
    good = (district / "landing" / "address_base" / "address_base.csv").read_bytes()
    folder = landing / "address_base"
    folder.mkdir(parents=True)
    (folder / "a_base.csv").write_bytes(good)
    assert _guard(_import_base(landing, root, tmp_path)).passed
    wh = Warehouse(str(root))
    in_force = wh.read("address", "base", "addresses")
    version = wh.table("address", "base", "addresses").version()

    header, *rows = good.decode().splitlines()
    for name, data, reason in [
        ("b_header_only.csv", header + "\n", "no data rows"),
        ("c_shrunken.csv", "\n".join([header, *rows[: int(len(rows) * 0.9)]]) + "\n", "missing from the new base"),
    ]:
        (folder / name).write_text(data, encoding="utf-8")
        check = _guard(_import_base(landing, root, tmp_path))
        assert not check.passed and reason in check.description and "previous base stays in force" in check.description
        assert wh.table("address", "base", "addresses").version() == version
        assert wh.read("address", "base", "addresses").equals(in_force)
    # a deliberate re-coding goes through with force
    assert _guard(_import_base(landing, root, tmp_path, {"force": True})).passed
    assert wh.read("address", "base", "addresses").height == int(len(rows) * 0.9)


def test_implausible_dates_are_quarantined_with_the_reason(landing, wh):
    rows = [_row(i) for i in range(4)]
    rows[1] = rows[1].replace(",19800101,", ",20990101,")  # born in the future
    rows[2] = rows[2].replace(",19800101,", ",19050101,")  # more than 120 years ago
    _deliver(landing, "gongan", "register.csv", ("\n".join([HEADER, *rows]) + "\n").encode("gbk"))
    spec = get_spec("gongan")
    ingest_bronze(spec, landing, wh)
    report = build_silver(spec, wh)
    assert report.silver_rows == 2 and report.quarantined_rows == 2
    q = wh.read("quarantine", "gongan", QUARANTINE_TABLE).sort("source_row")
    assert q["source_row"].to_list() == [3, 4]
    assert all(r.startswith("implausible 出生日期") and "in the future or more than 120 years ago" in r for r in q["reason"]), q["reason"]


def test_age_in_whole_years_around_29_february():
    births = pl.DataFrame({"b": [date(2000, 2, 29), date(2000, 3, 1), date(2000, 2, 28), date(1904, 2, 29)]})
    ages = lambda on: births.select(age_expr(pl.col("b"), on).alias("age"))["age"].to_list()  # noqa: E731
    assert ages(date(2025, 2, 28)) == [24, 24, 25, 120]  # the leap-day child is not a year older yet
    assert ages(date(2025, 3, 1)) == [25, 25, 25, 121]
    assert ages(date(2024, 2, 29)) == [24, 23, 24, 120]  # 1 March in a leap year is still to come


def test_a_birth_after_the_death_is_quarantined_naming_both_columns(landing, wh):
    """No delivered system carries a death date yet; one that does gets the rule from the catalogue."""
    import dataclasses

    spec = get_spec("gongan")
    spec = dataclasses.replace(spec, columns={**spec.columns, "死亡日期": "death_date"})
    rows = [_row(i) + ",20200101" for i in range(3)]
    rows[1] = rows[1][: -len("20200101")] + "19700101"  # died before being born
    _deliver(landing, "gongan", "register.csv", ("\n".join([HEADER + ",死亡日期", *rows]) + "\n").encode("gbk"))
    ingest_bronze(spec, landing, wh)
    report = build_silver(spec, wh)
    assert report.silver_rows == 2 and report.quarantined_rows == 1
    q = wh.read("quarantine", "gongan", QUARANTINE_TABLE)
    assert q["reason"][0] == "出生日期 after 死亡日期: '19800101' > '19700101'" and q["columns"][0] == "出生日期,死亡日期"
