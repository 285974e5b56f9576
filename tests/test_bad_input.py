"""Bad deliveries: each gives a clear error naming the file (and row/column) or a quarantined row.

Nothing crashes another system's ingestion and nothing is dropped silently.
"""

from __future__ import annotations

import shutil

import dagster as dg
from pathlib import Path

import polars as pl

from pipelines.ingest import FILES_TABLE, QUARANTINE_TABLE, build_silver, ingest_bronze
from pipelines.sources import get_spec
from quality.conservation import row_conservation

GONGAN_HEADER = "户号,姓名,公民身份号码,性别,民族,出生日期,与户主关系,户籍地址,现住址,联系电话\n"
GONGAN_ROWS = [
    "3301020000001,张伟,11010519491231002X,男,汉族,19491231,户主,上城区湖滨街道东坡路1号,上城区湖滨街道东坡路1号,13800000001\n",
    "3301020000001,李芳,330102198001010022,女,汉族,19800101,配偶,上城区湖滨街道东坡路1号,上城区湖滨街道东坡路1号,13800000002\n",
]


def _write_gongan(landing: Path, name: str, text: str, encoding: str = "gbk") -> Path:
    folder = landing / "gongan"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def _files_log(wh) -> pl.DataFrame:
    return wh.read("bronze", "gongan", FILES_TABLE)


def test_wrong_encoding_is_rejected_with_file_and_line(landing, wh):
    path = _write_gongan(landing, "utf8_by_mistake.csv", GONGAN_HEADER + "".join(GONGAN_ROWS), encoding="utf-8")
    report = ingest_bronze(get_spec("gongan"), landing, wh)
    assert report.rows == 0
    assert len(report.rejected) == 1
    message = report.rejected[0]["message"]
    assert str(path) in message and "UTF-8" in message and "GBK" in message
    assert _files_log(wh)["status"].to_list() == ["rejected"]


def test_undecodable_byte_names_the_line(landing, wh):
    good = (GONGAN_HEADER + GONGAN_ROWS[0]).encode("gbk")
    folder = landing / "gongan"
    folder.mkdir()
    (folder / "broken.csv").write_bytes(good + b"3301020000002,\xff\xfe,1\n")
    report = ingest_bronze(get_spec("gongan"), landing, wh)
    assert "line 3" in report.rejected[0]["message"]


def test_missing_required_column_is_rejected(landing, wh):
    header = GONGAN_HEADER.replace("公民身份号码,", "")
    rows = [r.replace("11010519491231002X,", "").replace("330102198001010022,", "") for r in GONGAN_ROWS]
    path = _write_gongan(landing, "no_id_column.csv", header + "".join(rows))
    report = ingest_bronze(get_spec("gongan"), landing, wh)
    message = report.rejected[0]["message"]
    assert str(path) in message and "missing required column(s) 公民身份号码" in message


def test_truncated_xlsx_is_rejected(district, landing, wh):
    source = next((district / "landing" / "laoling").glob("*.xlsx"))
    target = landing / "laoling"
    target.mkdir()
    (target / source.name).write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    report = ingest_bronze(get_spec("laoling"), landing, wh)
    assert report.rows == 0
    assert source.name in report.rejected[0]["message"]
    assert "truncated" in report.rejected[0]["message"]


def test_empty_file_is_rejected(landing, wh):
    _write_gongan(landing, "empty.csv", "")
    _write_gongan(landing, "header_only.csv", GONGAN_HEADER)
    report = ingest_bronze(get_spec("gongan"), landing, wh)
    messages = sorted(r["message"] for r in report.rejected)
    assert any("empty.csv" in m and "empty file" in m for m in messages)
    assert any("header_only.csv" in m and "no data rows" in m for m in messages)


def test_same_file_delivered_twice_is_ingested_once(landing, wh):
    text = GONGAN_HEADER + "".join(GONGAN_ROWS)
    _write_gongan(landing, "day1.csv", text)
    first = ingest_bronze(get_spec("gongan"), landing, wh)
    _write_gongan(landing, "day1_resent.csv", text)
    second = ingest_bronze(get_spec("gongan"), landing, wh)
    third = ingest_bronze(get_spec("gongan"), landing, wh)
    assert first.rows == 2 and second.rows == 0 and third.rows == 0
    assert second.duplicates == [{"file": str(landing / "gongan" / "day1_resent.csv"), "same_as": "day1.csv"}]
    assert third.skipped == 2 and not third.duplicates
    assert wh.read("bronze", "gongan", "household_register").height == 2


def test_changed_file_is_a_new_batch(landing, wh):
    _write_gongan(landing, "day1.csv", GONGAN_HEADER + GONGAN_ROWS[0])
    ingest_bronze(get_spec("gongan"), landing, wh)
    _write_gongan(landing, "day1.csv", GONGAN_HEADER + "".join(GONGAN_ROWS))
    report = ingest_bronze(get_spec("gongan"), landing, wh)
    assert report.rows == 2
    bronze = wh.read("bronze", "gongan", "household_register")
    assert bronze["_batch_id"].n_unique() == 2 and bronze.height == 3


def test_a_file_unchanged_on_disk_is_not_read_again_and_a_rewritten_one_is(landing, wh, monkeypatch):
    """Files already seen keep their hash while their size and modification time hold; a file
    rewritten in place (same name, new bytes) is read again and ingested as a new batch."""
    import os

    import pipelines.ingest as ingest

    hashed: list[str] = []
    real = ingest.file_sha256
    monkeypatch.setattr(ingest, "file_sha256", lambda path: hashed.append(path.name) or real(path))
    day1 = _write_gongan(landing, "day1.csv", GONGAN_HEADER + GONGAN_ROWS[0])
    _write_gongan(landing, "day2.csv", GONGAN_HEADER + GONGAN_ROWS[1])
    assert ingest_bronze(get_spec("gongan"), landing, wh).rows == 2 and sorted(hashed) == ["day1.csv", "day2.csv"]
    hashed.clear()
    again = ingest_bronze(get_spec("gongan"), landing, wh)
    assert again.skipped == 2 and hashed == []
    before = day1.stat().st_mtime_ns
    _write_gongan(landing, "day1.csv", GONGAN_HEADER + GONGAN_ROWS[0].replace("13800000001", "13800000009"))  # same size, other bytes
    os.utime(day1, ns=(before + 1_000_000, before + 1_000_000))
    rewritten = ingest_bronze(get_spec("gongan"), landing, wh)
    assert hashed == ["day1.csv"] and rewritten.rows == 1
    assert wh.read("bronze", "gongan", "household_register")["_batch_id"].n_unique() == 3


def test_unknown_extra_column_is_kept_in_bronze_and_reported(landing, wh):
    header = GONGAN_HEADER.rstrip("\n") + ",备注\n"
    rows = [r.rstrip("\n") + ",新增字段\n" for r in GONGAN_ROWS]
    _write_gongan(landing, "extra.csv", header + "".join(rows))
    spec = get_spec("gongan")
    report = ingest_bronze(spec, landing, wh)
    assert list(report.unmapped.values()) == [["备注"]]
    assert wh.read("bronze", "gongan", spec.table)["备注"].to_list() == ["新增字段", "新增字段"]
    silver_report = build_silver(spec, wh)
    assert silver_report.silver_rows == 2
    assert "备注" not in wh.read("silver", "gongan", spec.table).columns


def test_garbage_and_ragged_rows_are_quarantined_with_reasons(landing, wh):
    garbage = "###,#REF!,作废,?,?,昨天,?,?,?,?\n"
    ragged = "3301020000003,王五,330102198001010030\n"
    _write_gongan(landing, "mixed.csv", GONGAN_HEADER + GONGAN_ROWS[0] + garbage + ragged + GONGAN_ROWS[1])
    spec = get_spec("gongan")
    ingest_bronze(spec, landing, wh)
    report = build_silver(spec, wh)
    assert (report.silver_rows, report.quarantined_rows) == (2, 2)
    q = wh.read("quarantine", "gongan", QUARANTINE_TABLE).sort("source_row")
    assert q["source_row"].to_list() == [3, 4]  # file line numbers
    assert "unreadable name in 姓名" in q["reason"][0] and "#REF!" in q["reason"][0]
    assert "unreadable date in 出生日期" in q["reason"][0]
    assert q["reason"][1] == "row has 3 fields, header has 10"
    assert "王五" in q["raw_values"][1]
    counts = row_conservation(spec, wh)
    assert counts["balanced"].all() and counts["bronze_rows"].sum() == 4


def test_broken_system_does_not_stop_the_others(district, tmp_path):
    """One system's unreadable file fails its own check only; every other system lands."""
    from tests.helpers import materialize_all

    landing = tmp_path / "landing"
    shutil.copytree(district / "landing", landing, ignore=shutil.ignore_patterns("dianli_*"))
    for path in (landing / "gongan").glob("*.csv"):
        path.write_bytes(path.read_bytes().decode("gbk").encode("utf-8"))  # wrong encoding
    result = materialize_all(landing, tmp_path / "wh", tmp_path / "quality", raise_on_error=False)
    failed = {(e.asset_key.path[1], e.check_name) for e in result.get_asset_check_evaluations() if not e.passed}
    assert ("gongan", "files_readable") in failed
    # only what is built from the police register is held back at the gate; the rest publishes
    gates = {e.asset_key.path[-1]: e.passed for e in result.get_asset_check_evaluations() if e.check_name == "quality_gate"}
    assert not gates["persons"] and not gates["households"]
    assert gates["welfare"] and gates["grid_events"] and gates["businesses"]
    assert not gates["power_daily"]  # nothing delivered for 电力 in this test: nothing to publish
    # and the two systems with nothing standardised are reported late (a warning, not a block)
    assert failed - {("gongan", "files_readable")} == {("curated", "quality_gate"), ("gongan", "freshness"), ("dianli", "freshness")}
    late = {e.asset_key.path[1]: e.severity for e in result.get_asset_check_evaluations() if e.check_name == "freshness" and not e.passed}
    assert set(late.values()) == {dg.AssetCheckSeverity.WARN}
    from warehouse.storage import Warehouse

    wh = Warehouse(str(tmp_path / "wh"))
    assert wh.read("silver", "laoling", "elderly_residents").height > 0
    assert not wh.exists("silver", "gongan", "household_register")


def test_row_conservation_per_new_batch_and_for_whole_tables(landing, wh):
    """The silver step checks the batches it standardised (read back from the tables) and the whole
    tables from the Delta log: a row lost from silver is caught by both."""
    from quality.conservation import table_totals

    spec = get_spec("gongan")
    _write_gongan(landing, "first.csv", GONGAN_HEADER + GONGAN_ROWS[0])
    ingest_bronze(spec, landing, wh)
    first = build_silver(spec, wh).batches[0]["batch_id"]
    _write_gongan(landing, "second.csv", GONGAN_HEADER + "".join(GONGAN_ROWS))
    ingest_bronze(spec, landing, wh)
    second = build_silver(spec, wh).batches[0]["batch_id"]
    assert row_conservation(spec, wh, [second])["batch_id"].to_list() == [second]
    assert row_conservation(spec, wh, [])["batch_id"].to_list() == []
    assert table_totals(spec, wh) == {"bronze_rows": 3, "silver_rows": 3, "quarantined_rows": 0, "balanced": True}
    wh.table("silver", "gongan", spec.table).delete(f"batch_id = '{second}' AND source_row = 3")  # a row lost
    assert not row_conservation(spec, wh, [second])["balanced"].any()
    assert row_conservation(spec, wh, [first])["balanced"].all()
    assert table_totals(spec, wh) == {"bronze_rows": 3, "silver_rows": 2, "quarantined_rows": 0, "balanced": False}


def test_a_row_lost_in_standardising_fails_the_blocking_check(district, tmp_path, monkeypatch):
    """The silver step's own row_conservation check fails (ERROR, blocking) when standardising
    loses a row, and the address links built from silver do not run."""
    import pipelines.ingest as ingest
    from assets.address import ADDRESSES_KEY, BUILDINGS_KEY, LINKS_KEY, QUEUE_KEY
    from assets.sources import bronze_key, quarantine_key, silver_key
    from tests.helpers import materialize_all

    spec = get_spec("gongan")
    landing = tmp_path / "landing"
    for folder in ("gongan", "address_base"):
        shutil.copytree(district / "landing" / folder, landing / folder)
    standardize = ingest.standardize
    monkeypatch.setattr(ingest, "standardize", lambda bronze, s: (lambda out: (out[0].head(out[0].height - 1), out[1]))(standardize(bronze, s)))
    result = materialize_all(landing, tmp_path / "wh", tmp_path / "quality", raise_on_error=False,
                             selection=[bronze_key(spec), silver_key(spec), quarantine_key(spec), ADDRESSES_KEY, BUILDINGS_KEY, LINKS_KEY, QUEUE_KEY])
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "row_conservation")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "new batches do not add up" in check.description and "bronze rows ≠" in check.description
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert {silver_key(spec), ADDRESSES_KEY} <= materialized and LINKS_KEY not in materialized


def test_dates_delivered_as_dates_standardise_as_the_same_dates_as_text():
    """A Parquet Date column is taken as delivered (no text round trip) and meets the same rules:
    a missing date is a missing required field, a date in the future is implausible."""
    from datetime import date, timedelta

    from pipelines.standardize import standardize

    spec = get_spec("dianli")
    days = [date(2026, 11, 1), None, date.today() + timedelta(days=30), date(2026, 11, 2)]
    lineage = {"_system": "dianli", "_batch_id": "b1", "_source_file": "f.parquet", "_file_hash": "h", "_ingested_at": None}
    rows = {"_source_row": [0, 1, 2, 3], "cons_no": ["A1", "A2", "A3", "A4"], "cons_name": ["张三"] * 4, "elec_addr": ["某路1号"] * 4,
            "pap_e": [1.5, 2.0, 3.0, 4.0], **{k: [v] * 4 for k, v in lineage.items()}}
    typed = pl.DataFrame({**rows, "data_date": days}).with_columns(pl.col("_ingested_at").cast(pl.Datetime("us", "UTC")))
    text = typed.with_columns(pl.col("data_date").cast(pl.String))
    assert typed.schema["data_date"] == pl.Date
    (silver_typed, quarantine_typed), (silver_text, quarantine_text) = standardize(typed, spec), standardize(text, spec)
    assert silver_typed.equals(silver_text) and silver_typed["reading_date"].to_list() == [date(2026, 11, 1), date(2026, 11, 2)]
    assert quarantine_typed.drop("raw_values").equals(quarantine_text.drop("raw_values"))
    reasons = quarantine_typed.sort("source_row")["reason"].to_list()
    assert "required field data_date" in reasons[0] and "implausible" in reasons[1]


def test_each_new_batch_is_handed_over_with_the_rows_written_for_it(landing, wh):
    """build_silver hands the step every new batch with its silver rows as stored (the step audits
    them from memory), a wholly quarantined batch with none."""
    garbage = "###,#REF!,作废,?,?,昨天,?,?,?,?\n"
    _write_gongan(landing, "a.csv", GONGAN_HEADER + "".join(GONGAN_ROWS))
    _write_gongan(landing, "b.csv", GONGAN_HEADER + garbage)
    spec = get_spec("gongan")
    ingest_bronze(spec, landing, wh)
    handed: dict[str, pl.DataFrame] = {}
    report = build_silver(spec, wh, on_batch=lambda batch_id, rows: handed.setdefault(batch_id, rows))
    stored = wh.read("silver", "gongan", spec.table)
    assert sorted(handed) == sorted(b["batch_id"] for b in report.batches) and len(handed) == 2
    for batch_id, rows in handed.items():
        assert rows.sort("source_row").equals(stored.filter(pl.col("batch_id") == batch_id).sort("source_row"))
    assert sorted(rows.height for rows in handed.values()) == [0, 2]
