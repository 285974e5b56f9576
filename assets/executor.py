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

EXECUTOR = dg.multiprocess_executor.configured(
    {
        "max_concurrent": 2,
        "tag_concurrency_limits": [{"key": MEMORY_TAG, "limit": 1}],
        "start_method": {"forkserver": {"preload_modules": ["assets.definitions", "great_expectations"]}},
    }
)
