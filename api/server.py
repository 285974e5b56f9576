"""The ASGI app ``enteronce serve`` runs (uvicorn factory): settings from the environment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from fastapi import FastAPI

from api.app import Settings, create_app
from warehouse.storage import Warehouse


def app() -> FastAPI:
    return create_app(Warehouse.from_env(), Settings(
        refresh_seconds=float(os.environ.get("ENTERONCE_API_REFRESH", "5")),
        auth_refresh_seconds=float(os.environ.get("ENTERONCE_API_AUTH_REFRESH", "1")),
        flush_seconds=float(os.environ.get("ENTERONCE_API_LOG_FLUSH", "2")),
    ))


def start(warehouse: str, *options: str, port: int, timeout: float = 60.0) -> subprocess.Popen:
    """Start ``enteronce serve`` on 127.0.0.1:``port`` as a user would, and wait until it answers
    (for tests and benchmarks). Raises with the server's error output when it does not start."""
    env = {**os.environ, "ENTERONCE_WAREHOUSE": warehouse}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "enteronce"), "serve", "--port", str(port), *options],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"enteronce serve exited: {proc.stderr.read().decode(errors='replace')}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):  # noqa: S310 - our own local server
                return proc
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"enteronce serve did not answer on port {port} within {timeout:.0f} s")
