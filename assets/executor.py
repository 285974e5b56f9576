"""How a run's steps share the machine: two at a time, the largest ones one at a time.

Steps fork from a server that has imported the code location once (not ~3 s of imports per
step). Steps that hold a whole district's records in memory (the address links, the person
master, a bulk system's standardisation and the curated tables built from it) carry
:data:`LARGE` and take the memory slot one at a time; the other core meanwhile runs smaller steps,
so a run's peak stays near one large step plus one small one instead of two large ones.
Priorities (``dagster/priority``) order what waits for a core: the longest chains first.
"""

from __future__ import annotations

import time

import dagster as dg

MEMORY_TAG = "enteronce/memory"
LARGE = {MEMORY_TAG: "large"}
# A bulk system's bronze and silver start a full run's longest chain (bronze → silver → address
# links → person master, all in the memory slot): they go first when both cores are wanted.
BULK_FIRST = {"dagster/priority": "3"}
# Every system's bronze and silver feed the address links (which wait for all of them): they go
# before steps off that path (the address base's curated tables, sync back, weather), which then
# fill the core the links leave idle. In a full run at 1M residents those came first and held the
# links back by about 8 s.
MASTER_INPUT = {"dagster/priority": "1"}

# What the forkserver imports once, before it forks any step: the code location, Great Expectations
# (3.5 s), pypinyin (the person master's homophone keys, 0.8 s), and what each step needs to open
# the Dagster instance again (its storages pull in sqlalchemy, alembic, mako, rich, pygments:
# about 0.4 s per step otherwise, measured in a profile of the next day). A module this Dagster
# version lacks is skipped by the forkserver. The preloaded objects are then frozen out of the
# garbage collector so that steps keep sharing their pages instead of copying them.
PRELOAD = [
    "assets.definitions",
    "great_expectations",
    "pypinyin",
    "dagster._core.instance.factory",
    "dagster._core.storage.legacy_storage",
    "dagster._core.storage.sqlite_storage",
    "dagster._core.storage.event_log.sqlite",
    "dagster._core.storage.runs.sqlite",
    "dagster._core.storage.schedules.sqlite",
    "dagster._core.storage.migration.utils",
    "dagster._core.storage.root",
    "dagster._core.storage.local_compute_log_manager",
    "dagster._core.run_coordinator",
    "dagster._core.launcher",
    "dagster._core.secrets.env_file",
    "dagster._daemon",
    "upath",
    "assets.preload_done",  # last: freezes what came before out of the GC (see that module)
]

EXECUTOR = dg.multiprocess_executor.configured(
    {
        "max_concurrent": 2,
        "tag_concurrency_limits": [{"key": MEMORY_TAG, "limit": 1}],
        "start_method": {"forkserver": {"preload_modules": PRELOAD}},
    }
)


_LAUNCHED = {dg.DagsterEventType.STEP_WORKER_STARTING, dg.DagsterEventType.STEP_START}
_ENDED = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.STEP_SKIPPED}


def large_steps_under_way(instance: dg.DagsterInstance, run_id: str, large: set[str]) -> set[str]:
    """The steps of ``large`` that the run's executor launched and that have not ended yet."""
    launched: set[str] = set()
    ended: set[str] = set()
    for entry in instance.all_logs(run_id, of_type=_LAUNCHED | _ENDED):
        event = entry.dagster_event
        if event is None or event.step_key not in large:
            continue
        (ended if event.event_type in _ENDED else launched).add(event.step_key)
    return launched - ended


def wait_for_memory_slot(context: dg.AssetExecutionContext, poll_seconds: float = 0.5, give_up_after: float = 3600.0) -> float:
    """Block until no step of this run that takes the memory slot (:data:`LARGE`) is under way;
    returns the seconds waited.

    For a step whose size is known only when it runs: a bulk system's curated table is small on a
    normal day (one new day of readings, beside the person master) and as large as the system when
    it is built whole (a first load, or the address links recomputed). Such a step carries no
    :data:`LARGE` tag and calls this before a large build. The executor launches a run's steps by
    priority, so a large step ready at the same moment was launched first and is waited for; none
    is launched later in a run of this graph (every large step is upstream of the curated tables).
    """
    job = context.job_def
    large = {name for name, node in job.graph.node_dict.items() if node.definition.tags.get(MEMORY_TAG) == LARGE[MEMORY_TAG]}
    started = time.monotonic()
    told = False
    while (busy := large_steps_under_way(context.instance, context.run_id, large)) and time.monotonic() - started < give_up_after:
        if not told:
            context.log.info(f"a large build: waiting for the memory slot ({', '.join(sorted(busy))} under way)")
            told = True
        time.sleep(poll_seconds)
    return time.monotonic() - started
