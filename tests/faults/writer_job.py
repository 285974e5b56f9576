"""A writer process for the fault tests: ingest and standardise some systems, then exit.

``python -m tests.faults.writer_job LANDING WAREHOUSE SYSTEM...`` — run as a real process so a
test can start two at once or kill one (ENTERONCE_KILL_AFTER_COMMITS) between any two commits."""

from __future__ import annotations

import sys
from pathlib import Path

from pipelines.ingest import build_silver, ingest_bronze
from pipelines.sources import get_spec
from warehouse.storage import Warehouse


def main(landing: str, root: str, systems: list[str]) -> None:
    wh = Warehouse(root)
    for system in systems:
        spec = get_spec(system)
        ingest_bronze(spec, Path(landing), wh)
        build_silver(spec, wh)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
