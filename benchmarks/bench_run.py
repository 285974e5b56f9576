"""Benchmark: the whole graph on a generated district — a full run, an identical re-run, a next day.

    .venv/bin/python benchmarks/bench_run.py --persons 1000000 --out bench_out/run

1. **full**: every asset on a fresh warehouse (generation excluded), through the `everything` job
   with the multiprocess executor, exactly as `enteronce demo run` runs it;
2. **rerun**: the same job again with no new files (must commit nothing to gold);
3. **next day**: `enteronce demo next-day` deliveries (1 % of residents changed in a new 公安 file,
   one new day of 电力), then what the landing sensors and automation run for them — the two
   systems' bronze/silver and every asset downstream — processed incrementally.

Each run executes in a child process, after the dirty pages of the previous one are flushed to
disk (``os.sync``: a next day comes a day after the last run, not seconds after it); memory is
sampled from /proc every 0.2 s over the whole process tree (the run and its step processes): the
peak of the sum, and each step's own peak. Step times come from the run's Dagster events; rows
written per gold table from ``quality/results/publishes``. Results: a Markdown table on stdout and ``<out>/results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from proc_memory import process_tree, pss, rss  # noqa: E402 - benchmarks/, beside this script

ROOT = Path(__file__).resolve().parent.parent


def run_job(args: argparse.Namespace, label: str, systems: list[str] | None = None) -> dict:
    """One run of the `everything` job in a child process, memory sampled over its tree."""
    # no nodes file: the five-level sync is measured by bench_sync.py (the repository's own
    # data/nodes.yaml names the demo's replicas, which a benchmark must not write into)
    env = {**os.environ, "DAGSTER_HOME": str(args.home), "ENTERONCE_WAREHOUSE": str(args.out / "warehouse"),
           "ENTERONCE_LANDING": str(args.data / "landing"), "ENTERONCE_REPORTS": str(args.out / "reports"),
           "ENTERONCE_NODES": str(args.out / "no-nodes.yaml")}
    # the previous run's and the generator's writes are flushed to disk first: a next day comes a
    # day after the last run, not seconds after it (the write-back of a 5 GB lake copied just
    # before a next day cost that run about 3 s, 2026-12-07)
    flushed = time.perf_counter()
    os.sync()
    flush_seconds = time.perf_counter() - flushed
    kernel_before = kernel_stalls()
    started = time.perf_counter()
    select = ["--systems", ",".join(systems)] if systems else []
    proc = subprocess.Popen([sys.executable, __file__, "--child", "--out", str(args.out), *select], cwd=ROOT, env=env, stdout=subprocess.PIPE)
    peak_total, peak_pss, per_pid, at_peak, stop = 0, 0, {}, {}, threading.Event()

    def sample():
        nonlocal peak_total, peak_pss, at_peak
        while not stop.is_set():
            pids = process_tree(proc.pid)
            sizes = {p: rss(p) for p in pids}
            peak_total = max(peak_total, sum(sizes.values()))
            shares = {p: pss(p) for p in pids}
            if sum(shares.values()) > peak_pss:  # which processes make up the peak
                peak_pss, at_peak = sum(shares.values()), shares
            for p, size in sizes.items():
                per_pid[p] = max(per_pid.get(p, 0), size)
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = proc.stdout.read() if proc.stdout else b""
    proc.wait()
    stop.set()
    sampler.join()
    seconds = time.perf_counter() - started
    stalls = {k: v - kernel_before.get(k, 0) for k, v in kernel_stalls().items()}
    child = json.loads(out.decode().strip().splitlines()[-1])
    steps = {k: {**v, "peak_rss_gib": round(per_pid.get(v.get("pid", -1), 0) / 2**30, 2)} for k, v in child["steps"].items()}
    names = {v.get("pid"): k for k, v in child["steps"].items()}
    at_peak_gib = {names.get(p, "run, forkserver and other processes"): 0.0 for p in at_peak}
    for p, size in at_peak.items():
        at_peak_gib[names.get(p, "run, forkserver and other processes")] += size / 2**30
    return {"run": label, "seconds": round(seconds, 1), "run_seconds": child["run_seconds"], "report_seconds": child.get("report_seconds"), "flush_before_seconds": round(flush_seconds, 1), "success": child["success"],
            "peak_rss_tree_gib": round(peak_total / 2**30, 2), "peak_pss_tree_gib": round(peak_pss / 2**30, 2),
            "pss_at_peak_gib": {k: round(v, 2) for k, v in at_peak_gib.items()}, "kernel_stalls": stalls, "steps": steps, "gold": child["gold"]}


# Times from one run to the next vary by a fifth on this virtual machine; these counters say
# whether the kernel made the run's allocations wait (reclaiming page cache, compacting memory)
# and how many transparent huge pages it faulted in
STALL_COUNTERS = ("allocstall_movable", "allocstall_normal", "compact_stall", "thp_fault_alloc")


def kernel_stalls() -> dict[str, int]:
    """The kernel's counts of allocations that waited for reclaim or compaction, and of huge
    page faults (/proc/vmstat)."""
    try:
        rows = dict(line.split() for line in Path("/proc/vmstat").read_text().splitlines())
    except OSError:
        return {}
    return {k: int(rows[k]) for k in STALL_COUNTERS if k in rows}


def child(args: argparse.Namespace) -> None:
    """Inside the child: execute the job, then report step times and gold rows written."""
    import dagster as dg
    import polars as pl

    from assets.definitions import everything_job
    from assets.resources import DEFAULTS
    from quality.gate import PUBLISHES

    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    from warehouse.storage import Warehouse

    instance = dg.DagsterInstance.get()
    selection = None
    if args.systems:  # what the landing sensors and automation run: the delivered systems and all downstream
        from assets.definitions import defs

        keys = [dg.AssetKey([layer, s, t]) for s in args.systems.split(",") for layer, t in _layers(s)]
        selection = list(dg.AssetSelection.assets(*keys).downstream().resolve(defs.get_repository_def().asset_graph))
    started = time.perf_counter()
    result = dg.execute_job(dg.reconstructable(everything_job), instance=instance, raise_on_error=False, asset_selection=selection,
                            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}})
    run_seconds = time.perf_counter() - started
    steps: dict[str, dict] = {}
    for entry in instance.all_logs(result.run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        step = steps.setdefault(event.step_key, {})
        if event.event_type == dg.DagsterEventType.STEP_START:
            step["start"] = entry.timestamp
            step["pid"] = event.pid
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            step["seconds"] = round(entry.timestamp - step.get("start", entry.timestamp), 1)
            step["ok"] = event.event_type == dg.DagsterEventType.STEP_SUCCESS
    for step in steps.values():
        step.pop("start", None)
    wh = Warehouse(os.environ["ENTERONCE_WAREHOUSE"])
    from assets.report import report_run

    started = time.perf_counter()  # the run's quality report, written once after it (as the CLI and the daemon's sensor do)
    report_run(instance, result.run_id, wh, Path(os.environ["ENTERONCE_REPORTS"]))
    report_seconds = time.perf_counter() - started
    gold = wh.read(*PUBLISHES).filter(pl.col("run_id") == result.run_id).select("table", "passed", "published", "version", "inserted", "updated", "deleted")
    print(json.dumps({"success": result.success, "run_seconds": round(run_seconds, 1), "report_seconds": round(report_seconds, 1), "steps": steps, "gold": gold.to_dicts()}))


def _layers(system: str) -> list[tuple[str, str]]:
    from pipelines.ingest import QUARANTINE_TABLE
    from pipelines.sources import get_spec

    table = get_spec(system).table
    return [("bronze", table), ("silver", table), ("quarantine", QUARANTINE_TABLE)]


def markdown(results: list[dict]) -> str:
    lines = []
    for r in results:
        lines.append(f"\n**{r['run']}**: {r['seconds']} s wall ({r['run_seconds']} s in the run, then {r.get('report_seconds', '–')} s for its quality report), peak RSS of the process tree {r['peak_rss_tree_gib']} GiB (PSS, shared pages once: {r.get('peak_pss_tree_gib', '–')} GiB), success {r['success']}\n")
        if r.get("kernel_stalls"):
            lines.append("Kernel memory counters over the run (/proc/vmstat): " + ", ".join(f"{k} {v}" for k, v in r["kernel_stalls"].items()) + "\n")
        if r.get("pss_at_peak_gib"):
            lines.append("PSS at the peak: " + ", ".join(f"{k} {v} GiB" for k, v in sorted(r["pss_at_peak_gib"].items(), key=lambda kv: -kv[1])) + "\n")
        lines.append("| step | seconds | peak RSS GiB |\n|---|---:|---:|")
        for name, s in sorted(r["steps"].items(), key=lambda kv: -kv[1].get("seconds", 0))[:25]:
            lines.append(f"| {name} | {s.get('seconds', '')} | {s['peak_rss_gib']} |")
        lines.append("\n| gold table | inserted | updated | deleted | version |\n|---|---:|---:|---:|---:|")
        for g in sorted(r["gold"], key=lambda g: g["table"]):
            lines.append(f"| {g['table']} | {g['inserted']} | {g['updated']} | {g['deleted']} | {g['version']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=ROOT / "bench_out" / "run")
    parser.add_argument("--data", type=Path, default=None, help="an already generated district (default: generate into OUT/data)")
    parser.add_argument("--next-day-only", action="store_true", help="keep OUT's lake as it is and run one more next day on it (to measure the incremental run alone)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--systems", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.out = args.out.absolute()
    if args.child:
        return child(args)
    from pipelines.demo.generate import generate
    from pipelines.demo.nextday import next_day

    if args.data is None:
        args.data = args.out / "data"
        generate(args.data, persons=args.persons, seed=args.seed, progress=True)
    args.data = args.data.absolute()
    args.home = args.out / "home"
    if args.next_day_only:
        results = []
    else:
        for sub in ("warehouse", "reports", "home"):
            shutil.rmtree(args.out / sub, ignore_errors=True)
        args.home.mkdir(parents=True)
        (args.home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        results = [run_job(args, "full run"), run_job(args, "identical re-run (no new files)")]
    delivered = next_day(args.data, share=0.01, seed=args.seed)
    label = f"({delivered.moved} moved, {delivered.new_phone} new phones, {delivered.births} births; {delivered.readings} power readings)"
    results.append(run_job(args, f"next day, as the sensors and automation run it: 公安 and 电力 and everything downstream {label}", ["gongan", "dianli"]))
    machine = {"machine": platform.machine(), "cores": os.cpu_count(), "python": platform.python_version(), "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")}
    (args.out / ("next_day.json" if args.next_day_only else "results.json")).write_text(json.dumps({"machine": machine, "persons": args.persons, "runs": results}, indent=1, ensure_ascii=False))
    print(json.dumps(machine))
    print(markdown(results))


if __name__ == "__main__":
    main()
