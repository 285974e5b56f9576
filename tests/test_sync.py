"""Five-level sync: convergence (property test), scoping, idempotency, cost, other districts
untouched, masking by level, corrections back, crash safety with a real process kill."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from polars.testing import assert_frame_equal

from pipelines.sources import get_spec
from pipelines.corrections import INBOX, REJECTED, apply_corrections, collect_corrections, submit_correction
from pipelines.sync import HUB_COLUMN, SyncConfigError, expected_rows, logged_watermarks, parse_config, place_expr, run_sync, sync_status
from warehouse.publish import diff_by_key, merge_changes
from warehouse.storage import Warehouse

HUB = "330102"
COMMUNITIES = ["330102001051", "330102001052", "330102003050"]
STREETS = sorted({c[:9] for c in COMMUNITIES})
ROOT = Path(__file__).resolve().parent.parent


def nodes_raw(base: Path | str, extra: dict | None = None) -> dict:
    codes = ["33", "3301", HUB, *STREETS, *COMMUNITIES]
    sep = "/" if "://" in str(base) else os.sep
    return {"hub": HUB, "tables": ["persons"], **(extra or {}),
            "nodes": [{"code": c, "uri": f"{str(base).rstrip('/')}{sep}n{c}"} for c in codes]}


def person(i: int, community: str | None, phone: str = "13812345678", status: str = "与子女同住") -> dict:
    return {
        "person_id": f"P{i:05d}", "name": f"张{'三四五六'[i % 4]}{i}", "id_number": f"33010219{50 + i % 40:02d}0101{i:04d}",
        "phone": phone, "living_status": status, "province_code": "33", "city_code": "3301",
        "district_code": HUB if community else None, "street_code": community[:9] if community else None, "community_code": community,
        "phone_source": "gongan", "living_status_source": "laoling", "occupants": 2, "age": 70, "registered": True,
        "disability_type": None, "assistance_type": None,
    }


SCHEMA = {"person_id": pl.String, "name": pl.String, "id_number": pl.String, "phone": pl.String, "living_status": pl.String,
          "province_code": pl.String, "city_code": pl.String, "district_code": pl.String, "street_code": pl.String,
          "community_code": pl.String, "phone_source": pl.String, "living_status_source": pl.String, "occupants": pl.Int64,
          "age": pl.Int64, "registered": pl.Boolean, "disability_type": pl.String, "assistance_type": pl.String}


def publish(wh: Warehouse, rows: list[dict] | pl.DataFrame) -> None:
    """Publish ``rows`` as gold/curated/persons the way the gate does: diff by key, MERGE the difference."""
    frame = rows if isinstance(rows, pl.DataFrame) else pl.DataFrame(rows, schema=SCHEMA)
    if not wh.exists("gold", "curated", "persons"):
        wh.write(frame, "gold", "curated", "persons", mode="append")
        return
    changes, counts = diff_by_key(wh.scan("gold", "curated", "persons"), frame, ["person_id"])
    if counts.total:
        merge_changes(wh.uri("gold", "curated", "persons"), changes, ["person_id"])


def node_table(node) -> pl.DataFrame:
    nwh = node.warehouse()
    return nwh.read("gold", "curated", "persons") if nwh.exists("gold", "curated", "persons") else pl.DataFrame()


def assert_converged(wh: Warehouse, config, codes: tuple[str, ...] = ()) -> None:
    for node in config.nodes:
        if codes and node.code not in codes:
            continue
        want = expected_rows(wh, config, node, "persons")
        got = node_table(node)
        if got.height:
            assert got.select(place_expr(got.columns, HUB).str.starts_with(node.code).all()).item(), f"row outside {node.code}"
        got = got.filter(pl.col(HUB_COLUMN) == HUB) if got.height else got
        if want.height == 0 or got.height == 0:
            assert want.height == got.height == 0, f"node {node.code}: {got.height} rows, expected {want.height}"
            continue
        assert got["person_id"].is_duplicated().sum() == 0, f"duplicates at {node.code}"
        assert_frame_equal(got.sort("person_id"), want.select(got.columns).sort("person_id"), check_dtypes=False, check_column_order=False)


def delivered(landing: Path) -> pl.DataFrame:
    """The corrections delivered to landing/jiaozheng, as the silver layer names them (every value text)."""
    names = get_spec("jiaozheng").columns
    files = sorted((landing / "jiaozheng").glob("*.jsonl"))
    frames = [pl.read_ndjson(f, infer_schema_length=None).cast(pl.String) for f in files]
    return pl.concat(frames, how="diagonal_relaxed").rename(names, strict=False)


@pytest.fixture
def hub(tmp_path):
    wh = Warehouse(str(tmp_path / "hub"))
    config = parse_config(nodes_raw(tmp_path / "nodes"))
    return wh, config


def test_nodes_file_is_checked(tmp_path):
    with pytest.raises(SyncConfigError, match="neither above nor inside"):
        parse_config({"hub": HUB, "nodes": [{"code": "330106", "uri": "x"}]})
    with pytest.raises(SyncConfigError, match="does not fit"):
        parse_config({"hub": HUB, "nodes": [{"code": "330102001", "level": "community", "uri": "x"}]})
    with pytest.raises(SyncConfigError, match="listed twice"):
        parse_config({"hub": HUB, "nodes": [{"code": "33", "uri": "x"}, {"code": "33", "uri": "y"}]})
    with pytest.raises(SyncConfigError, match="unknown rules"):
        parse_config({"hub": HUB, "masking": {"street": {"phone": "phone_2_2"}}, "nodes": []})
    with pytest.raises(SyncConfigError, match="masks key columns"):
        parse_config({"hub": HUB, "masking": {"city": {"person_id": "id_6_4"}}, "nodes": []})


def test_scoped_masked_and_idempotent(hub):
    wh, config = hub
    rows = [person(i, COMMUNITIES[i % 3]) for i in range(30)] + [person(99, None)]  # one resident with no known address
    publish(wh, rows)
    first = run_sync(wh, config)
    assert_converged(wh, config)
    community = node_table(config.node(COMMUNITIES[0]))
    assert set(community["community_code"]) == {COMMUNITIES[0]} and community.height == 10
    assert community["phone"][0] == "138****5678" and community["name"][0] == rows[0]["name"]  # communities know names
    assert community["id_number"][0] == rows[0]["id_number"][:6] + "*" * 8 + rows[0]["id_number"][-4:]
    province = node_table(config.node("33"))
    assert province.height == 31 and province.filter(pl.col("person_id") == "P00000")["name"][0] == "张" + "*" * (len(rows[0]["name"]) - 1)
    assert "P00099" in node_table(config.node(HUB))["person_id"].to_list()  # unplaced: the district and above only
    assert "P00099" not in node_table(config.node(STREETS[0]))["person_id"].to_list()
    assert {s.mode for s in first} == {"full"}
    versions = {n.code: n.warehouse().table("gold", "curated", "persons").version() for n in config.nodes}
    again = run_sync(wh, config)
    assert again == []  # nothing shipped, no node even opened
    assert versions == {n.code: n.warehouse().table("gold", "curated", "persons").version() for n in config.nodes}
    status = sync_status(wh, config)
    assert status["lag_versions"].sum() == 0 and status.height == len(config.nodes)


def test_only_changed_rows_move_and_other_districts_stay(hub):
    wh, config = hub
    rows = [person(i, COMMUNITIES[i % 3]) for i in range(30)]
    publish(wh, rows)
    # the province already holds another district's rows (same person ids, even)
    province = config.node("33")
    other = pl.DataFrame([person(i, "330105001001") for i in range(5)], schema=SCHEMA).with_columns(
        pl.lit("330105").alias("district_code"), pl.lit("330105").alias(HUB_COLUMN))
    province.warehouse().write(other, "gold", "curated", "persons", mode="append")
    run_sync(wh, config)
    rows[0]["phone"] = "13900001111"  # community 0
    rows[4]["living_status"] = "独居"  # community 1
    del rows[5]  # community 2
    rows.append(person(31, COMMUNITIES[0]))
    publish(wh, rows)
    behind = sync_status(wh, config).filter(pl.col("node") == COMMUNITIES[0]).row(0, named=True)
    assert (behind["lag_versions"], behind["tables_current"], behind["watermark"]) == (1, 0, 0) and behind["lag_seconds"] >= 0
    shipments = run_sync(wh, config)
    by_node = {s.node.code: s for s in shipments}
    assert all(s.mode == "incremental" for s in shipments)
    assert by_node[COMMUNITIES[0]].rows == 2 and by_node[COMMUNITIES[1]].rows == 1 and by_node[COMMUNITIES[2]].rows == 1
    assert by_node[STREETS[0]].rows == 3 and by_node[STREETS[1]].rows == 1
    assert by_node[HUB].rows == 4 and by_node["3301"].rows == 4 and by_node["33"].rows == 4
    assert by_node[COMMUNITIES[2]].counts.deleted == 1
    assert_converged(wh, config)
    after = sync_status(wh, config).filter(pl.col("node") == COMMUNITIES[0]).row(0, named=True)
    assert (after["lag_versions"], after["tables_current"], after["watermark"], after["rows_last_run"]) == (0, 1, 1, 2)
    kept = node_table(province).filter(pl.col(HUB_COLUMN) == "330105").sort("person_id")
    assert_frame_equal(kept.select(other.columns), other.sort("person_id"), check_dtypes=False)


def test_a_change_the_level_cannot_see_ships_nothing_there(hub):
    wh, config = hub
    rows = [person(i, COMMUNITIES[0]) for i in range(5)]
    publish(wh, rows)
    run_sync(wh, config)
    before = config.node("33").warehouse().table("gold", "curated", "persons").version()
    rows[0]["phone"] = "13800005678"  # only the hidden middle digits differ from 13812345678
    publish(wh, rows)
    shipments = {s.node.code: s for s in run_sync(wh, config)}
    assert shipments["33"].rows == 0 and shipments[COMMUNITIES[0]].rows == 0  # masked alike: 138****5678
    assert config.node("33").warehouse().table("gold", "curated", "persons").version() == before
    assert logged_watermarks(wh)[("33", "persons")] == wh.table("gold", "curated", "persons").version()


def test_a_column_gold_gains_reaches_every_node(hub):
    wh, config = hub
    rows = [person(i, COMMUNITIES[i % 3]) for i in range(9)]
    publish(wh, rows)
    run_sync(wh, config)
    wider = pl.DataFrame(rows, schema=SCHEMA).with_columns(pl.lit("汉族").alias("ethnicity"))
    publish(wh, wider)  # every row changes: the published schema changed
    run_sync(wh, config, full=True)  # a full copy over node tables without the column
    assert_converged(wh, config)
    assert set(node_table(config.node(COMMUNITIES[0]))["ethnicity"]) == {"汉族"}
    publish(wh, wider.with_columns(pl.lit("回族").alias("ethnicity")))
    run_sync(wh, config)  # and the change feed after it
    assert_converged(wh, config)


def test_a_node_behind_a_vacuumed_change_feed_gets_a_full_copy(hub):
    wh, config = hub
    rows = [person(i, COMMUNITIES[i % 3]) for i in range(9)]
    publish(wh, rows[:6])
    run_sync(wh, config, codes=[COMMUNITIES[0]])
    # new residents appended (as the gate publishes insert-only changes), then one of them updated:
    # the appended file leaves the snapshot, and vacuum deletes it — the feed's inserts of v1 with it
    wh.write(pl.DataFrame(rows[6:], schema=SCHEMA), "gold", "curated", "persons", mode="append")
    rows[6]["phone"] = "13900000001"
    publish(wh, rows)
    wh.table("gold", "curated", "persons").vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    messages: list[str] = []
    shipments = run_sync(wh, config, codes=[COMMUNITIES[0]], progress=messages.append)
    assert [s.mode for s in shipments] == ["full"] and any("copying in full" in m for m in messages), messages
    assert_converged(wh, config, codes=(COMMUNITIES[0],))


ops = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), st.integers(0, 40), st.sampled_from([*COMMUNITIES, None])),
        st.tuples(st.just("update"), st.integers(0, 40), st.sampled_from(["13911112222", "13712345678", "15800000000"])),
        st.tuples(st.just("move"), st.integers(0, 40), st.sampled_from(COMMUNITIES)),
        st.tuples(st.just("delete"), st.integers(0, 40), st.none()),
        st.tuples(st.just("correct"), st.integers(0, 40), st.sampled_from(["独居", "孤寡", "与子女同住"])),
        st.tuples(st.just("sync"), st.integers(0, 0), st.sampled_from(["up", "down", "both"])),
    ),
    min_size=1, max_size=8,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=ops)
def test_every_node_converges_after_any_sequence(tmp_path_factory, steps):
    base = tmp_path_factory.mktemp("prop")
    wh = Warehouse(str(base / "hub"))
    config = parse_config(nodes_raw(base / "nodes"))
    state = {i: person(i, COMMUNITIES[i % 3]) for i in range(0, 40, 3)}
    publish(wh, list(state.values()))
    landing = base / "landing"
    for op, i, arg in steps:
        if op == "insert" and i not in state:
            state[i] = person(i, arg)
        elif op == "update" and i in state:
            state[i] = {**state[i], "phone": arg}
        elif op == "move" and i in state:
            state[i] = {**person(i, arg), "phone": state[i]["phone"], "living_status": state[i]["living_status"]}
        elif op == "delete":
            state.pop(i, None)
        elif op == "correct" and i in state and state[i]["community_code"]:
            submit_correction(config.node(state[i]["community_code"]), f"P{i:05d}", "网格员", "入户核实", {"living_status": arg})
            collect_corrections(wh, config, landing)
            corrected = apply_corrections(pl.DataFrame(list(state.values()), schema=SCHEMA), delivered(landing))
            state = {int(r["person_id"][1:]): r for r in corrected.select(list(SCHEMA)).iter_rows(named=True)}
        elif op == "sync":
            run_sync(wh, config, direction=arg)
            continue
        publish(wh, pl.DataFrame(list(state.values()), schema=SCHEMA))
    run_sync(wh, config)
    assert_converged(wh, config)
    assert run_sync(wh, config) == []  # idempotent


def test_corrections_are_scoped_and_ranked(hub, tmp_path):
    wh, config = hub
    rows = [person(i, COMMUNITIES[i % 3]) for i in range(6)]
    publish(wh, rows)
    run_sync(wh, config)
    mine, other = config.node(COMMUNITIES[0]), config.node(COMMUNITIES[1])
    submit_correction(mine, "P00000", "王网格", "入户核实", {"phone": "13700001111", "living_status": "独居"})
    submit_correction(other, "P00000", "李网格", "入户核实", {"phone": "13600002222"})  # not a resident it can see
    submit_correction(config.node("33"), "P00000", "省厅", "权威更正", {"phone": "13500003333", "name": "张正"})
    landing = tmp_path / "landing"
    summaries = {s["node"]: s for s in collect_corrections(wh, config, landing)}
    assert summaries[COMMUNITIES[0]]["accepted"] == 1 and summaries[COMMUNITIES[1]]["rejected"] == 1
    assert wh.read(*REJECTED)["reject_reason"][0].startswith("person not among")
    assert collect_corrections(wh, config, landing) == []  # collected once
    applied = apply_corrections(pl.DataFrame(rows, schema=SCHEMA), delivered(landing)).filter(pl.col("person_id") == "P00000").row(0, named=True)
    # phone: the community outranks the systems, the province does not; name: the province does
    assert applied["phone"] == "13700001111" and applied["phone_source"] == "jiaozheng"
    assert applied["living_status"] == "独居" and applied["name"] == "张正"
    assert mine.warehouse().exists(*INBOX)


def test_sync_to_object_storage(s3, tmp_path):
    options = {**s3, "aws_conditional_put": "etag"}
    wh = Warehouse(str(tmp_path / "hub"))
    config = parse_config(nodes_raw(f"s3://lake/sync-{tmp_path.name}", {"storage_options": options}))
    rows = [person(i, COMMUNITIES[i % 3]) for i in range(12)]
    publish(wh, rows)
    run_sync(wh, config)
    rows[1]["phone"] = "13311112222"
    publish(wh, rows)
    shipments = run_sync(wh, config)
    assert sum(s.rows for s in shipments) == 5  # community, street, district, city, province
    assert_converged(wh, config)


KILLER = """
import sys
from pipelines.sync import load_config, run_sync
from warehouse.storage import Warehouse
run_sync(Warehouse(sys.argv[1]), load_config(sys.argv[2]))
"""


def test_a_sync_killed_between_node_writes_resumes_without_duplicates(tmp_path):
    import yaml

    wh = Warehouse(str(tmp_path / "hub"))
    nodes_file = tmp_path / "nodes.yaml"
    nodes_file.write_text(yaml.safe_dump(nodes_raw(tmp_path / "nodes")), encoding="utf-8")
    config = parse_config(nodes_raw(tmp_path / "nodes"))
    rows = [person(i, COMMUNITIES[i % 3]) for i in range(30)]
    publish(wh, rows)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    assert subprocess.run([sys.executable, "-c", KILLER, wh.root, str(nodes_file)], env=env, cwd=ROOT).returncode == 0
    for i in range(0, 30, 4):
        rows[i]["phone"] = f"1390000{i:04d}"
    del rows[7]
    publish(wh, rows)
    killed = subprocess.run([sys.executable, "-c", KILLER, wh.root, str(nodes_file)], env={**env, "ENTERONCE_KILL_AFTER_COMMITS": "3"}, cwd=ROOT)
    assert killed.returncode == 137  # died after its third node commit, before logging anything
    landed = [n for n in config.nodes if n.warehouse().app_version("gold", "curated", "persons", f"enteronce.sync.{HUB}.persons") == wh.table("gold", "curated", "persons").version()]
    assert 0 < len(landed) < len(config.nodes)
    versions = {n.code: n.warehouse().table("gold", "curated", "persons").version() for n in landed}
    assert subprocess.run([sys.executable, "-c", KILLER, wh.root, str(nodes_file)], env=env, cwd=ROOT).returncode == 0
    assert_converged(wh, config)
    # the nodes whose commit had landed were not written again
    assert versions == {n.code: n.warehouse().table("gold", "curated", "persons").version() for n in landed}


def test_cli_init_run_status(tmp_path):
    from click.testing import CliRunner

    from cli.main import main

    wh = Warehouse(str(tmp_path / "hub"))
    publish(wh, [person(i, COMMUNITIES[i % 3]) for i in range(9)])
    runner = CliRunner()
    nodes_file = tmp_path / "nodes.yaml"
    result = runner.invoke(main, ["sync", "init", "--warehouse", wh.root, "--root", str(tmp_path / "nodes"), "--out", str(nodes_file)])
    assert result.exit_code != 0 and "no address base; name the hub district with --hub" in result.output  # nothing to infer it from
    result = runner.invoke(main, ["sync", "init", "--hub", HUB, "--root", str(tmp_path / "nodes"), "--out", str(nodes_file)])
    assert result.exit_code == 0, result.output
    assert "220 nodes (1 province, 1 city, 1 district, 14 street, 203 community)" in result.output
    result = runner.invoke(main, ["sync", "run", "--warehouse", wh.root, "--nodes", str(nodes_file), "--table", "persons", "--node", "33", "--node", COMMUNITIES[0]])
    assert result.exit_code == 0, result.output
    assert "synced 2 node(s)" in result.output
    result = runner.invoke(main, ["sync", "status", "--warehouse", wh.root, "--nodes", str(nodes_file), "--level", "province"])
    assert result.exit_code == 0 and "浙江省" in result.output and "落后版本数" in result.output, result.output
    result = runner.invoke(main, ["sync", "correct", "--nodes", str(nodes_file), "--node", COMMUNITIES[0], "--person", "P00000", "--by", "王", "--reason", "核实", "--height", "1"])
    assert result.exit_code != 0
    result = runner.invoke(main, ["sync", "correct", "--nodes", str(nodes_file), "--node", COMMUNITIES[0], "--person", "P00000", "--by", "王", "--reason", "核实", "--phone", "13700001111"])
    assert result.exit_code == 0, result.output
    landing = tmp_path / "landing"
    result = runner.invoke(main, ["sync", "collect", "--warehouse", wh.root, "--nodes", str(nodes_file), "--landing", str(landing)])
    assert result.exit_code == 0 and "1 correction(s) delivered" in result.output, result.output
    line = json.loads(next((landing / "jiaozheng").glob("*.jsonl")).read_text(encoding="utf-8").splitlines()[0])
    assert line["人员编号"] == "P00000" and line["联系电话"] == "13700001111" and line["核实人"] == "王"


def test_sensor_asks_for_sync_runs_when_gold_moved(hub, tmp_path):
    import dagster as dg
    import yaml

    from assets.resources import SyncResource, WarehouseResource
    from assets.sync import sync_on_gold_change
    from pipelines.sync import load_config

    wh, _ = hub
    nodes_file = tmp_path / "nodes.yaml"
    nodes_file.write_text(yaml.safe_dump(nodes_raw(tmp_path / "nodes")), encoding="utf-8")
    context = dg.build_sensor_context(resources={"warehouse": WarehouseResource(root=wh.root), "sync": SyncResource(nodes_file=str(nodes_file))})
    publish(wh, [person(i, COMMUNITIES[i % 3]) for i in range(6)])
    requests = sync_on_gold_change(context)
    assert sorted(r.job_name for r in requests) == ["sync_down", "sync_up"] and requests[0].run_key.endswith("persons@0")
    run_sync(wh, load_config(nodes_file))
    assert isinstance(sync_on_gold_change(context), dg.SkipReason)
    missing = dg.build_sensor_context(resources={"warehouse": WarehouseResource(root=wh.root), "sync": SyncResource(nodes_file=str(tmp_path / "none.yaml"))})
    assert "no nodes file" in sync_on_gold_change(missing).skip_message
