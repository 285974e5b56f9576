"""The run executor: two steps at a time, the memory-heavy ones one at a time (a run's peak memory
stays near one large step plus one small one)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import dagster as dg

from assets.definitions import defs
from assets.executor import EXECUTOR, LARGE, MEMORY_TAG

LOG = "ENTERONCE_TEST_STEP_LOG"


def _record(name: str) -> None:
    started = time.time()
    time.sleep(1.0)
    with open(os.environ[LOG], "a") as out:
        out.write(json.dumps({"step": name, "start": started, "end": time.time()}) + "\n")


@dg.op(tags=LARGE)
def large_a() -> None:
    _record("large_a")


@dg.op(tags=LARGE)
def large_b() -> None:
    _record("large_b")


@dg.op
def small_a() -> None:
    _record("small_a")


@dg.op
def small_b() -> None:
    _record("small_b")


@dg.job(executor_def=EXECUTOR)
def four_steps():
    large_a()
    large_b()
    small_a()
    small_b()


def _four_steps():
    return four_steps


def _overlap(a: dict, b: dict) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def test_large_steps_take_the_memory_slot_one_at_a_time(tmp_path, monkeypatch):
    log = tmp_path / "steps.jsonl"
    monkeypatch.setenv(LOG, str(log))
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = dg.execute_job(dg.reconstructable(_four_steps), instance=instance)
        assert result.success
    steps = {row["step"]: row for row in map(json.loads, log.read_text().splitlines())}
    assert set(steps) == {"large_a", "large_b", "small_a", "small_b"}
    assert not _overlap(steps["large_a"], steps["large_b"])  # never two large steps at once
    # and the slot does not serialise the rest: some small step ran beside a large one
    assert any(_overlap(steps[s], steps[l]) for s in ("small_a", "small_b") for l in ("large_a", "large_b"))


def test_the_steps_that_hold_a_district_in_memory_carry_the_tag():
    job = defs.resolve_job_def("everything")
    large = {name for name, node in job.graph.node_dict.items() if node.definition.tags.get(MEMORY_TAG)}
    assert {"address_links", "person_master", "standardize_dianli", "gold__curated__power_daily"} == large
    assert defs.resolve_job_def("everything").executor_def.name == EXECUTOR.name
