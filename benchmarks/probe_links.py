"""Probe: a full relink of a lake in one process (wall, CPU, peak RSS), as the address_links step does it
after the address base changed. It resets the lake's link state, so the lake is relinked for real:

    .venv/bin/python benchmarks/probe_links.py /tmp/b1/warehouse
"""

import functools
import resource
import sys
import time

import polars as pl

import address_master.links as links
from pipelines.sources import all_specs
from warehouse.storage import Warehouse


def timed(fn, label: str):
    """``fn`` printing its wall and CPU seconds at each call."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn(*args, **kwargs)
        print(f"{label} {time.perf_counter() - wall:.1f}s wall, {time.process_time() - cpu:.1f}s cpu", flush=True)
        return out

    return wrapper


wh = Warehouse(sys.argv[1])
wh.write(pl.DataFrame([{"base_version": -5, "decisions_version": -5}]), links.LAYER, *links.LINK_STATE, mode="overwrite")
links.match_texts = timed(links.match_texts, "match_texts")
links.parse_frame = timed(links.parse_frame, "  parse_frame")  # per slice (slices run two at a time)
links.match_parsed = timed(links.match_parsed, "  match_parsed")
started, cpu = time.perf_counter(), time.process_time()
result = links.refresh_links(wh, list(all_specs().values()))
print(f"refresh_links {time.perf_counter() - started:.1f}s wall, {time.process_time() - cpu:.1f}s cpu, "
      f"maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB, "
      f"linked {result.linked} texts {result.texts} full {result.full}")
