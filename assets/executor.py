"""How a run's steps share the machine: two at a time, the largest ones one at a time.

Steps fork from a server that has imported the code location once (not ~3 s of imports per
step). Steps that hold a whole district's records in memory (the address links, the person
master, a bulk system's standardisation and the curated tables built from it) carry
:data:`LARGE` and take the memory slot one at a time; the other core meanwhile runs smaller steps,
so a run's peak stays near one large step plus one small one instead of two large ones.
Priorities (``dagster/priority``) order what waits for a core: the longest chains first.
"""

from __future__ import annotations

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
