"""Probe: a full relink of a lake in one process (wall, CPU, peak RSS), as the address_links step does it
after the address base changed. It resets the lake's link state, so the lake is relinked for real:

    .venv/bin/python benchmarks/probe_links.py /tmp/b1/warehouse
"""
import resource
import sys
import time

import polars as pl
import address_master.links as L
from warehouse.storage import Warehouse
from pipelines.sources import all_specs
wh = Warehouse(sys.argv[1])
wh.write(pl.DataFrame([{"base_version": -5, "decisions_version": -5}]), L.LAYER, *L.LINK_STATE, mode="overwrite")
t = time.perf_counter(); c0 = time.process_time()
orig_mt = L.match_texts
def timed_mt(*a, **k):
    t1 = time.perf_counter(); p1 = time.process_time()
    out = orig_mt(*a, **k)
    print(f"match_texts {time.perf_counter()-t1:.1f}s wall, {time.process_time()-p1:.1f}s cpu", flush=True)
    return out
L.match_texts = timed_mt
orig_pl = L.parse_frame
def timed_pf(*a, **k):
    t1 = time.perf_counter(); p1 = time.process_time()
    out = orig_pl(*a, **k)
    print(f"  parse_frame {time.perf_counter()-t1:.1f}s wall, {time.process_time()-p1:.1f}s cpu", flush=True)
    return out
L.parse_frame = timed_pf
orig_mp = L.match_parsed
def timed_mp(*a, **k):
    t1 = time.perf_counter(); p1 = time.process_time()
    out = orig_mp(*a, **k)
    print(f"  match_parsed {time.perf_counter()-t1:.1f}s wall, {time.process_time()-p1:.1f}s cpu", flush=True)
    return out
L.match_parsed = timed_mp
r = L.refresh_links(wh, list(all_specs().values()))
print(f"refresh_links {time.perf_counter()-t:.1f}s wall, {time.process_time()-c0:.1f}s cpu, maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/2**20:.2f} GiB, linked {r.linked} texts {r.texts} full {r.full}")
