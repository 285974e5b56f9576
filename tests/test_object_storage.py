"""The warehouse on object storage: a real S3-compatible server (moto's standalone server on
127.0.0.1, started here) behind `s3://` URIs, driven through the CLI as a user would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

BIN = Path(sys.executable).parent


def test_cli_ingests_into_an_s3_warehouse_and_reads_it_back(s3, district, tmp_path):
    from warehouse.storage import Warehouse

    landing = tmp_path / "landing"
    shutil.copytree(district / "landing" / "canlian", landing / "canlian")
    env = {**os.environ, "ENTERONCE_STORAGE_OPTIONS": json.dumps(s3), "ENTERONCE_WAREHOUSE": "s3://lake/enteronce"}
    env.pop("DAGSTER_HOME", None)
    run = subprocess.run([str(BIN / "enteronce"), "ingest", "--system", "canlian", "--landing", str(landing)],
                         env=env, cwd=tmp_path, capture_output=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    wh = Warehouse("s3://lake/enteronce", storage_options=s3)
    silver = wh.read("silver", "canlian", "disability_certificates")
    quarantine = wh.read("quarantine", "canlian", "rows")
    received = wh.read("bronze", "canlian", "_files")["received"].sum()
    assert silver.height > 0 and silver.height + quarantine.height == received  # every record, on S3
    assert not (tmp_path / "data" / "warehouse").exists()  # nothing fell back to a local folder
    summary = subprocess.run([str(BIN / "enteronce"), "summary"], env=env, cwd=tmp_path, capture_output=True, timeout=300, check=False)
    assert summary.returncode == 0 and b"canlian" in summary.stdout, summary.stderr.decode()[-2000:]
    # a second ingest of the same files changes nothing there either
    again = subprocess.run([str(BIN / "enteronce"), "ingest", "--system", "canlian", "--landing", str(landing)],
                           env=env, cwd=tmp_path, capture_output=True, timeout=600, check=False)
    assert again.returncode == 0
    assert wh.read("silver", "canlian", "disability_certificates").height == silver.height
    assert pl.Series(wh.read("bronze", "canlian", "_files")["status"]).to_list().count("ingested") == 1
