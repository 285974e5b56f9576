"""Faults in delivered files: every record of every file is loaded, quarantined with its reason,
or the whole file is rejected with its reason — counted from the file, never from the parser."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines.ids import id_check_chars
from pipelines.ingest import FILES_TABLE, QUARANTINE_TABLE, REJECTED, REJECTED_FOLDER, build_silver, ingest_bronze
from pipelines.sources import get_spec
from pipelines.sources.readers import count_received
from quality.conservation import row_conservation

HEADER = "户号,姓名,公民身份号码,性别,民族,出生日期,与户主关系,户籍地址,现住址,联系电话"


def _id(i: int) -> str:
    first17 = f"33010219800101{i:03d}"
    return first17 + str(id_check_chars(np.array([[int(c) for c in first17]]))[0])


def _row(i: int) -> str:
    return f"33010200{i:05d},张{chr(0x4E2D + i)},{_id(i)},男,汉族,19800101,户主,东坡路{i}号,东坡路{i}号,138{i:08d}"


def _deliver(landing: Path, system: str, name: str, data: bytes) -> Path:
    folder = landing / system
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def _accounted(wh, system: str) -> dict:
    """received (from the file) vs loaded + quarantined + rejected, from the tables."""
    files = wh.read("bronze", system, FILES_TABLE)
    silver = wh.read("silver", system, get_spec(system).table)
    quarantine = wh.read("quarantine", system, QUARANTINE_TABLE)
    return {
        "received": int(files["received"].fill_null(0).sum()),
        "loaded": silver.height,
        "quarantined": quarantine.height,
        "rejected_files": files.filter(pl.col("status") == "rejected").height,
    }


def test_unterminated_quote_costs_its_own_line_only(landing, wh):
    rows = [_row(i) for i in range(100)]
    rows[3] = '"' + rows[3]  # line 5 of the file: a quote that never closes
    _deliver(landing, "gongan", "register.csv", ("\n".join([HEADER, *rows]) + "\n").encode("gbk"))
    spec = get_spec("gongan")
    bronze = ingest_bronze(spec, landing, wh)
    assert bronze.rejected == []
    build_silver(spec, wh)
    counts = _accounted(wh, "gongan")
    assert counts == {"received": 100, "loaded": 99, "quarantined": 1, "rejected_files": 0}
    q = wh.read("quarantine", "gongan", QUARANTINE_TABLE)
    assert q["source_row"].to_list() == [5] and "unterminated quote" in q["reason"][0]
    assert row_conservation(spec, wh)["balanced"].all()


def test_a_quoted_field_spanning_lines_is_one_row_and_still_balances(landing, wh):
    rows = [_row(i) for i in range(5)]
    rows[2] = rows[2].replace("东坡路2号,东坡路2号", '"东坡路2号\n（老门牌）",东坡路2号')
    _deliver(landing, "gongan", "register.csv", ("\n".join([HEADER, *rows]) + "\n").encode("gbk"))
    spec = get_spec("gongan")
    ingest_bronze(spec, landing, wh)
    build_silver(spec, wh)
    assert _accounted(wh, "gongan") == {"received": 6, "loaded": 5, "quarantined": 0, "rejected_files": 0}
    conservation = row_conservation(spec, wh)
    assert conservation["balanced"].all() and conservation["received"].sum() == 6


def test_conservation_fails_when_the_reader_drops_lines(landing, wh, monkeypatch):
    """The check counts from the file: a reader losing rows is caught, not trusted."""
    import pipelines.ingest as ingest

    real = ingest.read_source_file
    monkeypatch.setattr(ingest, "read_source_file", lambda path, fmt: real(path, fmt).head(3))
    _deliver(landing, "gongan", "register.csv", ("\n".join([HEADER, *[_row(i) for i in range(10)]]) + "\n").encode("gbk"))
    report = ingest_bronze(get_spec("gongan"), landing, wh)
    assert report.rows == 0 and "holds 10 records but 3 could be read" in report.rejected[0]["message"]


@pytest.mark.parametrize(
    ("system", "name", "make", "reason"),
    [
        ("gongan", "dup_header.csv", lambda: (HEADER + ",姓名\n" + _row(1) + ",张一\n").encode("gbk"), "appear more than once"),
        ("gongan", "binary.csv", lambda: b"\x00\x01\x02PK\x03\x04" + bytes(range(256)) * 4, "wrong encoding"),
        ("dianli", "typed_wrong.parquet", None, "column type changed"),
    ],
)
def test_poison_files_are_moved_aside_with_a_reason_and_the_rest_goes_on(district, landing, wh, system, name, make, reason):
    spec = get_spec(system)
    good = sorted((district / "landing" / system).glob(spec.file_glob))[0]
    _deliver(landing, system, good.name, good.read_bytes())
    assert ingest_bronze(spec, landing, wh).rejected == []
    (landing / REJECTED_FOLDER).mkdir()
    (landing / REJECTED_FOLDER).chmod(0o755)  # made by someone else, readable by all
    if make is None:  # a day of readings whose kWh column arrives as text with "abc" in it
        frame = pl.read_parquet(good).with_columns(pl.col("pap_e").cast(pl.String))
        frame = frame.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("abc")).otherwise(pl.col("pap_e")).alias("pap_e"))
        path = landing / system / name
        frame.write_parquet(path)
    else:
        path = _deliver(landing, system, name, make())
    report = ingest_bronze(spec, landing, wh)
    assert [r["file"] for r in report.rejected] == [str(path)]
    assert reason in report.rejected[0]["message"] and name in report.rejected[0]["message"]
    assert not path.exists() and (landing / REJECTED_FOLDER / system / name).exists()
    assert (landing / REJECTED_FOLDER).stat().st_mode & 0o077 == 0  # raw personal data: owner-only
    rejected = wh.read(*REJECTED)
    assert rejected.select("system", "file_name").rows() == [(system, name)] and reason in rejected["reason"][0]
    # the next run does not trip over it again
    assert ingest_bronze(spec, landing, wh).rejected == []


def test_nested_json_value_quarantines_its_row(landing, wh):
    spec = get_spec("shichang")
    records = [{"uniscid": "91330102MA2H0000X0", "entName": f"店{i}", "dom": "东坡路1号"} for i in range(4)]
    records[2]["entName"] = {"zh": "店2", "en": "shop"}
    _deliver(landing, "shichang", "firms.json", json.dumps({"data": records}, ensure_ascii=False).encode())
    ingest_bronze(spec, landing, wh)
    build_silver(spec, wh)
    counts = _accounted(wh, "shichang")
    assert counts["received"] == 4 and counts["loaded"] + counts["quarantined"] == 4 and counts["rejected_files"] == 0
    q = wh.read("quarantine", "shichang", QUARANTINE_TABLE)
    assert q.filter(pl.col("reason").str.contains("nested value in entName")).height == 1


def test_counting_each_format_from_the_file(district):
    for system in ("gongan", "renshe", "qixiang", "dianli", "shichang", "laoling"):
        spec = get_spec(system)
        path = sorted((district / "landing" / system).glob(spec.file_glob))[0]
        from pipelines.sources.readers import read_source_file

        assert count_received(path, spec.format) == read_source_file(path, spec.format).height, system


def test_files_still_uploading_are_not_taken(landing, wh):
    """An upload under a temporary name, or (for a system using markers) without its ``.done``,
    is not a delivery yet; once renamed / marked it is taken once."""
    import dataclasses

    data = ("\n".join([HEADER, *[_row(i) for i in range(5)]]) + "\n").encode("gbk")
    spec = dataclasses.replace(get_spec("gongan"), done_marker=True)
    part = _deliver(landing, "gongan", "register.csv.part", data)
    _deliver(landing, "gongan", ".register.csv", data)
    assert ingest_bronze(spec, landing, wh).ingested == []
    final = part.rename(part.with_name("register.csv"))
    assert ingest_bronze(spec, landing, wh).ingested == []  # no marker yet
    final.with_name("register.csv.done").touch()
    assert ingest_bronze(spec, landing, wh).rows == 5
    assert ingest_bronze(spec, landing, wh).rows == 0  # taken once


def test_a_renamed_column_carrying_data_is_named_with_its_catalogue_field(landing, wh):
    renamed = HEADER.replace("联系电话", "手机")
    _deliver(landing, "gongan", "register.csv", ("\n".join([renamed, *[_row(i) for i in range(5)]]) + "\n").encode("gbk"))
    report = ingest_bronze(get_spec("gongan"), landing, wh)
    assert report.rows == 5 and len(report.drift) == 2, report.drift
    missing, new = report.drift
    assert "联系电话 is missing" in missing and "phone (联系电话)" in missing and "renamed to 手机" in missing
    assert "手机 carries data in 5 rows" in new and "map it to phone" in new
    logged = wh.read("bronze", "gongan", FILES_TABLE)["drift"][0]
    assert "手机" in logged and "联系电话" in logged


def test_a_required_column_missing_rejects_the_file(landing, wh):
    renamed = HEADER.replace("公民身份号码", "身份证")
    _deliver(landing, "gongan", "register.csv", ("\n".join([renamed, *[_row(i) for i in range(3)]]) + "\n").encode("gbk"))
    report = ingest_bronze(get_spec("gongan"), landing, wh)
    assert report.rows == 0 and "missing required column(s) 公民身份号码" in report.rejected[0]["message"]


def test_the_demo_deliveries_have_no_drift(district, landing, wh):
    """No false alarms: every system's own export matches its catalogue mapping."""
    import shutil

    from pipelines.sources import all_specs

    shutil.copytree(district / "landing", landing, dirs_exist_ok=True)
    for spec in all_specs().values():
        assert ingest_bronze(spec, landing, wh).drift == [], spec.system


def test_a_fixed_file_delivered_again_under_the_same_name_is_taken(landing, wh):
    spec = get_spec("gongan")
    _deliver(landing, "gongan", "register.csv", (HEADER + ",姓名\n" + _row(1) + ",张一\n").encode("gbk"))
    assert len(ingest_bronze(spec, landing, wh).rejected) == 1
    _deliver(landing, "gongan", "register.csv", (HEADER + "\n" + _row(1) + "\n").encode("gbk"))
    report = ingest_bronze(spec, landing, wh)
    assert report.rejected == [] and report.rows == 1
    assert (landing / REJECTED_FOLDER / "gongan" / "register.csv").exists()  # the bad one kept aside
