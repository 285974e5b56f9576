"""Benchmark: the emergency roster (黄金十分钟) of 13 buildings on the 1,000,000-resident district.

    .venv/bin/python benchmarks/bench_roster.py --lake bench_out/run/warehouse

13 buildings are drawn at random (seed 1) from the curated buildings of the lake. Timed: the
roster function on the Delta tables (polars scans with the building filter pushed down), five
times, and the whole command `enteronce roster --buildings …` as a user runs it (process start
and imports included), three times. Results in ``OUT/results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.roster import Where, roster  # noqa: E402
from warehouse.storage import Warehouse  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", type=Path, default=ROOT / "bench_out" / "run" / "warehouse")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_out" / "roster")
    parser.add_argument("--buildings", type=int, default=13)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    wh = Warehouse(str(args.lake.resolve()))
    buildings = wh.read("gold", "curated", "buildings", columns=["building_id"]).sample(args.buildings, seed=1)["building_id"].to_list()
    residents = pl.scan_delta(wh.uri("gold", "curated", "persons")).select(pl.len()).collect().item()
    where = Where(buildings=tuple(buildings))
    times, rows = [], 0
    for _ in range(5):
        started = time.perf_counter()
        frame = roster(wh.scan("gold", "curated", "persons"), wh.scan("gold", "curated", "addresses"), where)
        times.append(time.perf_counter() - started)
        rows = frame.height
    command = [str(Path(sys.executable).parent / "enteronce"), "roster", "--warehouse", wh.root, "--buildings", ",".join(buildings)]
    cli = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        cli.append(time.perf_counter() - started)
    results = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(), "residents": residents, "buildings": args.buildings, "roster_rows": rows,
        "function_seconds_median": round(statistics.median(times), 3), "function_seconds_first": round(times[0], 3),
        "cli_seconds_median": round(statistics.median(cli), 3),
    }
    (args.out / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=2))
    print(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
