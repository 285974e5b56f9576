"""Curated tables behind the quality gates, published by MERGE: only real changes move a table."""

from __future__ import annotations

import re
import shutil

import polars as pl
import pytest

from pipelines.ids import ID_CHECK_CHARS, id_valid_expr
from pipelines.quarantine import export_quarantine, list_quarantine, replay, withdraw_batch
from pipelines.sources import feeders
from quality.gate import APP_ID, publish_staged
from tests.helpers import materialize_all
from warehouse.publish import diff_by_key
from warehouse.registry import GOLD, GOLD_BY_NAME
from warehouse.storage import Warehouse


def _run(landing, root, quality):
    return materialize_all(landing, root, quality, raise_on_error=False)


def _versions(wh) -> dict[str, int]:
    return {t.name: wh.table("gold", "curated", t.name).version() for t in GOLD}


def _cdf(wh, name: str, since: int) -> pl.DataFrame:
    return wh.changes("gold", "curated", name, since)


def _gold_steps(result) -> dict[str, bool]:
    """gold table → whether its step succeeded in the run."""
    ok = {e.step_key for e in result.get_step_success_events()}
    failed = {e.step_key for e in result.get_step_failure_events()}
    return {t.name: f"gold__curated__{t.name}" in ok for t in GOLD if f"gold__curated__{t.name}" in ok | failed}


def _gongan_rows(district):
    source = next((district / "landing" / "gongan").glob("gongan_hjrk_20261101.csv"))
    lines = source.read_bytes().decode("gb18030").splitlines()
    return source, lines[0], lines[1:]


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
    assert results.filter(pl.col("suite").str.starts_with("silver."))["batch_id"].null_count() == 0  # audited per batch
    assert (base / "reports" / "latest.html").exists()
    assert wh.table("gold", "curated", "persons").metadata().configuration.get("delta.enableChangeDataFeed") == "true"


def test_rerun_with_no_new_files_commits_nothing(lake):
    base, landing, wh = lake
    before = _versions(wh)
    result = _run(landing, base / "wh", base)
    assert result.success
    assert _versions(wh) == before  # every gold table, not one counter
    gold_materialized = [m for m in result.get_asset_materialization_events() if m.asset_key.path[0] == "gold"]
    assert gold_materialized == []  # nothing downstream wakes up
    decided = wh.read("quality", "results", "publishes").filter(pl.col("run_id") == result.run_id)
    assert decided.height == len(GOLD) and decided["passed"].all() and not decided["published"].any()
    assert (decided["inserted"] + decided["updated"] + decided["deleted"]).sum() == 0


def test_a_one_percent_change_yields_exactly_those_rows_in_the_change_feed(lake, district):
    base, landing, wh = lake
    before = _versions(wh)
    _, header, rows = _gongan_rows(district)
    cols = header.split(",")
    id_col, phone_col = cols.index("公民身份号码"), cols.index("联系电话")
    changed, ids = [], []
    for i, line in enumerate(rows):
        cells = line.split(",")
        if i % 100 == 7 and len(cells) == len(cols) and len(cells[id_col]) == 18:
            cells[phone_col] = f"139{i:08d}"  # a new phone number
            changed.append(",".join(cells))
            ids.append(cells[id_col].upper())
    assert len(changed) >= 10
    (landing / "gongan" / "gongan_hjrk_20261105.csv").write_bytes(("\n".join([header, *changed]) + "\n").encode("gbk"))

    result = _run(landing, base / "wh", base)
    assert result.success
    after = _versions(wh)
    persons = wh.read("gold", "curated", "persons")
    expected = set(persons.filter(pl.col("id_number").is_in(ids))["person_id"])
    assert len(expected) == len(set(ids))
    feed = _cdf(wh, "persons", before["persons"] + 1)
    assert set(feed["_change_type"]) == {"update_preimage", "update_postimage"}
    assert set(feed["person_id"]) == expected and feed.height == 2 * len(expected)
    post = feed.filter(pl.col("_change_type") == "update_postimage")
    assert post["phone"].str.starts_with("139").all()
    elderly = _cdf(wh, "elderly", before["elderly"] + 1) if after["elderly"] > before["elderly"] else pl.DataFrame({"person_id": []})
    assert set(elderly["person_id"]) == expected & set(wh.read("gold", "curated", "elderly")["person_id"])
    # tables built from nothing that changed stay at their versions, and are not even built
    untouched = ("addresses", "buildings", "businesses", "inspections", "grid_events", "weather_warnings", "power_daily", "welfare", "disability", "retirees")
    for name in (*untouched, "households"):
        assert after[name] == before[name], name
    decided = wh.read("quality", "results", "publishes").filter(pl.col("run_id") == result.run_id)
    assert set(decided.filter(~pl.col("built"))["table"]) == set(untouched)


def test_one_failing_gate_holds_back_its_tables_alone_then_a_fix_publishes(lake, district):
    base, landing, wh = lake
    before = _versions(wh)
    # a new 公安 delivery with 5 % of ID check characters wrong
    _, header, rows = _gongan_rows(district)
    broken = []
    for i, line in enumerate(rows):
        cells = line.split(",")
        if i % 20 == 0 and len(cells[2]) == 18:
            right = cells[2][-1].upper()
            cells[2] = cells[2][:17] + next(c for c in ID_CHECK_CHARS if c != right)
        broken.append(",".join(cells))
    (landing / "gongan" / "gongan_hjrk_20261106.csv").write_bytes(("\n".join([header, *broken]) + "\n").encode("gbk"))
    # a 气象 delivery whose area-code column is broken (free text instead of codes)
    xml = next((district / "landing" / "qixiang").glob("*.xml")).read_text(encoding="utf-8")
    (landing / "qixiang" / "qixiang_yjxh_202611.xml").write_text(xml.replace("<areaCode>3301", "<areaCode>上城区3301"), encoding="utf-8")

    result = _run(landing, base / "wh", base)
    assert not result.success  # blocking gates failed
    gates = {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations() if e.check_name == "quality_gate"}
    assert not gates["persons"].passed and "ID checksum" in gates["persons"].description
    assert not gates["weather_warnings"].passed
    steps = _gold_steps(result)
    blocked = {t.name for t in GOLD if {"gongan", "qixiang"} & set(feeders(t.name))}
    assert {name for name, ok in steps.items() if not ok} == blocked  # a failing gate fails its table alone
    assert all(gates[name].passed for name in set(gates) - blocked)
    after = _versions(wh)
    for name in blocked:
        assert after[name] == before[name], name
    written = base / "reports" / f"quality_{result.run_id}.html"
    report = written.read_text(encoding="utf-8")
    assert "身份证号校验位正确（GB 11643）" in report and "未通过" in report and "FAILED" not in report
    # what to fix: the offending values (masked) with system, file and row — and that row of the file is the broken one
    located = re.findall(r"值 (\d{6}\*+[0-9X]{4}) · 公安 户籍 · 文件 gongan_hjrk_20261106\.csv · 第 (\d+) 行", report)
    assert located, "no offending value with its file and row in the report"
    lines = (landing / "gongan" / "gongan_hjrk_20261106.csv").read_bytes().decode("gbk").splitlines()
    for shown, row in located:  # 第 n 行 counts lines as an editor does: the header is line 1
        id_number = lines[int(row) - 1].split(",")[2]
        assert not pl.select(id_valid_expr(pl.lit(id_number))).item() and shown[:6] == id_number[:6] and shown[-4:] == id_number[-4:], (row, id_number)
    # `quality report` rewrites the run's report from what the run stored: the same page, not today's facts
    written.unlink()
    from click.testing import CliRunner

    from cli.main import main

    again = CliRunner().invoke(main, ["quality", "report", "--warehouse", str(base / "wh"), "--out", str(base / "reports"), "--run", result.run_id, "--xlsx"])
    assert again.exit_code == 0, again.output
    assert written.read_text(encoding="utf-8") == report
    sheets = pl.read_excel(base / "reports" / f"quality_{result.run_id}.xlsx", sheet_id=0)
    assert {"检查对象", "规则", "字段", "问题值及位置"} <= set(sheets["未通过的规则"].columns)
    failed = wh.read("quality", "results", "expectations").filter((pl.col("run_id") == result.run_id) & ~pl.col("success"))
    assert set(failed["suite"]) >= {"silver.gongan", "silver.qixiang"}

    # a clean file alone does not unblock: the bad batch is still unpublished and audited
    source, _, _ = _gongan_rows(district)
    clean = source.read_bytes().decode("gb18030").replace("\n", "\r\n", 2)  # same rows, new bytes
    (landing / "gongan" / "gongan_hjrk_20261106b.csv").write_bytes(clean.encode("gbk"))
    result = _run(landing, base / "wh", base)
    gates = {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations() if e.check_name == "quality_gate"}
    assert not gates["persons"].passed and "ID checksum" in gates["persons"].description

    # fix: the register's bad batch is withdrawn and a clean file re-sent; the weather rows are
    # corrected and replayed
    files = wh.read("bronze", "gongan", "_files")
    bad_batch = files.filter(pl.col("file_name") == "gongan_hjrk_20261106.csv")["batch_id"][0]
    assert withdraw_batch(wh, "gongan", bad_batch, "公安 re-sent the export") > 0
    assert wh.read("silver", "gongan", "household_register").filter(pl.col("batch_id") == bad_batch).height == 0
    clean = source.read_bytes().decode("gb18030").replace("\n", "\r\n", 1)  # same rows, new bytes
    (landing / "gongan" / "gongan_hjrk_20261107.csv").write_bytes(clean.encode("gbk"))
    export = base / "qixiang_fix.csv"
    assert export_quarantine(wh, "qixiang", export) >= 30
    fixed = pl.read_csv(export, infer_schema=False).with_columns(pl.col("areaCode").str.replace("^上城区", "").str.replace("^上城$", "330102"))
    fixed.write_csv(export)
    reports = replay(wh, export)
    assert reports[0].quarantined_rows == 0 and reports[0].silver_rows >= 30
    # replayed rows leave the open quarantine; replaying the same rows again adds nothing
    assert list_quarantine(wh, "qixiang").filter(pl.col("reason").str.contains("areaCode|区划")).height == 0
    silver_before = wh.read("silver", "qixiang", "weather_warnings").height
    again = replay(wh, export)
    assert again[0].silver_rows == 0 and wh.read("silver", "qixiang", "weather_warnings").height == silver_before
    replayed = wh.read("silver", "qixiang", "weather_warnings").filter(pl.col("replay_of_batch_id").is_not_null())
    assert replayed["replay_of_batch_id"].n_unique() >= 1  # lineage back to the original batches

    result = _run(landing, base / "wh", base)
    assert result.success, [e.description for e in result.get_asset_check_evaluations() if not e.passed]
    assert _versions(wh)["persons"] > before["persons"]


def test_a_retried_publish_applies_once(lake):
    _, _, wh = lake
    spec = GOLD_BY_NAME["weather_warnings"]
    gold = wh.read("gold", "curated", spec.name)
    changed = gold.with_columns(pl.when(pl.int_range(pl.len()) < 3).then(pl.lit("retry test")).otherwise(pl.col("description")).alias("description"))
    changes, counts = diff_by_key(gold, changed, spec.keys)
    assert counts.updated == 3
    staging = wh.write(changes, "staging", "curated", spec.name, mode="overwrite", schema_mode="overwrite")
    first = publish_staged(wh, spec, staging)
    assert first is not None and wh.app_version("gold", "curated", spec.name, APP_ID) == staging
    # the same staged change set again (a retry after an ambiguous commit): nothing is applied
    assert publish_staged(wh, spec, staging) is None
    assert wh.table("gold", "curated", spec.name).version() == first
    assert wh.read("gold", "curated", spec.name).height == gold.height
    # put the table back as the pipeline built it, for the tests after this one
    back, _ = diff_by_key(wh.read("gold", "curated", spec.name), gold, spec.keys)
    assert publish_staged(wh, spec, wh.write(back, "staging", "curated", spec.name, mode="overwrite", schema_mode="overwrite")) is not None


def test_a_new_day_of_power_readings_is_added_from_its_batch_alone(lake, district):
    base, landing, wh = lake
    before = _versions(wh)
    last = max((landing / "dianli").glob("*.parquet"))
    readings = pl.read_parquet(last)
    day = readings["data_date"].max() + __import__("datetime").timedelta(days=1)
    readings.with_columns(pl.lit(day).alias("data_date")).write_parquet(landing / "dianli" / f"dianli_rydl_{day:%Y%m%d}.parquet")
    result = _run(landing, base / "wh", base)
    assert result.success
    decided = wh.read("quality", "results", "publishes").filter((pl.col("run_id") == result.run_id) & (pl.col("table") == "power_daily")).row(0, named=True)
    added = wh.read("silver", "dianli", "meter_readings").filter(pl.col("reading_date") == day).height
    assert (decided["inserted"], decided["updated"], decided["deleted"]) == (added, 0, 0)
    feed = _cdf(wh, "power_daily", before["power_daily"] + 1)
    assert feed.height == added and set(feed["_change_type"]) == {"insert"} and set(feed["reading_date"]) == {day}
    # built from the new batch alone: the whole table was not read back for a diff
    included = wh.read("quality", "results", "published_batches").filter(pl.col("table") == "power_daily")
    assert included["batch_id"].n_unique() == wh.read("silver", "dianli", "_batches")["batch_id"].n_unique()
    after = _versions(wh)
    assert {n for n in after if after[n] != before[n]} == {"power_daily"}


def test_gate_trend_keeps_runs_apart_whose_labels_would_be_the_same():
    """Two runs decided in one minute with ids that begin alike get a column each (the report of
    the second run used to fail on a duplicate column)."""
    from datetime import datetime, timezone

    from quality.report import gate_trend

    at = datetime(2026, 12, 4, 8, 30, 5, tzinfo=timezone.utc)
    decided = pl.DataFrame({
        "run_id": ["abc-1", "abc-2", "abc-1", "abc-2"], "table": ["persons", "persons", "elderly", "elderly"],
        "passed": [True, False, True, True], "built": [True, True, False, True],
        "decided_at": [at, at.replace(second=40), at, at.replace(second=41)],
    })
    trend = gate_trend(decided, until="abc-2")
    assert trend.width == 3 and trend.height == 2
    assert sorted(trend.columns[1:]) == ["12-04 16:30 abc-1", "12-04 16:30 abc-2"]
    persons = trend.filter(pl.col("表").str.contains("persons|人口"))
    assert persons.height == 1 and persons.row(0)[1:] == ("通过", "未通过")


def test_the_places_section_is_counted_once_per_state_of_the_lake(wh, monkeypatch):
    """Each gold step rewrites the run's report: the per-community count over every address link
    is reused while the tables it comes from keep their versions, and counted again when one moves."""
    from quality import report

    wh.write(pl.DataFrame({"address_id": ["A1", "A2"], "street_code": ["S1"] * 2, "street_name": ["一街道"] * 2,
                           "community_code": ["C1", "C2"], "community_name": ["一社区", "二社区"]}), "address", "base", "addresses")
    links = pl.DataFrame({"address_key": ["k1", "k2", "k3"], "address_id": ["A1", "A2", None], "decision": ["accept", "accept", "reject"]})
    wh.write(links, "address", "links", "address_links")
    first = report.places(wh, None)
    assert first["地址值"].sum() == 3
    counted, real = [], report._count_places
    monkeypatch.setattr(report, "_count_places", lambda *a: counted.append(1) or real(*a))
    assert report.places(wh, None).equals(first) and counted == []
    wh.write(links.head(1), "address", "links", "address_links", mode="append")
    assert report.places(wh, None)["地址值"].sum() == 4 and counted == [1]


def test_the_places_section_places_a_value_by_its_address_else_by_its_best_candidate(wh):
    from quality import report

    wh.write(pl.DataFrame({"address_id": ["A1", "A2"], "street_code": ["S1"] * 2, "street_name": ["一街道"] * 2,
                           "community_code": ["C1", "C2"], "community_name": ["一社区", "二社区"]}), "address", "base", "addresses")
    wh.write(pl.DataFrame({"address_key": ["k1", "k2", "k3", "k4"], "address_id": ["A1", "A2", None, None],
                           "decision": ["accept", "accept", "review", "no_candidate"]}), "address", "links", "address_links")
    wh.write(pl.DataFrame({"address_key": ["k3"], "candidates": [[{"address_id": "A2", "score": 0.9}, {"address_id": "A1", "score": 0.8}]]}),
             "address", "review", "queue")
    counted = {row["社区"]: (row["地址值"], row["待复核"], row["未匹配"]) for row in report._count_places(wh, None).iter_rows(named=True)}
    assert counted == {"一社区": (1, 0, 0), "二社区": (2, 1, 0), report.UNPLACED: (1, 0, 1)}


def test_a_whole_by_batch_table_is_published_a_group_of_batches_at_a_time(lake, tmp_path, monkeypatch):
    """A first load of power_daily built group by group equals the table built at once; a rebuild
    of the same rows changes nothing; a withdrawn batch's rows are deleted by the next rebuild."""
    import pipelines.gold
    import quality.gate as gate

    _, _, shared = lake
    shutil.copytree(shared.root, tmp_path / "wh")
    wh = Warehouse(str(tmp_path / "wh"))
    spec, keys = GOLD_BY_NAME["power_daily"], list(GOLD_BY_NAME["power_daily"].keys)
    published = wh.read("gold", "curated", "power_daily").sort(keys)
    batches = wh.read("silver", "dianli", "_batches")
    monkeypatch.setattr(pipelines.gold, "CHUNK_ROWS", int(batches["silver_rows"].max()))  # one batch per group
    monkeypatch.setattr(gate, "_unchanged_inputs", lambda *a: False)
    monkeypatch.setattr(gate, "_new_batches", lambda *a: None)  # as after the address links were recomputed
    groups = pipelines.gold.batch_groups(wh, "power_daily")
    assert len(groups) == batches["batch_id"].n_unique() > 1

    version = wh.table("gold", "curated", "power_daily").version()
    again = gate.curate_table(wh, spec, "rebuild")
    assert again.passed and again.changes.total == 0 and not again.published
    assert wh.table("gold", "curated", "power_daily").version() == version  # nothing changed: no commit

    shutil.rmtree(tmp_path / "wh" / "gold" / "curated" / "power_daily")  # a first load
    first = gate.curate_table(wh, spec, "first-load")
    assert first.passed and first.changes.as_dict() == {"inserted": published.height, "updated": 0, "deleted": 0}
    assert first.rows == published.height
    assert wh.read("gold", "curated", "power_daily").sort(keys).equals(published.select(wh.read("gold", "curated", "power_daily").columns))

    withdrawn = groups[0][0]
    gone = wh.read("silver", "dianli", "meter_readings").filter(pl.col("batch_id") == withdrawn).select(keys).unique().height
    withdraw_batch(wh, "dianli", withdrawn, "test: delivered by mistake")
    after = gate.curate_table(wh, spec, "after-withdrawal")
    assert after.passed and after.changes.deleted == gone > 0
    assert wh.read("gold", "curated", "power_daily").filter(pl.col("batch_id") == withdrawn).height == 0


def test_a_by_batch_table_asks_for_the_memory_slot_only_for_a_large_build(lake, tmp_path, monkeypatch):
    """A new day of readings is built without the memory slot (beside the person master); a whole
    build, or a backlog of more than LARGE_BUILD_ROWS new rows, asks for it first."""
    import pipelines.gold
    import quality.gate as gate

    _, _, shared = lake
    shutil.copytree(shared.root, tmp_path / "wh")
    wh = Warehouse(str(tmp_path / "wh"))
    one_day = wh.read("silver", "dianli", "_batches")["batch_id"][:1].to_list()
    whole = int(wh.read("silver", "dianli", "_batches")["silver_rows"].sum())
    monkeypatch.setattr(pipelines.gold, "LARGE_BUILD_ROWS", whole - 1)  # the test district's 电力 stands for a million readings
    assert pipelines.gold.is_large_build(wh, "power_daily", None)
    assert not pipelines.gold.is_large_build(wh, "power_daily", one_day)
    assert not pipelines.gold.is_large_build(wh, "weather_warnings", None)  # a small system built whole
    assert not pipelines.gold.is_large_build(wh, "persons", None)  # not built from batches
    monkeypatch.setattr(pipelines.gold, "LARGE_BUILD_ROWS", 0)
    assert pipelines.gold.is_large_build(wh, "power_daily", one_day)  # a backlog
    monkeypatch.setattr(pipelines.gold, "LARGE_BUILD_ROWS", whole - 1)

    asked: list[str] = []
    monkeypatch.setattr(gate, "_unchanged_inputs", lambda *a: False)
    monkeypatch.setattr(gate, "_new_batches", lambda *a: one_day)  # a scoped build of one day
    assert gate.curate_table(wh, GOLD_BY_NAME["power_daily"], "one-day", before_large_build=lambda: asked.append("one-day")).passed
    monkeypatch.setattr(gate, "_new_batches", lambda *a: None)  # as after the address links were recomputed
    assert gate.curate_table(wh, GOLD_BY_NAME["power_daily"], "whole", before_large_build=lambda: asked.append("whole")).passed
    assert gate.curate_table(wh, GOLD_BY_NAME["weather_warnings"], "weather", before_large_build=lambda: asked.append("weather")).passed
    assert asked == ["whole"]


def test_a_failing_group_stops_a_whole_build_there_and_the_next_build_goes_on(lake, tmp_path, monkeypatch):
    """The groups before a failing one stay published and recorded; the failing group's rows are
    not published; once the bad rows are gone the next build publishes the rest."""
    import pipelines.gold
    import quality.gate as gate

    _, _, shared = lake
    shutil.copytree(shared.root, tmp_path / "wh")
    wh = Warehouse(str(tmp_path / "wh"))
    spec, keys = GOLD_BY_NAME["power_daily"], list(GOLD_BY_NAME["power_daily"].keys)
    published = wh.read("gold", "curated", "power_daily")
    monkeypatch.setattr(pipelines.gold, "CHUNK_ROWS", int(wh.read("silver", "dianli", "_batches")["silver_rows"].max()))
    monkeypatch.setattr(gate, "_unchanged_inputs", lambda *a: False)
    groups = pipelines.gold.batch_groups(wh, "power_daily")
    shutil.rmtree(tmp_path / "wh" / "gold" / "curated" / "power_daily")  # a first load
    wh.write(pl.DataFrame(schema={"table": pl.String, "system": pl.String, "batch_id": pl.String}), "quality", "results", "published_batches", mode="overwrite")
    good = gate.BUILDERS["power_daily"]
    bad = groups[1]
    monkeypatch.setitem(gate.BUILDERS, "power_daily", lambda w, batches: good(w, batches).with_columns(
        pl.when(pl.lit(batches == bad)).then(pl.lit(9999.0)).otherwise(pl.col("kwh")).alias("kwh")))  # beyond the rule's 0–500
    failed = gate.curate_table(wh, spec, "bad-group")
    assert not failed.passed and failed.published
    first = good(wh, groups[0])
    assert wh.read("gold", "curated", "power_daily").sort(keys).select(keys).equals(first.select(keys).sort(keys))
    assert set(wh.read("quality", "results", "published_batches")["batch_id"]) == set(groups[0])
    monkeypatch.setitem(gate.BUILDERS, "power_daily", good)
    done = gate.curate_table(wh, spec, "fixed")
    assert done.passed
    assert wh.read("gold", "curated", "power_daily").sort(keys).equals(published.select(wh.read("gold", "curated", "power_daily").columns).sort(keys))


def test_the_quality_report_is_written_once_when_the_run_is_over(lake, district, tmp_path):
    """A gold step links the run's report and leaves it to be written after the run: the
    quality_reports sensor (the daemon's way) writes it once, with its stored facts."""
    import dagster as dg

    from assets.report import REPORT_LINK, quality_reports
    from assets.resources import QualityResource, WarehouseResource
    from quality.report import report_path, stored_facts

    _, landing, shared = lake
    shutil.copytree(landing, tmp_path / "landing")
    shutil.copytree(shared.root, tmp_path / "wh")
    _, header, rows = _gongan_rows(district)
    cells = next(r for r in rows if len(r.split(",")[header.split(",").index("公民身份号码")]) == 18).split(",")
    cells[header.split(",").index("联系电话")] = "13900000077"
    (tmp_path / "landing" / "gongan" / "gongan_hjrk_20261121.csv").write_bytes(f"{header}\n{','.join(cells)}\n".encode("gbk"))
    wh = Warehouse(str(tmp_path / "wh"))
    resources = {"warehouse": WarehouseResource(root=str(tmp_path / "wh")), "quality": QualityResource(reports=str(tmp_path / "reports"))}
    with dg.instance_for_test() as instance:
        result = materialize_all(tmp_path / "landing", tmp_path / "wh", tmp_path, instance, report=False)
        assert result.success
        links = {str(e.metadata[REPORT_LINK].value) for e in result.get_asset_check_evaluations() if REPORT_LINK in e.metadata}
        path = report_path(tmp_path / "reports", result.run_id)
        assert links == {str(path)}  # the persons gate built, and links the run's one report
        assert not path.exists() and stored_facts(wh, result.run_id) is None  # no step wrote it
        with dg.build_sensor_context(instance=instance, resources=resources) as ctx:
            said = quality_reports(ctx)
            cursor = ctx.cursor
        assert "1 report(s) written" in said.skip_message
        assert path.exists() and stored_facts(wh, result.run_id) is not None
        with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as ctx:
            assert "0 report(s) written for 0 finished" in quality_reports(ctx).skip_message  # once
        with dg.build_sensor_context(instance=instance, resources=resources) as ctx:
            assert "0 report(s) written for 1 finished" in quality_reports(ctx).skip_message  # a run with its report already


def test_a_reused_validation_sees_each_frame_and_each_change_of_rules():
    """Validations are registered once per set of rules (quality/gx_run.py): a second frame under
    the same rules is judged on its own values, and changed rules are the ones applied."""
    from quality.gx_run import distinct_values_frame, run_suite
    from quality.suites import Suite, _expectations

    E = _expectations()

    def kwh_rule(high: float) -> list:
        return [E.ExpectColumnValuesToBeBetween(column="kwh", min_value=0, max_value=high), E.ExpectColumnValuesToNotBeNull(column="source_row")]

    def failed(frame: pl.DataFrame, high: float) -> list[tuple[str, int]]:
        results = run_suite(Suite("silver.probe", frame, kwh_rule(high), locators=("source_row",)), "r")
        return results.filter(~pl.col("success")).select("column", "unexpected_count").rows()

    clean = pl.DataFrame({"kwh": [1.0, 2.0, 3.0], "source_row": [0, 1, 2]})
    spiky = pl.DataFrame({"kwh": [1.0, 900.0, 800.0], "source_row": [0, 1, 2]})
    assert failed(clean, 500) == []
    assert failed(spiky, 500) == [("kwh", 2)]  # same rules, the new frame's values
    assert failed(spiky, 850) == [("kwh", 1)]  # new bound, new verdict
    assert failed(spiky, 1000) == []
    # values padded to one length cycle through each column's distinct values
    padded = distinct_values_frame(pl.DataFrame({"a": [1, 2, 3, 4, 5], "b": ["x", "x", "y", "x", "y"]}))
    assert padded.to_dict(as_series=False) == {"a": [1, 2, 3, 4, 5], "b": ["x", "y", "x", "y", "x"]}


def test_a_column_checked_only_for_presence_reaches_great_expectations_as_two_values():
    """An account number checked only for presence is one value and a null for GX, however many
    accounts; the verdict and the counts (rows breaking the rule, of all rows) stay those of the rows."""
    from quality.gx_run import _presence_only, distinct_values_frame, run_suite
    from quality.suites import Suite, _expectations

    E = _expectations()
    frame = pl.DataFrame({"account": [f"A{i}" for i in range(997)] + [None] * 3, "kwh": [float(i % 7) for i in range(1000)]})
    suite = Suite("gold.probe", frame, [E.ExpectColumnValuesToNotBeNull(column="account"), E.ExpectColumnValuesToBeBetween(column="kwh", min_value=0, max_value=5)], locators=("account",))
    assert _presence_only(suite) == {"account"}
    assert distinct_values_frame(frame, _presence_only(suite)).height == 7  # the 7 kWh values, not 998 accounts
    results = {r["column"]: r for r in run_suite(suite, "r").iter_rows(named=True)}
    assert not results["account"]["success"] and (results["account"]["element_count"], results["account"]["unexpected_count"]) == (1000, 3)
    assert not results["kwh"]["success"] and results["kwh"]["unexpected_count"] == 1000 // 7  # the rows with 6.0
    assert run_suite(Suite("gold.probe", frame.drop_nulls(), suite.expectations, locators=("account",)), "r")["success"].to_list() == [True, False]


def test_a_diff_against_no_published_rows_inserts_every_row_in_the_published_types():
    """With no published row under the new keys every row is an insert, cast as the table is."""
    published = pl.DataFrame({"k": ["a"], "v": [1]}, schema={"k": pl.String, "v": pl.Int64})
    new = pl.DataFrame({"k": ["b", "c"], "v": [2, 3]}, schema={"k": pl.String, "v": pl.Int32})
    changes, counts = diff_by_key(published.clear().lazy(), new, ["k"])  # keys in range, none published
    assert counts.as_dict() == {"inserted": 2, "updated": 0, "deleted": 0}
    assert changes.schema["v"] == pl.Int64 and changes.sort("k")["k"].to_list() == ["b", "c"]
    changes, counts = diff_by_key(published.lazy(), new, ["k"])  # the same rows against a published one
    assert counts.as_dict() == {"inserted": 2, "updated": 0, "deleted": 1}


def test_a_diff_sees_every_kind_of_changed_value_and_nothing_else():
    """Values swapped between two columns, null against an empty string, one element of a list,
    one day of a date: each an update of its row alone; the same rows: no change at all."""
    from datetime import date

    published = pl.DataFrame({
        "k": [1, 2, 3, 4, 5], "x": ["a", "b", None, "d", "e"], "y": ["b", "a", "c", None, "f"],
        "l": [["p"], ["q", "r"], [], None, ["s"]], "d": [date(2026, 1, i) for i in range(1, 6)],
    })
    changed = published.with_columns(
        pl.when(pl.col("k") == 1).then(pl.col("y")).otherwise(pl.col("x")).alias("x"),
        pl.when(pl.col("k") == 1).then(pl.col("x")).otherwise(pl.col("y")).alias("y"),  # 1: x and y swapped
    ).with_columns(
        pl.when(pl.col("k") == 3).then(pl.lit("")).otherwise(pl.col("x")).alias("x"),  # 3: null → ""
        pl.when(pl.col("k") == 2).then(pl.lit(["q", "s"])).otherwise(pl.col("l")).alias("l"),  # 2: one element
        pl.when(pl.col("k") == 4).then(pl.lit(date(2026, 1, 5))).otherwise(pl.col("d")).alias("d"),  # 4: one day
    )
    changes, counts = diff_by_key(published.lazy(), changed, ["k"])
    assert counts.as_dict() == {"inserted": 0, "updated": 4, "deleted": 0}
    assert sorted(changes["k"].to_list()) == [1, 2, 3, 4]
    assert diff_by_key(published.lazy(), published, ["k"])[1].total == 0
