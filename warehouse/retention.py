"""Retention: old versions of the lake's tables (unmasked ID numbers, phones, names) are removed.

Delta keeps every version's files until they are vacuumed, and the change data feed keeps its
own files under ``_change_data`` — which delta-rs's vacuum does not remove. :func:`apply_retention`
removes, for each table, (1) data files no version inside the window needs (``vacuum``),
(2) change-feed files written before the window, and (3) log entries before it (a checkpoint
first, then ``cleanup_metadata`` under ``delta.logRetentionDuration``: a commit's file
statistics hold column minima and maxima, ID numbers among them).

After it, time travel and the change feed reach back ``hours`` and no further: an older
version cannot be read, and a replica or app behind the window reloads the table.

Tables only ever appended to (quality results, the publish and shipment logs, file and batch
lists) are compacted first when they hold many small files: every gate reads some of them, and
reading 2,000 one-run files took 0.15 s against 0.03 s for one file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

import pyarrow.fs as pafs
from deltalake import DeltaTable

from warehouse.storage import Warehouse

ENV_RETENTION_HOURS = "ENTERONCE_RETENTION_HOURS"
DEFAULT_RETENTION_HOURS = 168  # 7 days of time travel


def retention_hours() -> int:
    return int(os.environ.get(ENV_RETENTION_HOURS) or DEFAULT_RETENTION_HOURS)


COMPACT_FROM_FILES = 32  # a table with at least this many data files ...
COMPACT_BELOW_BYTES = 8 * 2**20  # ... averaging less than this is compacted, if only ever appended to:
APPENDED_ONLY = ("quality/results/", "sync/_log/")  # and bookkeeping tables named _* (_files, _batches; a _state overwritten whole keeps one file)


@dataclass(frozen=True)
class Retained:
    table: str  # layer/system/table
    compacted: int  # small files rewritten into larger ones (0: left as it was)
    data_files: int  # removed by vacuum
    change_files: int  # change-feed files removed
    oldest_version: int  # oldest version still readable


def _filesystem(wh: Warehouse) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem for the warehouse and the root path within it (local folder or s3://)."""
    if "://" not in wh.root:
        return pafs.LocalFileSystem(), os.path.abspath(wh.root)
    url = urlparse(wh.root)
    if url.scheme not in ("s3", "s3a"):
        raise ValueError(f"retention: storage '{url.scheme}://' is not supported (folders and s3:// are)")
    opts = {k.upper(): v for k, v in wh.storage_options.items()}
    endpoint = opts.get("AWS_ENDPOINT_URL") or opts.get("AWS_ENDPOINT")
    fs = pafs.S3FileSystem(
        access_key=opts.get("AWS_ACCESS_KEY_ID"), secret_key=opts.get("AWS_SECRET_ACCESS_KEY"), region=opts.get("AWS_REGION"),
        endpoint_override=urlparse(endpoint).netloc if endpoint else None,
        scheme=urlparse(endpoint).scheme if endpoint else "https",
    )
    return fs, f"{url.netloc}{url.path}".rstrip("/")


def tables(wh: Warehouse) -> list[str]:
    """Every Delta table under the warehouse root, as ``layer/system/table``."""
    fs, root = _filesystem(wh)
    found = []
    for info in fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True)):
        if info.type == pafs.FileType.Directory and info.base_name == "_delta_log":
            relative = info.path[len(root):].strip("/").removesuffix("/_delta_log")
            if relative.count("/") == 2:
                found.append(relative)
    return sorted(found)


def apply_retention(wh: Warehouse, hours: int | None = None, now: datetime | None = None, only: list[str] | None = None) -> list[Retained]:
    """Remove what lies before the retention window from every table (or ``only`` these)."""
    hours = retention_hours() if hours is None else hours
    if hours < 0:
        raise ValueError("retention hours must not be negative")
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(hours=hours)
    fs, root = _filesystem(wh)
    results = []
    for name in only or tables(wh):
        dt = DeltaTable(wh.uri(*name.split("/")), storage_options=dict(wh.storage_options) or None)
        compacted = _compact(dt) if appended_only(name) else 0  # before the vacuum: it then removes the small files too
        # a vacuum commits twice (start, end) even when it removes nothing: ask first, so a table
        # with nothing to remove keeps its version (its readers see no change)
        candidates = dt.vacuum(retention_hours=hours, dry_run=True, enforce_retention_duration=False)
        # (the dry run also lists tombstones whose files are already gone)
        removed = [f for f in candidates if fs.get_file_info(f"{root}/{name}/{f}").type == pafs.FileType.File]
        if removed:
            dt.vacuum(retention_hours=hours, dry_run=False, enforce_retention_duration=False)
        stale = [info.path for info in fs.get_file_info(pafs.FileSelector(f"{root}/{name}/_change_data", recursive=True, allow_not_found=True))
                 if info.type == pafs.FileType.File and info.mtime is not None and info.mtime.astimezone(timezone.utc) < cutoff]
        for path in stale:
            fs.delete_file(path)
        wanted = f"interval {hours} hours"
        if dt.metadata().configuration.get("delta.logRetentionDuration") != wanted:
            dt.alter.set_table_properties({"delta.logRetentionDuration": wanted})
        dt.create_checkpoint()
        dt.cleanup_metadata()
        oldest = min(int(entry["version"]) for entry in DeltaTable(dt.table_uri, storage_options=dict(wh.storage_options) or None).history())
        results.append(Retained(name, compacted, len(removed), len(stale), oldest))
    return results


def appended_only(name: str) -> bool:
    """Tables written only by appends: a compaction never conflicts with a run writing to them
    (an overwrite of rows, or a MERGE, would fail on files compacted under it). Curated tables
    are not among them; their versions are changes that replicas and apps follow."""
    return name.startswith(APPENDED_ONLY) or name.rsplit("/", 1)[-1].startswith("_")


def _compact(dt: DeltaTable) -> int:
    """Rewrite a table of many small files into few (one commit, no data change); how many were rewritten."""
    sizes = dt.get_add_actions(flatten=True).column("size_bytes").to_pylist()
    if len(sizes) < COMPACT_FROM_FILES or sum(sizes) / len(sizes) >= COMPACT_BELOW_BYTES:
        return 0
    return int(dt.optimize.compact()["numFilesRemoved"])


__all__ = ["DEFAULT_RETENTION_HOURS", "ENV_RETENTION_HOURS", "Retained", "apply_retention", "retention_hours", "tables"]
