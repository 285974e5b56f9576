"""End to end through Dagster: generated district → bronze → silver/quarantine in a temp warehouse."""

from __future__ import annotations

import shutil

import dagster as dg
import polars as pl
import pytest

from assets.definitions import defs
from assets.resources import LandingResource
from tests.conftest import POWER_DAYS
from tests.helpers import materialize_all
from pipelines.ingest import QUARANTINE_TABLE
from pipelines.sources import all_specs
from warehouse.registry import GOLD_BY_NAME
from warehouse.storage import Warehouse


@pytest.fixture(scope="module")
def run(district, tmp_path_factory):
    root = tmp_path_factory.mktemp("wh")
    instance = dg.DagsterInstance.ephemeral()
    first = materialize_all(district / "landing", root, root.parent / "quality", instance)
    second = materialize_all(district / "landing", root, root.parent / "quality", instance)
    return first, second, Warehouse(str(root))


def test_definitions_load():
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    for spec in all_specs().values():
        assert f"bronze/{spec.system}/{spec.table}" in keys
        assert f"silver/{spec.system}/{spec.table}" in keys
        assert f"quarantine/{spec.system}/{QUARANTINE_TABLE}" in keys
    assert len(all_specs()) == 14  # 13 departmental systems and the corrections collected from the nodes
    sensors = {s.name for s in repo.sensor_defs}
    assert {f"landing_{s}" for s in all_specs()} | {"landing_address_base", "automation", "notify_run_failure", "notify_check_failures", "quality_reports", "sync_on_gold_change"} == sensors
    assert repo.has_schedule_def("sync_collect_corrections") and repo.has_job("sync_up") and repo.has_job("sync_down")
    assert repo.has_schedule_def("daily_ingest")
    for table in GOLD_BY_NAME:  # one asset per curated table, each with its own gate
        key = dg.AssetKey(["gold", "curated", table])
        assert repo.asset_graph.get(key).automation_condition is not None
        assert dg.AssetCheckKey(key, "quality_gate") in repo.asset_graph.asset_check_keys


def test_every_check_passes(run):
    first, _, _ = run
    assert first.success
    evaluations = first.get_asset_check_evaluations()
    # files_readable, columns_as_catalogued, row_conservation, batch_quality, freshness per system,
    # the base's reference_guard, every_address_linked, three person checks, one gate per curated table
    assert len(evaluations) == 5 * 14 + 1 + 1 + 3 + 13
    assert all(e.passed for e in evaluations), [e.description for e in evaluations if not e.passed]


def test_counts_match_ground_truth(run, district):
    _, _, wh = run
    truth = pl.read_parquet(district / "truth" / "records.parquet")
    accounts = pl.read_parquet(district / "truth" / "dianli_accounts.parquet")
    missing_kwh = pl.read_parquet(district / "truth" / "dianli_missing.parquet")
    for spec in all_specs().values():
        bronze = wh.read("bronze", spec.system, spec.table)
        silver = wh.read("silver", spec.system, spec.table)
        quarantine = wh.read("quarantine", spec.system, QUARANTINE_TABLE)
        if spec.on_demand:  # corrections come from the nodes' inboxes: none in a generated district
            assert bronze.height == silver.height == quarantine.height == 0
            continue
        if spec.system == "dianli":
            expected_rows, expected_q = accounts.height * POWER_DAYS, missing_kwh.select("file", "source_row")
        else:
            rows = truth.filter(pl.col("system") == spec.system)
            expected_rows = rows.height
            expected_q = rows.filter(pl.col("expect") == "quarantine").select("file", "source_row")
        assert bronze.height == expected_rows, spec.system
        assert silver.height + quarantine.height == bronze.height, spec.system
        got_q = quarantine.select(pl.col("source_file").str.split("/").list.last().alias("file"), "source_row")
        # exactly the rows the generator made unusable are quarantined, no more, no fewer
        assert sorted(got_q.rows()) == sorted(expected_q.rows()), spec.system
        assert quarantine["reason"].null_count() == 0
        for col in ("source_system", "batch_id", "source_file", "source_row"):
            assert silver[col].null_count() == 0, (spec.system, col)


def test_address_links_cover_every_address(run, district):
    _, _, wh = run
    links = wh.read("address", "links", "address_links")
    assert links.height > 0
    assert set(links["source_system"].unique()) >= {"gongan", "laoling", "dianli", "zongzhi", "shichang"}
    accepted = links.filter(pl.col("decision") == "accept")
    assert accepted.height / links.height > 0.97
    # accepted links agree with the ground truth of the records they came from
    truth = pl.read_parquet(district / "truth" / "records.parquet").filter(pl.col("system") == "laoling")
    laoling = accepted.filter(pl.col("source_system") == "laoling").join(
        wh.read("silver", "laoling", "elderly_residents").select("batch_id", "source_row", pl.col("source_file").str.split("/").list.last().alias("file")),
        on=["batch_id", "source_row"],
    ).join(truth.select("file", "source_row", pl.col("address_id").alias("true_id")), on=["file", "source_row"])
    assert laoling.height > 0 and float((laoling["address_id"] == laoling["true_id"]).mean()) >= 0.995
    base = wh.read("address", "base", "addresses")
    assert base.height == pl.read_parquet(district / "truth" / "addresses.parquet").height
    assert wh.exists("address", "review", "queue")


def test_person_master(run, district):
    _, _, wh = run
    links = wh.read("person", "links", "person_links")
    golden = wh.read("person", "golden", "persons")
    truth = pl.read_parquet(district / "truth" / "records.parquet")
    files = pl.concat([wh.read("bronze", s, "_files").select("batch_id", "file_name") for s in ("gongan", "minzheng", "canlian", "laoling", "renshe", "qitui", "jisheng")])
    scored = links.join(files, on="batch_id").join(
        truth.select(pl.col("system").alias("source"), pl.col("file").alias("file_name"), "source_row", "person_id", "child_person_id"),
        on=["source", "file_name", "source_row"],
        suffix="_true",
    ).with_columns(pl.when(pl.col("role") == "child").then(pl.col("child_person_id")).otherwise(pl.col("person_id_true")).alias("true_id"))
    assert scored.filter(pl.col("role") == "child").height > 0  # babies of the births register are people too
    assert scored.height == links.height
    from address_master.persons import pairwise_scores

    s = pairwise_scores(scored["person_id"], scored["true_id"])
    assert s["precision"] >= 0.995 and s["f1"] >= 0.99, s
    assert golden["person_id"].n_unique() == golden.height and (golden["valid_ids"] <= 1).all()
    assert golden.filter(pl.col("name").is_not_null())["name_source"].is_in(["gongan", "renshe", "qitui", "laoling", "canlian", "minzheng", "jisheng"]).all()
    assert golden["elderly_80"].sum() > 0 and golden["disabled"].sum() > 0 and golden["subsidy_recipient"].sum() > 0
    homes = wh.read("person", "golden", "households")
    assert (homes["rooms"] <= 1).mean() > 0.99
    businesses = wh.read("business", "golden", "businesses")
    true_businesses = pl.read_parquet(district / "truth" / "businesses.parquet")
    assert abs(businesses.height - true_businesses.height) <= 2
    assert businesses["credit_code"].n_unique() >= businesses.height - 2
    inspections = wh.read("business", "links", "inspections")
    assert inspections["business_id"].is_in(businesses["business_id"].implode()).all()


def test_rerun_changes_nothing(run):
    _, second, wh = run
    assert second.success
    meta = {
        m.asset_key.to_user_string(): m.metadata
        for m in second.asset_materializations_for_node("bronze__gongan__household_register")
    }
    assert meta["bronze/gongan/household_register"]["rows_ingested"].value == 0
    for spec in all_specs().values():
        silver = wh.read("silver", spec.system, spec.table)
        assert silver.height == 0 or silver.select(pl.struct("batch_id", "source_row").is_duplicated().any()).item() is False


def test_silver_ids_are_normalised(run, district):
    """Silver IDs equal the true person's ID: lowercase x, spaces and 15-digit forms repaired."""
    _, _, wh = run
    truth = pl.read_parquet(district / "truth" / "records.parquet").filter(pl.col("system") == "qitui")
    persons = pl.read_parquet(district / "truth" / "persons.parquet").select("person_id", pl.col("id_number").alias("true_id"))
    silver = wh.read("silver", "qitui", "enterprise_retirees").with_columns(
        pl.col("source_file").str.split("/").list.last().alias("file")
    )
    joined = silver.join(truth, on=["file", "source_row"]).join(persons, on="person_id")
    legacy = joined.filter(pl.col("id_number_raw").str.len_chars() == 15)
    assert legacy.height > 0 and (legacy["id_number"] == legacy["true_id"]).all()
    assert (legacy["id_number_valid"]).all()
    valid = joined.filter(pl.col("id_number_valid"))
    assert (valid["id_number"] == valid["true_id"]).all()
    assert valid.height / joined.filter(pl.col("id_number").is_not_null()).height > 0.98


def test_silver_types(run):
    _, _, wh = run
    schema = wh.read("silver", "gongan", "household_register").schema
    assert schema["birth_date"] == pl.Date and schema["id_number_valid"] == pl.Boolean
    assert wh.read("silver", "dianli", "meter_readings").schema["kwh"] == pl.Float64
    assert wh.read("silver", "zongzhi", "grid_events").schema["reported_at"] == pl.Datetime("us")
    laoling = wh.read("silver", "laoling", "elderly_residents")
    assert laoling.schema["age"] == pl.Int64 and laoling["age"].min() >= 60
    assert not laoling["address"].str.contains(r"[\uff10-\uff19區號]").any()  # half-width, simplified


def test_sensor_requests_a_run_for_new_files(district, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(district / "landing" / "canlian", landing / "canlian")
    sensor = defs.get_sensor_def("landing_canlian")
    resources = {"landing": LandingResource(root=str(landing))}
    def tick(cursor):
        with dg.build_sensor_context(cursor=cursor, resources=resources) as ctx:
            return sensor(ctx), ctx.cursor

    first, cursor = tick(None)
    assert isinstance(first, dg.SkipReason) and "waiting" in first.skip_message  # seen once: may still be copying
    second, cursor = tick(cursor)
    assert isinstance(second, dg.RunRequest)  # held still across two ticks
    assert isinstance(tick(cursor)[0], dg.SkipReason)
    # a copy in progress: taken only once it holds still
    late = landing / "canlian" / "late.csv"
    late.write_bytes((next((landing / "canlian").glob("*.csv"))).read_bytes()[:400])
    result, cursor = tick(cursor)
    assert isinstance(result, dg.SkipReason)
    with late.open("ab") as handle:
        handle.write("\n".encode())
    result, cursor = tick(cursor)
    assert isinstance(result, dg.SkipReason)  # it grew since the last tick
    result, cursor = tick(cursor)
    assert isinstance(result, dg.RunRequest) and result.tags["files"] == "late.csv"
    # an upload under a temporary name is not a delivery
    (landing / "canlian" / "next.csv.part").write_bytes(b"x")
    assert isinstance(tick(tick(cursor)[1])[0], dg.SkipReason)


def test_a_correction_at_a_community_reaches_gold_and_every_node_that_sees_it(run, tmp_path):
    """Community inbox → sync/back → landing/jiaozheng → bronze, silver, gate → gold → sync down and up."""
    import yaml

    from pipelines.corrections import submit_correction
    from pipelines.sync import load_config

    _, _, hub = run
    wh = Warehouse(str(tmp_path / "wh"))
    shutil.copytree(hub.root, wh.root)
    persons = wh.read("gold", "curated", "persons").filter(pl.col("community_code").is_not_null() & pl.col("phone").is_not_null())
    resident = persons.sort("person_id").row(0, named=True)
    community, street = resident["community_code"], resident["street_code"]
    elsewhere = persons.filter(pl.col("street_code") != street)["community_code"][0]
    codes = ["33", "3301", "330102", street, community, elsewhere]
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(yaml.safe_dump({"hub": "330102", "nodes": [{"code": c, "uri": f"n{c}"} for c in codes]}), encoding="utf-8")
    config = load_config(nodes)
    landing = tmp_path / "landing"
    keys = lambda *paths: [dg.AssetKey(p.split("/")) for p in paths]  # noqa: E731
    go = lambda *paths: materialize_all(landing, tmp_path / "wh", tmp_path / "quality", selection=keys(*paths), nodes=nodes)  # noqa: E731
    assert go("sync/down", "sync/up").success
    assert node_rows_of(config, community, resident["person_id"])["phone"] == resident["phone"][:3] + "****" + resident["phone"][-4:]

    submit_correction(config.node(community), resident["person_id"], "王网格", "入户核实", {"phone": "13700001111", "living_status": "独居"})
    assert go("sync/back").success
    assert len(list((landing / "jiaozheng").glob("*.jsonl"))) == 1
    result = go("bronze/jiaozheng/corrections", "silver/jiaozheng/corrections", "quarantine/jiaozheng/rows", "gold/curated/persons", "gold/curated/elderly", "sync/down", "sync/up")
    assert result.success
    gold = wh.read("gold", "curated", "persons").filter(pl.col("person_id") == resident["person_id"]).row(0, named=True)
    assert (gold["phone"], gold["phone_source"], gold["living_status"]) == ("13700001111", "jiaozheng", "独居")
    assert gold["living_alone"] is True
    for code in ("33", "3301", "330102", street, community):  # every node that can see the resident has the fix, masked
        assert node_rows_of(config, code, resident["person_id"])["phone"] == "137****1111", code
    assert node_rows_of(config, elsewhere, resident["person_id"]) is None
    assert node_rows_of(config, "33", resident["person_id"])["name"] == resident["name"][0] + "*" * (len(resident["name"]) - 1)


def node_rows_of(config, code: str, person_id: str) -> dict | None:
    rows = config.node(code).warehouse().read("gold", "curated", "persons").filter(pl.col("person_id") == person_id)
    return rows.row(0, named=True) if rows.height else None


def test_elderly_keeps_whom_a_corrected_birth_date_makes_older_and_drops_whom_it_makes_younger(run, tmp_path):
    """The elderly table reads only golden persons aged 60 or more, and every corrected one."""
    from datetime import date, datetime, timezone

    from pipelines.gold import build_elderly, build_persons

    _, _, hub = run
    wh = Warehouse(str(tmp_path / "wh"))
    shutil.copytree(hub.root, wh.root)
    golden = wh.read("person", "golden", "persons").sort("person_id")
    young = golden.filter(pl.col("age").is_between(30, 50))["person_id"][0]
    old = golden.filter(pl.col("age") >= 70)["person_id"][0]
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    corrections = pl.DataFrame({"correction_id": ["c1", "c2"], "person_id": [young, old], "node_code": ["33", "33"],  # the province's register
                                "birth_date": [date(1950, 1, 1), date(2000, 1, 1)], "corrected_by": ["省公安厅"] * 2, "corrected_at": [at, at]})
    wh.write(corrections, "silver", "jiaozheng", "corrections", mode="overwrite")
    elderly = build_elderly(wh)["person_id"]
    assert young in elderly.to_list() and old not in elderly.to_list()
    assert elderly.sort().equals(build_persons(wh).filter(pl.col("age") >= 60)["person_id"].sort())
