"""Benchmark: the five-level sync of a whole district — a full copy against an incremental sync of a 1 % change.

    .venv/bin/python benchmarks/bench_sync.py --lake bench_out/run/warehouse --out bench_out/sync

``--lake``: a warehouse with the curated tables (e.g. the one `bench_run.py --persons 1000000`
leaves behind). Its gold tables are copied into ``OUT/hub`` (the lake itself is not changed),
a nodes file for the hub's province, city, district, streets and communities is written, then:

1. **bootstrap**: every node gets a full copy (``run_sync(full=True)``);
2. **change batch**: 1 % of the residents get a new phone number and living status — persons
   and the elderly rows of the same people are republished the way the gates publish (diff by
   key, one MERGE per table);
3. **incremental**: ``run_sync`` ships the change feed since each node's watermark;
4. **full re-copy**: the same state copied in full to every node again (what a sync without
   watermarks would do each time);
5. **idempotent re-run**: nothing to ship;
6. **check**: the persons table of the province, the district and three communities equals
   mask(level, filter(prefix, hub)).

Time, rows and bytes (Arrow size of what was written at the nodes) for each; ``OUT/results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.reference import divisions  # noqa: E402
from pipelines.sync import HUB_COLUMN, default_nodes, expected_rows, load_config, run_sync  # noqa: E402
from warehouse.publish import diff_by_key, merge_changes  # noqa: E402
from warehouse.storage import Warehouse  # noqa: E402


def measure(label: str, fn) -> dict:
    started = time.perf_counter()
    shipments = fn()
    seconds = time.perf_counter() - started
    row = {"step": label, "seconds": round(seconds, 2), "node_tables": len(shipments), "rows": sum(s.rows for s in shipments),
           "bytes": sum(s.bytes for s in shipments), "nodes": len({s.node.code for s in shipments})}
    print(f"{label}: {row['seconds']}s, {row['rows']:,} rows, {row['bytes'] / 2**20:,.1f} MiB to {row['nodes']} nodes", flush=True)
    return row


def change_batch(wh: Warehouse, share: float, seed: int) -> dict:
    """New phone and living status for ``share`` of the residents, in persons and elderly."""
    persons = wh.read("gold", "curated", "persons")
    chosen = persons.sample(fraction=share, seed=seed).select("person_id")
    n = chosen.height
    new = chosen.with_columns(
        pl.format("139{}", (pl.int_range(n) + 10_000_000).cast(pl.String)).alias("_phone"),
        pl.lit("独居").alias("_status"),
    )
    changed = {}
    for table in ("persons", "elderly"):
        frame = wh.read("gold", "curated", table)
        updated = frame.join(new, on="person_id", how="left").with_columns(
            pl.coalesce("_phone", "phone").alias("phone"), pl.coalesce("_status", "living_status").alias("living_status")
        ).drop("_phone", "_status")
        changes, counts = diff_by_key(wh.scan("gold", "curated", table), updated, ["person_id"])
        merge_changes(wh.uri("gold", "curated", table), changes, ["person_id"], app_id="bench.change", app_version=seed)
        changed[table] = counts.total
    print(f"change batch: {n:,} residents ({share:.0%}); rows changed {changed}", flush=True)
    return changed


def check(wh: Warehouse, config, codes: list[str]) -> None:
    for code in codes:
        node = config.node(code)
        got = node.warehouse().read("gold", "curated", "persons").filter(pl.col(HUB_COLUMN) == config.hub).sort("person_id")
        want = expected_rows(wh, config, node, "persons").sort("person_id")
        assert got.height == want.height and got.select(want.columns).equals(want), f"node {code} differs from mask(filter(hub))"
    print(f"converged: persons at {', '.join(codes)} equal mask(level, filter(prefix, hub))", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", type=Path, required=True, help="a warehouse holding gold/curated")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_out" / "sync")
    parser.add_argument("--hub", default="330102")
    parser.add_argument("--share", type=float, default=0.01, help="share of residents changed")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)
    hub_root = args.out / "hub"
    shutil.copytree(args.lake / "gold" / "curated", hub_root / "gold" / "curated")
    nodes_file = args.out / "nodes.yaml"
    nodes_file.write_text(yaml.safe_dump(default_nodes(args.hub, divisions(), "nodes"), allow_unicode=True), encoding="utf-8")
    config = load_config(nodes_file)
    wh = Warehouse(str(hub_root))
    sizes = {t: wh.table("gold", "curated", t).count() for t in config.tables if wh.exists("gold", "curated", t)}
    print(f"hub {args.hub}: {len(config.nodes)} nodes; gold rows {sizes}", flush=True)
    steps = [measure("bootstrap: full copy to every node", lambda: run_sync(wh, config, full=True))]
    changed = change_batch(wh, args.share, args.seed)
    steps.append(measure("incremental: the 1 % change batch", lambda: run_sync(wh, config)))
    steps.append(measure("full re-copy of the same state", lambda: run_sync(wh, config, full=True)))
    steps.append(measure("idempotent re-run", lambda: run_sync(wh, config)))
    communities = [n.code for n in config.nodes if n.level == "community"][:3]
    check(wh, config, ["33", args.hub, *communities])
    full, incremental = steps[2], steps[1]
    speedup = full["seconds"] / incremental["seconds"] if incremental["seconds"] else float("inf")
    results = {
        "machine": {"machine": platform.machine(), "cores": os.cpu_count(), "python": platform.python_version(), "date": datetime.now(timezone.utc).date().isoformat()},
        "hub": args.hub, "nodes": len(config.nodes), "gold_rows": sizes, "changed_rows": changed, "steps": steps,
        "speedup_incremental_vs_full": round(speedup, 1),
    }
    (args.out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    print("\n| step | seconds | node tables synced | rows shipped | MiB shipped |\n|---|---:|---:|---:|---:|")
    for s in steps:
        print(f"| {s['step']} | {s['seconds']} | {s['node_tables']} | {s['rows']:,} | {s['bytes'] / 2**20:,.1f} |")
    print(f"\nincremental vs full re-copy: {speedup:.1f}× faster, {full['rows'] / max(incremental['rows'], 1):,.0f}× fewer rows")


if __name__ == "__main__":
    main()
