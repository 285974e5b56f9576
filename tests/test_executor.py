"""The run executor: two steps at a time, the memory-heavy ones one at a time (a run's peak memory
stays near one large step plus one small one)."""

from __future__ import annotations

import gc
import json
import time
from pathlib import Path

import dagster as dg

from assets.definitions import defs
from assets.executor import EXECUTOR, LARGE, MEMORY_TAG, wait_for_memory_slot

# the log's path reaches the steps as op config: they fork from a server whose environment
# was fixed when it started (an earlier test in the same process may have started it)
LOGGED = {"log": str}


def _record(context: dg.OpExecutionContext) -> None:
    started = time.time()
    time.sleep(1.0)
    with open(context.op_config["log"], "a") as out:
        out.write(json.dumps({"step": context.op.name, "start": started, "end": time.time()}) + "\n")


@dg.op(tags=LARGE, config_schema=LOGGED)
def large_a(context) -> None:
    _record(context)


@dg.op(tags=LARGE, config_schema=LOGGED)
def large_b(context) -> None:
    _record(context)


@dg.op(config_schema=LOGGED)
def small_a(context) -> None:
    _record(context)


@dg.op(config_schema=LOGGED)
def small_b(context) -> None:
    _record(context)


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


def test_large_steps_take_the_memory_slot_one_at_a_time(tmp_path):
    log = tmp_path / "steps.jsonl"
    config = {"ops": {name: {"config": {"log": str(log)}} for name in ("large_a", "large_b", "small_a", "small_b")}}
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = dg.execute_job(dg.reconstructable(_four_steps), instance=instance, run_config=config)
        assert result.success
    steps = {row["step"]: row for row in map(json.loads, log.read_text().splitlines())}
    assert set(steps) == {"large_a", "large_b", "small_a", "small_b"}
    assert not _overlap(steps["large_a"], steps["large_b"])  # never two large steps at once
    # and the slot does not serialise the rest: some small step ran beside a large one
    assert any(_overlap(steps[s], steps[l]) for s in ("small_a", "small_b") for l in ("large_a", "large_b"))


@dg.op(tags={**LARGE, "dagster/priority": "3"}, config_schema=LOGGED)
def large_first(context) -> None:
    _record(context)


@dg.op(tags={"dagster/priority": "2"}, config_schema=LOGGED)
def whole_build(context) -> None:
    waited = wait_for_memory_slot(context, poll_seconds=0.1)
    _record(context)
    with open(context.op_config["log"], "a") as out:
        out.write(json.dumps({"step": "waited", "seconds": waited}) + "\n")


@dg.job(executor_def=EXECUTOR)
def large_and_whole_build():
    large_first()
    whole_build()


def _large_and_whole_build():
    return large_and_whole_build


def test_a_whole_build_waits_for_the_large_step_launched_beside_it(tmp_path):
    """Launched together (both cores free), the step without the tag starts its whole build only
    once the large step has ended."""
    log = tmp_path / "steps.jsonl"
    config = {"ops": {name: {"config": {"log": str(log)}} for name in ("large_first", "whole_build")}}
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = dg.execute_job(dg.reconstructable(_large_and_whole_build), instance=instance, run_config=config)
        assert result.success
    steps = {row["step"]: row for row in map(json.loads, log.read_text().splitlines())}
    assert not _overlap(steps["large_first"], steps["whole_build"]) and steps["whole_build"]["start"] >= steps["large_first"]["end"]
    assert steps["waited"]["seconds"] > 0.3  # it did wait: the two were launched at once


def test_the_steps_that_hold_a_district_in_memory_carry_the_tag():
    job = defs.resolve_job_def("everything")
    large = {name for name, node in job.graph.node_dict.items() if node.definition.tags.get(MEMORY_TAG)}
    # the bulk system's curated table asks for the slot itself, only for a whole build
    assert {"address_links", "person_master", "standardize_dianli"} == large
    assert defs.resolve_job_def("everything").executor_def.name == EXECUTOR.name


def test_what_feeds_the_address_links_goes_before_what_does_not():
    """Every step the links wait for outranks every step off the links' path (when both cores are
    wanted, the multiprocess executor starts the higher dagster/priority first)."""
    job = defs.resolve_job_def("everything")
    priority = {name: int(node.definition.tags.get("dagster/priority", 0)) for name, node in job.graph.node_dict.items()}
    feeding = {n for n in priority if n.startswith(("bronze__", "standardize_"))} | {"address_base"}
    after_links = {n for n in priority if n.startswith(("gold__", "sync__", "alerts__", "forms__"))} - {"gold__curated__power_daily", "gold__curated__persons", "gold__curated__elderly", "gold__curated__households"}
    assert len(feeding) >= 27 and after_links
    assert min(priority[n] for n in feeding) > max(priority[n] for n in after_links), {n: priority[n] for n in feeding | after_links}


def _private_dirty_mib() -> float:
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Private_Dirty:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no Private_Dirty in smaps_rollup")


@dg.op(config_schema=LOGGED)
def collect_garbage(context) -> None:
    before = _private_dirty_mib()
    gc.collect()
    with open(context.op_config["log"], "a") as out:
        out.write(json.dumps({"frozen": gc.get_freeze_count(), "copied_mib": _private_dirty_mib() - before}) + "\n")


@dg.job(executor_def=EXECUTOR)
def one_collection():
    collect_garbage()


def _one_collection():
    return one_collection


def test_a_step_collecting_garbage_does_not_copy_the_preloaded_modules(tmp_path):
    log = tmp_path / "gc.jsonl"
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = dg.execute_job(dg.reconstructable(_one_collection), instance=instance,
                                run_config={"ops": {"collect_garbage": {"config": {"log": str(log)}}}})
        assert result.success
    (row,) = map(json.loads, log.read_text().splitlines())
    assert row["frozen"] > 100_000  # the code location, Great Expectations, Dagster's storages …
    # unfrozen, the collector's first full pass wrote to every preloaded object: ~90 MiB copied
    assert row["copied_mib"] < 20, row
