"""Shared fixtures: one small generated district per test session (real files, real formats)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

from pipelines.demo.generate import generate  # noqa: E402
from warehouse.storage import Warehouse  # noqa: E402

SMALL_PERSONS = 1500
POWER_DAYS = 5  # enough for a baseline before the power-drop alert's last 2 days


@pytest.fixture(scope="session")
def district(tmp_path_factory) -> Path:
    """A generated district (1,500 residents, 5 days of power data: a baseline for the power-drop alert) — read-only for tests."""
    out = tmp_path_factory.mktemp("district")
    generate(out, persons=SMALL_PERSONS, seed=7, power_days=POWER_DAYS, progress=False)
    return out


@pytest.fixture
def landing(tmp_path) -> Path:
    path = tmp_path / "landing"
    path.mkdir()
    return path


@pytest.fixture
def wh(tmp_path) -> Warehouse:
    return Warehouse(root=str(tmp_path / "warehouse"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server on a free local port with one bucket; yields the delta-rs storage options."""
    port = _free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url, timeout=1)  # noqa: S310 - our own local server
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("moto_server did not start")
        request = urllib.request.Request(f"{url}/lake", method="PUT")  # create the bucket
        urllib.request.urlopen(request, timeout=5)  # noqa: S310
        yield {
            "AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true", "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
        }
    finally:
        server.terminate()
        server.wait(timeout=10)
