"""Curated tables behind the quality gates: a corrupted batch is stopped, a fix publishes."""

from __future__ import annotations

import shutil

import polars as pl
import pytest

from pipelines.ids import ID_CHECK_CHARS
from pipelines.quarantine import export_quarantine, replay
from quality.gate import publish
from warehouse.registry import GOLD_BY_NAME
from tests.helpers import materialize_all
from warehouse.storage import Warehouse


def _run(landing, root, quality):
    return materialize_all(landing, root, quality, raise_on_error=False)


def _version(wh, name):
    return wh.table("gold", "curated", name).version()


@pytest.fixture(scope="module")
def lake(district, tmp_path_factory):
    base = tmp_path_factory.mktemp("quality")
    landing = base / "landing"
    shutil.copytree(district / "landing", landing)
    first = _run(landing, base / "wh", base)
    assert first.success
    return base, landing, Warehouse(str(base / "wh"))


def test_clean_district_publishes_every_curated_table(lake):
    base, _, wh = lake
    for name, spec in GOLD_BY_NAME.items():
        gold = wh.read("gold", "curated", name)
        assert gold.height > 0, name
        assert gold.select(pl.struct(list(spec.keys)).is_duplicated().any()).item() is False, name
        if spec.divisions:
            assert {"province_code", "city_code", "district_code", "street_code", "community_code"} <= set(gold.columns)
        for col in spec.lineage:
            assert col in gold.columns, (name, col)
    results = wh.read("quality", "results", "expectations")
    assert results.height > 100 and results["success"].all()
    assert (base / "reports" / "latest.html").exists()
    assert (base / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html").exists()
    cdf = wh.table("gold", "curated", "persons").metadata().configuration
    assert cdf.get("delta.enableChangeDataFeed") == "true"


def test_corrupted_batch_is_stopped_then_a_fix_publishes(lake, district):
    base, landing, wh = lake
    before = {name: _version(wh, name) for name in ("persons", "weather_warnings", "power_daily")}
    # a new 公安 delivery with 5 % of ID check characters wrong
    source = next((district / "landing" / "gongan").glob("gongan_hjrk_2026110[1].csv"))
    lines = source.read_bytes().decode("gb18030").splitlines()
    header, rows = lines[0], lines[1:]
    broken = []
    for i, line in enumerate(rows):
        cells = line.split(",")
        if i % 20 == 0 and len(cells[2]) == 18:
            right = cells[2][-1].upper()
            cells[2] = cells[2][:17] + next(c for c in ID_CHECK_CHARS if c != right)
        broken.append(",".join(cells))
    (landing / "gongan" / "gongan_hjrk_20261105.csv").write_bytes(("\n".join([header, *broken]) + "\n").encode("gbk"))
    # a 气象 delivery whose area-code column is broken (free text instead of codes)
    xml = next((district / "landing" / "qixiang").glob("*.xml")).read_text(encoding="utf-8")
    broken_xml = xml.replace("<areaCode>3301", "<areaCode>上城区3301")
    (landing / "qixiang" / "qixiang_yjxh_202611.xml").write_text(broken_xml, encoding="utf-8")

    result = _run(landing, base / "wh", base)
    assert not result.success  # blocking gates failed
    gates = {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations() if e.check_name == "quality_gate"}
    assert not gates["persons"].passed and "ID checksum" in gates["persons"].description
    assert not gates["weather_warnings"].passed
    assert gates["power_daily"].passed  # other tables still publish
    assert _version(wh, "persons") == before["persons"]
    assert _version(wh, "weather_warnings") == before["weather_warnings"]
    report = (base / "reports" / f"quality_{result.run_id}.html").read_text(encoding="utf-8")
    assert "ID checksum (GB 11643)" in report and "FAILED" in report
    failed = wh.read("quality", "results", "expectations").filter((pl.col("run_id") == result.run_id) & ~pl.col("success"))
    assert set(failed["suite"]) >= {"silver.gongan", "silver.qixiang"}

    # fix: the register re-sends a clean file; the weather rows are corrected and replayed
    clean = source.read_bytes().decode("gb18030").replace("\n", "\r\n", 1)  # same rows, new bytes
    (landing / "gongan" / "gongan_hjrk_20261106.csv").write_bytes(clean.encode("gbk"))
    export = base / "qixiang_fix.csv"
    assert export_quarantine(wh, "qixiang", export) >= 30
    fixed = pl.read_csv(export, infer_schema=False).with_columns(pl.col("areaCode").str.replace("^上城区", "").str.replace("^上城$", "330102"))
    fixed.write_csv(export)
    reports = replay(wh, export)
    assert reports[0].quarantined_rows == 0 and reports[0].silver_rows >= 30
    replayed = wh.read("silver", "qixiang", "weather_warnings").filter(pl.col("replay_of_batch_id").is_not_null())
    assert replayed["replay_of_batch_id"].n_unique() >= 1  # lineage back to the original batches

    result = _run(landing, base / "wh", base)
    assert result.success, [e.description for e in result.get_asset_check_evaluations() if not e.passed]
    assert _version(wh, "persons") > before["persons"]
    assert _version(wh, "weather_warnings") > before["weather_warnings"]


def test_retried_publish_never_duplicates_rows(lake, tmp_path):
    _, _, wh = lake
    spec = GOLD_BY_NAME["weather_warnings"]
    frame = wh.read("gold", "curated", "weather_warnings")
    for _ in range(2):
        outcome, _ = publish(wh, spec, frame, str(tmp_path / "gx"), "retry-test", {})
        assert outcome.passed
    gold = wh.read("gold", "curated", "weather_warnings")
    assert gold.height == frame.height
    staging = wh.table("staging", "curated", "weather_warnings").version()
    assert wh.app_version("gold", "curated", "weather_warnings", "enteronce.publish") == staging
