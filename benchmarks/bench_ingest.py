"""Benchmark: demo generation and bronze → silver ingestion of all 13 systems.

Each phase runs in its own child process so its wall time and peak memory (max RSS, from
``os.wait4``) are its own. Ingestion runs through Dagster (``dagster.materialize``) exactly as
the assets do, bronze first, then silver/quarantine with the row-conservation checks.

    .venv/bin/python benchmarks/bench_ingest.py --persons 1000000

Results are printed as a Markdown table and saved to ``<out>/results.json``; copy them into
docs/benchmarks.md with the machine description.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_phase(args: argparse.Namespace, phase: str) -> dict:
    cmd = [sys.executable, __file__, "--phase", phase, "--persons", str(args.persons), "--seed", str(args.seed), "--out", str(args.out), "--power-days", str(args.power_days)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=ROOT)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"phase {phase} failed (status {status})")
    result = json.loads(out.decode().strip().splitlines()[-1])
    result.update(phase=phase, seconds=round(elapsed, 1), peak_rss_gib=round(usage.ru_maxrss / 1024**2, 2))
    return result


def phase_generate(args: argparse.Namespace) -> dict:
    from pipelines.demo.generate import generate

    summary = generate(args.out, persons=args.persons, seed=args.seed, power_days=args.power_days, progress=True)
    return {"rows": sum(summary.records.values()), "addresses": summary.addresses}


def phase_ingest(args: argparse.Namespace, groups: list[str]) -> dict:
    import dagster as dg
    import polars as pl

    from assets.definitions import ASSETS
    from assets.resources import LandingResource, WarehouseResource
    from pipelines.ingest import QUARANTINE_TABLE
    from pipelines.sources import all_specs
    from warehouse.storage import Warehouse

    result = dg.materialize(
        ASSETS,
        selection=dg.AssetSelection.groups(*groups),
        resources={"warehouse": WarehouseResource(root=str(args.out / "warehouse")), "landing": LandingResource(root=str(args.out / "landing"))},
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    wh = Warehouse(str(args.out / "warehouse"))
    layer = groups[0]
    rows = 0
    for spec in all_specs().values():
        for lay, table in ((layer, spec.table),) + (((("quarantine", QUARANTINE_TABLE),)) if layer == "silver" else ()):
            scan = wh.scan(lay, spec.system, table)
            rows += 0 if scan is None else scan.select(pl.len()).collect().item()
    checks = result.get_asset_check_evaluations()
    return {"rows": rows, "checks_passed": sum(e.passed for e in checks), "checks": len(checks)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--power-days", type=int, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "bench_out")
    parser.add_argument("--phase", choices=["generate", "bronze", "silver"])
    args = parser.parse_args()
    args.out = args.out.absolute()
    if args.phase:
        result = {"generate": phase_generate, "bronze": lambda a: phase_ingest(a, ["bronze"]), "silver": lambda a: phase_ingest(a, ["silver", "quarantine"])}[args.phase](args)
        print(json.dumps(result))
        return
    import shutil

    shutil.rmtree(args.out / "warehouse", ignore_errors=True)
    results = [run_phase(args, p) for p in ("generate", "bronze", "silver")]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1024**3:.0f} GiB, Python {platform.python_version()}"
    print(f"\npersons={args.persons:,} seed={args.seed} power_days={args.power_days}  machine: {machine}\n")
    print("| phase | rows | seconds | rows/s | peak RSS (GiB) | checks |")
    print("|---|---:|---:|---:|---:|---|")
    for r in results:
        checks = f"{r['checks_passed']}/{r['checks']} passed" if "checks" in r else ""
        print(f"| {r['phase']} | {r['rows']:,} | {r['seconds']} | {r['rows'] / r['seconds']:,.0f} | {r['peak_rss_gib']} | {checks} |")
    ingest = results[1]["seconds"] + results[2]["seconds"]
    print(f"\nbronze+silver total: {ingest:.1f} s, peak {max(results[1]['peak_rss_gib'], results[2]['peak_rss_gib'])} GiB")
    (args.out / "results.json").write_text(json.dumps({"persons": args.persons, "machine": machine, "phases": results}, indent=1))


if __name__ == "__main__":
    main()
