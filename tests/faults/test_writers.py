"""Two writers at once, and writers killed between any two commits: the tables end up exactly
as after one clean run — no row doubled, none lost."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from pipelines.ingest import BATCHES_TABLE, FILES_TABLE, QUARANTINE_TABLE
from pipelines.sources import get_spec
from warehouse.storage import Warehouse

ROOT = Path(__file__).resolve().parents[2]
SYSTEMS = ["gongan", "qixiang"]  # a CSV with quarantined rows, and XML


def _writer(landing: Path, root: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.faults.writer_job", str(landing), str(root), *SYSTEMS],
                            cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _state(root: Path) -> dict:
    """What a run leaves, without its timestamps: rows per (table, batch, source row)."""
    wh = Warehouse(str(root))
    state = {}
    for system in SYSTEMS:
        spec = get_spec(system)
        for layer, table, batch, row in (("bronze", spec.table, "_batch_id", "_source_row"), ("silver", spec.table, "batch_id", "source_row"),
                                          ("quarantine", QUARANTINE_TABLE, "batch_id", "source_row")):
            frame = wh.read(layer, system, table)
            state[(layer, system)] = sorted(frame.select(batch, row).rows()) if frame.height else []
        state[("batches", system)] = sorted(wh.read("silver", system, BATCHES_TABLE).select("batch_id", "bronze_rows", "silver_rows", "quarantined_rows").rows())
        state[("files", system)] = sorted(wh.read("bronze", system, FILES_TABLE).select("file_name", "status", "received").rows())
    return state


@pytest.fixture(scope="module")
def deliveries(district, tmp_path_factory) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("writers")
    landing = base / "landing"
    for system in SYSTEMS:
        shutil.copytree(district / "landing" / system, landing / system)
    proc = _writer(landing, base / "clean")
    assert proc.wait() == 0, proc.stderr.read().decode()
    clean = _state(base / "clean")
    assert all(len(v) > 0 for v in clean.values())
    return landing, clean


def test_two_runs_at_once_give_one_clean_run(deliveries, tmp_path):
    landing, clean = deliveries
    both = [_writer(landing, tmp_path / "wh") for _ in range(2)]
    assert [p.wait() for p in both] == [0, 0]
    assert _state(tmp_path / "wh") == clean


def test_a_run_killed_after_any_commit_and_run_again_gives_one_clean_run(deliveries, tmp_path):
    landing, clean = deliveries
    killed_at = []
    for k in range(1, 100):
        root = tmp_path / f"wh{k}"
        proc = _writer(landing, root, {"ENTERONCE_KILL_AFTER_COMMITS": str(k)})
        if proc.wait() == 0:  # finished before its k-th commit: every boundary was tried
            break
        killed_at.append(k)
        rerun = _writer(landing, root)
        assert rerun.wait() == 0, rerun.stderr.read().decode()
        assert _state(root) == clean, f"killed after commit {k}"
    assert len(killed_at) >= 8  # bronze, files log, silver, quarantine, batches … per system
