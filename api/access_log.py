"""Who saw whose data: every API request, as a row of the warehouse table ``api/_log/access``.

Requests are buffered in memory and appended in one Delta commit every ``flush_seconds``
(a commit per request would cap the API at the commit rate) and on shutdown.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import polars as pl

from warehouse.storage import Warehouse

ACCESS = ("api", "_log", "access")
SCHEMA = {
    "at": pl.Datetime("us", "UTC"), "token_id": pl.String, "level": pl.String, "code": pl.String, "role": pl.String,
    "method": pl.String, "route": pl.String, "path": pl.String, "query": pl.String, "status": pl.Int32,
    "rows": pl.Int64, "row_keys": pl.List(pl.String), "ms": pl.Float64, "client": pl.String,
}
MAX_KEYS = 1000  # keys of the rows returned, kept per request (an export logs its count and the first keys)


class AccessLog:
    def __init__(self, wh: Warehouse, flush_seconds: float = 1.0):
        self.wh = wh
        self.flush_seconds = flush_seconds
        self._pending: list[dict] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
        self._thread.start()

    def record(self, entry: dict) -> None:
        entry = {**entry, "at": entry.get("at") or datetime.now(timezone.utc)}
        entry["row_keys"] = list(entry.get("row_keys") or [])[:MAX_KEYS]
        with self._lock:
            self._pending.append(entry)

    def flush(self) -> int:
        """Append what is pending in one commit; returns the number of entries written."""
        with self._write_lock:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return 0
            frame = pl.DataFrame([{name: row.get(name) for name in SCHEMA} for row in batch], schema=SCHEMA)
            try:
                self.wh.write(frame, *ACCESS, mode="append")
            except Exception:
                with self._lock:  # keep them for the next flush rather than lose them
                    self._pending[:0] = batch
                raise
            return len(batch)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - logged by the next successful flush's caller; retried
                continue

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()


def read_access(wh: Warehouse) -> pl.DataFrame:
    return wh.read(*ACCESS) if wh.exists(*ACCESS) else pl.DataFrame(schema=SCHEMA)


__all__ = ["ACCESS", "AccessLog", "read_access"]
