"""Retention: versions older than the window — data files, change-feed files, log entries — are
gone after the Dagster job; the current version and the window stay readable."""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl
import pytest

from api.store import ChangesGone, Store
from assets.resources import WarehouseResource
from assets.retention import retention
from warehouse.publish import diff_by_key, merge_changes
from warehouse.storage import Warehouse

GOLD = ("gold", "curated", "persons")


def _two_versions(wh: Warehouse) -> None:
    first = pl.DataFrame({"person_id": ["a", "b"], "id_number": ["330102199001011234", "330102199001011235"], "community_code": ["330102001001"] * 2})
    wh.write(first, *GOLD)
    second = first.with_columns(pl.lit("330102199001019999").alias("id_number"))
    changes, _ = diff_by_key(wh.read(*GOLD), second, ["person_id"])
    merge_changes(wh.uri(*GOLD), changes, ["person_id"])


def test_retention_job_removes_old_versions_and_their_change_feed(tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    _two_versions(wh)
    folder = Path(wh.uri(*GOLD))
    assert list((folder / "_change_data").iterdir()) and wh.changes(*GOLD, 1).height == 4
    old_ids = set(pl.read_delta(str(folder), version=0)["id_number"])
    time.sleep(1)
    result = retention.execute_in_process(resources={"warehouse": WarehouseResource(root=wh.root)},
                                          run_config={"ops": {"apply_retention_op": {"config": {"hours": 0}}}})
    assert result.success
    assert list((folder / "_change_data").iterdir()) == []
    assert set(wh.read(*GOLD)["id_number"]) == {"330102199001019999"}
    with pytest.raises(Exception):
        pl.read_delta(str(folder), version=0)
    # no file of the lake still holds the old values (data, change feed or log)
    for path in folder.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert not any(v.encode() in content for v in old_ids - {"330102199001019999"}), path
    with pytest.raises(ChangesGone):
        Store(wh).changes("persons", 0, wh.table(*GOLD).version())


def test_a_table_with_nothing_to_remove_keeps_its_version(tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    _two_versions(wh)
    from warehouse.retention import apply_retention

    apply_retention(wh, hours=24 * 365)  # the first run sets the log retention property: one commit
    version = wh.table(*GOLD).version()
    assert apply_retention(wh, hours=24 * 365)[0].data_files == 0
    assert wh.table(*GOLD).version() == version
    assert wh.changes(*GOLD, 1).height == 4  # inside the window the change feed is whole


def test_retention_compacts_a_log_of_many_small_appends_and_leaves_curated_tables_as_they_are(tmp_path):
    from warehouse.retention import COMPACT_FROM_FILES, apply_retention

    wh = Warehouse(str(tmp_path / "wh"))
    log = ("quality", "results", "publishes")
    for i in range(COMPACT_FROM_FILES):
        wh.write(pl.DataFrame({"table": [f"t{i}"], "passed": [True]}), *log, mode="append")
        wh.write(pl.DataFrame({"person_id": [f"p{i}"], "phone": ["1"]}), *GOLD, mode="append")
    rows = wh.read(*log).sort("table")
    results = {r.table: r for r in apply_retention(wh, hours=0)}
    assert results["quality/results/publishes"].compacted == COMPACT_FROM_FILES
    assert len(wh.table(*log).file_uris()) == 1 and wh.read(*log).sort("table").equals(rows)
    assert results["gold/curated/persons"].compacted == 0 and len(wh.table(*GOLD).file_uris()) == COMPACT_FROM_FILES
    assert "OPTIMIZE" not in {entry["operation"] for entry in wh.table(*GOLD).history()}  # its versions are changes that replicas follow
