"""Automation: a delivery dropped in landing reaches gold with nobody pressing a button; failures
are announced to a webhook (a real HTTP receiver on 127.0.0.1)."""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import polars as pl
import pytest

from assets.definitions import defs
from assets.notify import notify_check_failures, notify_run_failure
from assets.resources import LandingResource, NotifierResource
from tests.helpers import materialize_all
from warehouse.storage import Warehouse


def _requested(result) -> list[dg.AssetKey]:
    return [r.key for r in result.results if r.true_subset.size > 0 and isinstance(r.key, dg.AssetKey)]


def test_a_delivery_in_landing_reaches_gold_through_automation(district, tmp_path):
    landing, root = tmp_path / "landing", tmp_path / "wh"
    shutil.copytree(district / "landing", landing)
    with dg.instance_for_test() as instance:
        assert materialize_all(landing, root, tmp_path, instance).success
        wh = Warehouse(str(root))
        persons_version = wh.table("gold", "curated", "persons").version()
        sensor = defs.get_sensor_def("landing_gongan")
        resources = {"landing": LandingResource(root=str(landing))}
        with dg.build_sensor_context(instance=instance, resources=resources) as ctx:
            sensor(ctx)  # the files already there
            cursor = ctx.cursor
        automation = dg.evaluate_automation_conditions(defs=defs, instance=instance)  # nothing to do yet
        assert _requested(automation) == []

        # a new 公安 delivery: one resident moved in
        source = next((landing / "gongan").glob("gongan_hjrk_20261101.csv"))
        header, *rows = source.read_bytes().decode("gb18030").splitlines()
        cells = next(r for r in rows if len(r.split(",")[2]) == 18 and "#" not in r).split(",")
        cells[header.split(",").index("联系电话")] = "13900000001"
        (landing / "gongan" / "gongan_hjrk_20261108.csv").write_bytes(f"{header}\n{','.join(cells)}\n".encode("gbk"))

        for _ in range(2):  # the file must hold still across two ticks
            with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as ctx:
                request = sensor(ctx)
                cursor = ctx.cursor
        assert isinstance(request, dg.RunRequest)
        assert materialize_all(landing, root, tmp_path, instance, selection=request.asset_selection).success
        rounds = []
        for _ in range(6):  # silver → address links → person master → gold
            automation = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=automation.cursor)
            keys = _requested(automation)
            if not keys:
                break
            rounds.append({k.to_user_string() for k in keys})
            selection = dg.AssetSelection.assets(*keys).required_multi_asset_neighbors()
            assert materialize_all(landing, root, tmp_path, instance, selection=selection).success
        assert "address/links/address_links" in rounds[0]  # the sensor's run took bronze and silver
        assert any("gold/curated/persons" in r for r in rounds)
        assert not any("gold/curated/weather_warnings" in r for r in rounds)  # its inputs did not change
        assert wh.table("gold", "curated", "persons").version() == persons_version + 1
        assert wh.read("gold", "curated", "persons").filter(pl.col("phone") == "13900000001").height == 1


@pytest.fixture
def receiver():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):  # keep test output quiet
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def test_failed_gates_and_late_deliveries_reach_the_webhook(receiver):
    url, received = receiver
    notifier = NotifierResource(webhook_url=url)
    key = dg.AssetKey(["gold", "curated", "persons"])

    @dg.asset(key=key, check_specs=[dg.AssetCheckSpec(n, asset=key) for n in ("quality_gate", "freshness", "other")])
    def table():
        yield dg.MaterializeResult()
        yield dg.AssetCheckResult(check_name="quality_gate", passed=False, description="ID checksum failed")
        yield dg.AssetCheckResult(check_name="freshness", passed=False, severity=dg.AssetCheckSeverity.WARN, description="3 days late")
        yield dg.AssetCheckResult(check_name="other", passed=False)

    with dg.instance_for_test() as instance:
        dg.materialize([table], instance=instance, raise_on_error=False)
        with dg.build_sensor_context(instance=instance, resources={"notifier": notifier}) as ctx:
            notify_check_failures(ctx)
            cursor = ctx.cursor
        assert sorted((r["kind"], r["check"]) for r in received) == [("gate_failure", "quality_gate"), ("late_delivery", "freshness")]
        gate = next(r for r in received if r["check"] == "quality_gate")
        assert gate["table"] == "gold/curated/persons" and "发布闸门" in gate["title"] and gate["text"] == "ID checksum failed"
        with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"notifier": notifier}) as ctx:
            notify_check_failures(ctx)
        assert len(received) == 2  # nothing announced twice


def test_run_failures_reach_the_webhook(receiver):
    url, received = receiver

    @dg.op
    def breaks():
        raise RuntimeError("boom")

    @dg.job
    def failing():
        breaks()

    with dg.instance_for_test() as instance:
        result = failing.execute_in_process(instance=instance, raise_on_error=False)
        run = instance.get_run_by_id(result.run_id)
        failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
        context = dg.build_run_status_sensor_context(
            sensor_name="notify_run_failure", dagster_instance=instance, dagster_run=run, dagster_event=failure,
            resources={"notifier": NotifierResource(webhook_url=url)},
        ).for_run_failure()
        notify_run_failure(context)
    assert len(received) == 1 and received[0]["kind"] == "run_failure" and received[0]["failed_steps"] == ["breaks"]
