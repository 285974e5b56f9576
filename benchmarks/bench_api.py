"""Benchmark: the query API under a bounded local load — latency (p50/p99) and requests per second.

    .venv/bin/python benchmarks/bench_api.py --lake bench_out/run/warehouse --out bench_out/api

``--lake``: a warehouse with the curated tables (e.g. the 1,000,000-resident one `bench_run.py`
leaves behind); tokens and the access log are written into it (``api/``), nothing else changes.
``enteronce serve`` is started on 127.0.0.1 as a user would start it, then for each scenario
``wrk`` (Debian package ``wrk``: a C load generator, so the client takes little of the 2 cores the
server runs on) keeps keep-alive connections busy for ``--seconds``, twice: ``--concurrency``
connections for throughput (requests/s at saturation: latency there is mostly queueing) and
``--latency-concurrency`` connections for latency under a bounded load:

1. **community list**: a community caseworker token pages through its community's residents
   (``/v1/tables/persons?limit=50``, following ``next_cursor``, starting again at the end);
2. **building lookup**: the same token looks up random buildings of its community with their
   addresses, residents, households and businesses (``/v1/lookup/building/{id}``);
3. **street aggregate**: a street token asks for its communities' flag counts
   (``/v1/aggregates/persons``).

The first request of each kind (which loads the table's snapshot) is timed on its own and left
out of the percentiles. Results in ``OUT/results.json``; the server's peak RSS from /proc.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

import httpx
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.server import start  # noqa: E402
from proc_memory import process_tree, rss  # noqa: E402 - benchmarks/, beside this script
from api.tokens import issue_token  # noqa: E402
from warehouse.storage import Warehouse  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PAGE_SCRIPT = """
local cursor = nil
request = function()
  local path = "/v1/tables/persons?limit=50"
  if cursor then path = path .. "&cursor=" .. cursor end
  return wrk.format("GET", path)
end
response = function(status, headers, body)
  cursor = string.match(body, '"next_cursor": "([^"]+)"')
end
"""

LOOKUP_SCRIPT = """
local ids = {%s}
math.randomseed(7)
request = function()
  return wrk.format("GET", "/v1/lookup/building/" .. ids[math.random(#ids)])
end
"""


def wrk(url: str, token: str, seconds: float, concurrency: int, script: str | None, folder: Path) -> dict:
    """Run wrk against ``url`` and read its summary: requests/s, p50, p99, errors."""
    command = ["wrk", f"-t{min(2, concurrency)}", f"-c{concurrency}", f"-d{int(seconds)}s", "--latency", "--timeout", "10s",
               "-H", f"Authorization: Bearer {token}"]
    if script:
        path = folder / "script.lua"
        path.write_text(script)
        command += ["-s", str(path)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, flags=re.M).groups()
        return round(float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit], 2)

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests": int(re.search(r"(\d+) requests in", out).group(1)), "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": ms("50%"), "p99_ms": ms("99%"), "non_2xx": int(errors.group(1)) if errors else 0}


def engines(wh: Warehouse, community: str, buildings: list[str], n: int = 50) -> dict:
    """The residents of ``n`` random buildings of ``community``, read per request three ways: DuckDB
    ``delta_scan`` (delta extension from PyPI), polars ``scan_delta`` with the filter pushed down,
    and the API's in-memory snapshot (its index and row range). Milliseconds per lookup (median)."""
    import statistics
    from pathlib import Path as _Path

    import duckdb
    import duckdb_extension_delta

    from api.store import Store
    from warehouse.masking import role_policy

    uri = wh.uri("gold", "curated", "persons")
    chosen = random.Random(3).choices(buildings, k=n)
    extension = next(_Path(duckdb_extension_delta.__file__).parent.glob(f"extensions/v{duckdb.__version__}/delta.duckdb_extension"))
    con = duckdb.connect()
    con.execute("SET autoinstall_known_extensions = false")
    con.execute(f"LOAD '{extension}'")
    store = Store(wh)
    snap = store.snapshot("persons")
    policy = role_policy("community", "caseworker")

    readers = {
        "duckdb delta_scan": lambda b: con.execute(f"SELECT * FROM delta_scan('{uri}') WHERE building_id = ? AND community_code = ?", [b, community]).arrow(),
        "polars scan_delta": lambda b: pl.scan_delta(uri).filter((pl.col("building_id") == b) & (pl.col("community_code") == community)).collect(),
        "API snapshot": lambda b: snap.lookup("building_id", b, community, policy),
    }
    out = {}
    for name, read in readers.items():
        read(chosen[0])  # warm: the extension, the index, the page cache
        times = []
        for b in chosen:
            started = time.perf_counter()
            read(b)
            times.append((time.perf_counter() - started) * 1000)
        out[name] = round(statistics.median(times), 2)
        print(f"  {name}: {out[name]} ms per building's residents (median of {n})", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", type=Path, default=ROOT / "bench_out" / "run" / "warehouse")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_out" / "api")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=16, help="connections for the throughput run (saturates the server)")
    parser.add_argument("--latency-concurrency", type=int, default=2, help="connections for the latency run (a bounded load)")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench_api needs wrk (Debian: apt-get install wrk; `make bench-api` installs it)")
    args.out.mkdir(parents=True, exist_ok=True)
    wh = Warehouse(str(args.lake.resolve()))
    persons = pl.scan_delta(wh.uri("gold", "curated", "persons")).select("community_code", "street_code").collect()
    community = persons.group_by("community_code").len().drop_nulls().sort("len", descending=True)["community_code"][0]
    street = community[:9]
    buildings = (pl.scan_delta(wh.uri("gold", "curated", "buildings")).filter(pl.col("community_code") == community)
                 .select("building_id").collect()["building_id"].to_list())
    _, community_token = issue_token(wh, "community", community, "caseworker", label="bench_api")
    _, street_token = issue_token(wh, "street", street, "analyst", label="bench_api")
    results_engines = engines(wh, community, buildings)
    print(f"district of {persons.height:,} residents; community {community} ({persons.filter(pl.col('community_code') == community).height:,} "
          f"residents, {len(buildings)} buildings), street {street}", flush=True)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start(wh.root, "--workers", str(args.workers), port=port)
    results: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                     "python": platform.python_version(), "residents": persons.height, "community": community, "street": street,
                     "concurrency": args.concurrency, "seconds": args.seconds, "workers": args.workers,
                     "per_lookup_ms_by_engine": results_engines}
    try:
        headers = {"Authorization": f"Bearer {community_token}"}
        cold = {}
        for name, path, token in (("persons", "/v1/tables/persons?limit=50", community_token),
                                  ("buildings", f"/v1/lookup/building/{quote(buildings[0], safe='')}", community_token),
                                  ("aggregate", "/v1/aggregates/persons", street_token)):
            for _ in range(args.workers * 3):  # every worker loads its snapshots
                started = time.perf_counter()
                assert httpx.get(f"{base}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=300).status_code == 200
                cold.setdefault(name, round(time.perf_counter() - started, 2))
        results["first_request_seconds"] = cold
        print(f"first requests (snapshot loads): {cold}", flush=True)

        lookups = LOOKUP_SCRIPT % ", ".join(f'"{quote(b, safe="")}"' for b in buildings)
        scenarios = {"community list (50 rows a page)": (base + "/", PAGE_SCRIPT, community_token),
                     "building lookup": (base + "/", lookups, community_token),
                     "street aggregate": (base + "/v1/aggregates/persons", None, street_token)}
        peak = 0
        for label, (url, script, token) in scenarios.items():
            row = {"throughput": wrk(url, token, args.seconds, args.concurrency, script, args.out),
                   "latency": wrk(url, token, args.seconds, args.latency_concurrency, script, args.out)}
            peak = max(peak, sum(rss(p) for p in process_tree(server.pid)))
            results[label] = row
            print(f"{label}: {row}", flush=True)
        results["server_peak_rss_gib"] = round(peak / 2**30, 2)
        assert httpx.get(f"{base}/v1/me", headers=headers).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
    (args.out / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=2))
    print(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
