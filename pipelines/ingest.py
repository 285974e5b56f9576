"""Landing files → bronze → silver/quarantine for one system, incremental and idempotent.

Bronze: every new landing file becomes one batch (``batch_id`` derived from the file's SHA-256),
appended as received plus lineage. A file whose bytes were already ingested — under any name —
is recorded as a duplicate delivery and skipped; a file that cannot be read is recorded as
rejected with the reason. Both outcomes are logged in ``bronze/<system>/_files``.

Silver: each bronze batch not yet standardised is split into silver rows and quarantined rows;
``silver/<system>/_batches`` records what was processed. A write interrupted half-way is redone
on the next run: the batch's rows are deleted before they are appended again.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import polars as pl

from pipelines.drift import column_drift
from pipelines.pii import scrub
from pipelines.sources.readers import LINES, SourceFileError, count_received, read_source_file
from pipelines.sources.spec import SourceSpec
from pipelines.standardize import standardize, unmapped_columns
from warehouse.storage import Warehouse, sql_in

FILES_TABLE = "_files"
# path, size and modification time → SHA-256 of the landing files as last seen: a file unchanged on
# disk is not read again to tell whether it was ingested (a month of 电力 files: 0.3 s a run)
FILE_HASHES_TABLE = "_file_hashes"
FILE_HASHES_SCHEMA = {"file_path": pl.String, "size": pl.Int64, "mtime_ns": pl.Int64, "file_hash": pl.String}
BATCHES_TABLE = "_batches"
WITHDRAWN_TABLE = "_withdrawn"  # batches a data officer took back: batch_id, reason, withdrawn_at
QUARANTINE_TABLE = "rows"

log = logging.getLogger(__name__)


@dataclass
class BronzeReport:
    system: str
    ingested: list[dict] = field(default_factory=list)  # file, batch_id, rows
    duplicates: list[dict] = field(default_factory=list)  # file, same_as
    rejected: list[dict] = field(default_factory=list)  # file, message
    unmapped: dict[str, list[str]] = field(default_factory=dict)  # file → columns
    drift: list[str] = field(default_factory=list)  # column drift messages (pipelines.drift), one per column
    skipped: int = 0  # already ingested earlier, unchanged

    @property
    def rows(self) -> int:
        return sum(item["rows"] for item in self.ingested)


@dataclass
class SilverReport:
    system: str
    batches: list[dict] = field(default_factory=list)  # batch_id, bronze/silver/quarantined rows
    quarantine_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def silver_rows(self) -> int:
        return sum(b["silver_rows"] for b in self.batches)

    @property
    def quarantined_rows(self) -> int:
        return sum(b["quarantined_rows"] for b in self.batches)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_hashes(wh: Warehouse, system: str, paths: list[Path]) -> dict[Path, str]:
    """Each file's SHA-256, read again only when its path, size or modification time differs from
    the last run's (:data:`FILE_HASHES_TABLE`, kept for the files in landing now)."""
    cached = wh.read("bronze", system, FILE_HASHES_TABLE)
    known = {(r["file_path"], r["size"], r["mtime_ns"]): r["file_hash"] for r in cached.iter_rows(named=True)} if cached.height else {}
    rows = []
    for path in paths:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        rows.append((*key, known.get(key) or file_sha256(path)))
    if {r[:3] for r in rows} != set(known):
        wh.write(pl.DataFrame(rows, schema=FILE_HASHES_SCHEMA, orient="row"), "bronze", system, FILE_HASHES_TABLE,
                 mode="overwrite", schema_mode="overwrite")
    return {path: row[3] for path, row in zip(paths, rows)}


# names uploads carry while they are still being written (taken only once renamed)
IN_FLIGHT = re.compile(r"^(\.|~\$)|\.(tmp|part|partial|crdownload|filepart|uploading)$", re.IGNORECASE)


def landing_files(spec: SourceSpec, landing_root: Path) -> list[Path]:
    """The system's delivered files that are complete: not under a temporary upload name
    (``.x.csv``, ``x.csv.part``, ``x.tmp`` …) and, for a system with ``done_marker``, with their
    ``<file>.done`` beside them. (The landing sensors also wait until a file's size and
    modification time hold still across two ticks.)"""
    folder = Path(landing_root) / spec.system
    if not folder.is_dir():
        return []
    files = [p for p in folder.glob(spec.file_glob) if p.is_file() and not IN_FLIGHT.search(p.name)]
    if spec.done_marker:
        files = [p for p in files if p.with_name(p.name + ".done").exists()]
    return sorted(files)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def replace_batches(wh: Warehouse, df: pl.DataFrame, layer: str, system: str, table: str, batch_col: str, batch_ids: list[str]) -> None:
    """Write the rows of ``batch_ids`` so that a redo never duplicates them, in one commit.

    New batches are appended (schema may grow); a batch already in the table (a run that died
    after this write, now redone) is replaced by a predicate overwrite. The commit records an
    app transaction for these batches: a write whose commit landed though its writer never
    heard back (an ambiguous commit) is found there and not applied again."""
    app_id = "enteronce.batches." + hashlib.blake2b(",".join(sorted(batch_ids)).encode(), digest_size=12).hexdigest()
    if not wh.exists(layer, system, table):
        wh.write(df, layer, system, table, mode="append", app_id=app_id, app_version=1)  # an empty batch still creates the table
        return
    if wh.app_version(layer, system, table, app_id) is not None:
        return  # this very write already landed
    scan = wh.scan(layer, system, table)
    assert scan is not None
    present = scan.select(batch_col).filter(pl.col(batch_col).is_in(batch_ids)).head(1).collect().height > 0
    if not present:
        if df.height:
            wh.write(df, layer, system, table, mode="append", app_id=app_id, app_version=1)
        return
    existing = pl.Schema(wh.table(layer, system, table).schema().to_arrow())  # type: ignore[arg-type]
    wh.write(df.select([c for c in existing if c in df.columns]).cast({c: t for c, t in existing.items() if c in df.columns}, strict=False),
             layer, system, table, mode="overwrite", predicate=sql_in(batch_col, batch_ids), app_id=app_id, app_version=1)


def pa_schema_names(dt) -> list[str]:
    return [f.name for f in dt.schema().fields]


def ingest_bronze(
    spec: SourceSpec,
    landing_root: Path,
    wh: Warehouse,
    progress: Callable[[str], None] | None = None,
) -> BronzeReport:
    """Ingest every new landing file of ``spec``'s system into ``bronze/<system>/<table>``.

    One writer per system at a time (:meth:`Warehouse.writer_lock`): a second run waits, then
    finds the files taken."""
    with wh.writer_lock(f"ingest_{spec.system}"):
        return _ingest_bronze(spec, landing_root, wh, progress)


def _ingest_bronze(spec: SourceSpec, landing_root: Path, wh: Warehouse, progress: Callable[[str], None] | None) -> BronzeReport:
    report = BronzeReport(spec.system)
    seen = wh.read("bronze", spec.system, FILES_TABLE)
    handled: set[tuple[str, str]] = set()  # (hash, path) pairs already decided in earlier runs
    first_seen: dict[str, dict] = {}  # hash → the delivery that was ingested or rejected
    if seen.height:
        handled = set(zip(seen["file_hash"].to_list(), seen["file_path"].to_list()))
        for row in seen.filter(pl.col("status") != "duplicate").iter_rows(named=True):
            first_seen.setdefault(row["file_hash"], row)
    log_rows: list[dict] = []
    paths = landing_files(spec, landing_root)
    digests = file_hashes(wh, spec.system, paths)
    for path in paths:
        digest = digests[path]
        batch_id = f"{spec.system}-{digest[:16]}"
        entry = {"file_path": str(path), "file_name": path.name, "file_hash": digest, "batch_id": batch_id}
        if (digest, str(path)) in handled:
            report.skipped += 1
            continue
        previous = first_seen.get(digest)
        if previous is not None:
            message = f"same bytes as {previous['file_name']} (batch {previous['batch_id']}); not ingested again"
            report.duplicates.append({"file": str(path), "same_as": previous["file_name"]})
            log_rows.append({**entry, "status": "duplicate", "rows": 0, "received": None, "message": message, "unmapped_columns": "", "drift": ""})
            continue
        if progress:
            progress(f"{spec.system}: reading {path.name}")
        try:
            raw = read_source_file(path, spec.format)
            _check_required_columns(path, raw.columns, spec)
            received = count_received(path, spec.format)
            _check_accounted(path, received, raw)
            _check_types(wh, spec, path, raw)
        except Exception as err:  # noqa: BLE001 — any file that cannot be read is isolated, never a crash of the batch
            problem = err.problem if isinstance(err, SourceFileError) else f"cannot be read ({type(err).__name__}: {scrub(str(err).splitlines()[0] if str(err) else '', strict=True)})"
            log.error("rejected %s: %s", path.name, problem)
            moved = reject_file(wh, spec, path, landing_root, digest, problem, getattr(err, "line", None))
            report.rejected.append({"file": str(path), "message": f"{path}: {problem}", "moved_to": str(moved)})
            log_rows.append({**entry, "status": "rejected", "rows": 0, "received": None, "message": problem, "unmapped_columns": "", "drift": ""})
            first_seen[digest] = entry
            continue
        extra = unmapped_columns(raw.columns, spec)
        if extra:
            report.unmapped[str(path)] = extra
        drift = column_drift(raw, spec, path.name, extra)
        for message in drift:
            log.warning("column drift: %s", message)
        report.drift += drift
        bronze = raw.with_columns(
            pl.lit(spec.system).alias("_system"),
            pl.lit(batch_id).alias("_batch_id"),
            pl.lit(str(path)).alias("_source_file"),
            pl.lit(digest).alias("_file_hash"),
            pl.lit(_now()).dt.cast_time_unit("us").alias("_ingested_at"),
        )
        replace_batches(wh, bronze, "bronze", spec.system, spec.table, "_batch_id", [batch_id])
        report.ingested.append({"file": str(path), "batch_id": batch_id, "rows": bronze.height})
        message = f"unknown columns kept in bronze only: {', '.join(extra)}" if extra else ""
        log_rows.append({**entry, "status": "ingested", "rows": bronze.height, "received": received, "message": message, "unmapped_columns": ",".join(extra), "drift": "\n".join(drift)})
        first_seen[digest] = entry
    if log_rows:
        frame = pl.DataFrame(log_rows, schema_overrides={"received": pl.Int64}).with_columns(
            pl.col("rows").cast(pl.Int64), pl.lit(_now()).dt.cast_time_unit("us").alias("logged_at")
        )
        wh.write(frame, "bronze", spec.system, FILES_TABLE, mode="append")
    return report


def _check_types(wh: Warehouse, spec: SourceSpec, path: Path, raw: pl.DataFrame) -> None:
    """A typed format (Parquet) whose column changed type since earlier deliveries cannot be
    appended to bronze: say which column, rather than fail inside the table write."""
    if not wh.exists("bronze", spec.system, spec.table):
        return
    existing = pl.Schema(wh.table("bronze", spec.system, spec.table).schema().to_arrow())  # type: ignore[arg-type]
    clashes = [f"{c} is {raw.schema[c]} here but {existing[c]} in earlier deliveries" for c in raw.columns
               if c in existing and raw.schema[c] != existing[c] and raw.schema[c] != pl.Null]
    if clashes:
        raise SourceFileError(path, "column type changed: " + "; ".join(clashes))


def _check_accounted(path: Path, received: int, raw: pl.DataFrame) -> None:
    """Every record the file holds (counted from the file) is a bronze row, loaded or marked for
    quarantine; anything else rejects the file whole rather than lose rows silently."""
    accounted = int(raw[LINES].fill_null(1).sum()) if LINES in raw.columns else raw.height
    if accounted != received:
        raise SourceFileError(path, f"the file holds {received} records but {accounted} could be read: rejected whole rather than lose {abs(received - accounted)}")


REJECTED = ("quarantine", "files", "rejected")  # one row per rejected delivery: system, file, hash, line, reason
REJECTED_FOLDER = "_rejected"  # landing/_rejected/<system>/: rejected files, out of the sensors' way


def reject_file(wh: Warehouse, spec: SourceSpec, path: Path, landing_root: Path, digest: str, reason: str, line: int | None = None) -> Path:
    """Move a file that cannot be read to ``landing/_rejected/<system>/`` and record why; the
    same bytes delivered again are recognised by their hash, a fixed file is taken."""
    target = Path(landing_root) / REJECTED_FOLDER / spec.system / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if wh.private:  # rejected files hold raw personal data like the lake: owner-only as well
        (Path(landing_root) / REJECTED_FOLDER).chmod(0o700)
    if target.exists():
        target = target.with_name(f"{path.stem}.{digest[:8]}{path.suffix}")
    path.replace(target)
    row = {"system": spec.system, "file_name": path.name, "delivered_as": str(path), "moved_to": str(target), "file_hash": digest,
           "line": line, "reason": reason, "rejected_at": _now()}
    wh.write(pl.DataFrame([row], schema_overrides={"line": pl.Int64, "rejected_at": pl.Datetime("us", "UTC")}), *REJECTED, mode="append")
    return target


def _check_required_columns(path: Path, columns: list[str], spec: SourceSpec) -> None:
    missing = [
        "/".join(spec.sources_of(f))
        for f in spec.required
        if not any(src in columns for src in spec.sources_of(f))
    ]
    if missing:
        # only catalogued names are repeated back: a file without its header line would put a
        # row of personal data here
        delivered = [c for c in columns if not c.startswith("_")]
        known = [c for c in delivered if c in spec.columns or c in spec.ignored]
        found = f"found {len(delivered)} column(s){': ' + ', '.join(known) if known else ''}"
        unknown = len(delivered) - len(known)
        hint = f"; {unknown} not in the mapping{' — is the header line missing?' if not known else ''}" if unknown else ""
        raise SourceFileError(path, f"missing required column(s) {', '.join(missing)} ({found}{hint})")


GROUP_ROWS = 2_000_000  # batches standardised together: each distinct value is normalised once per group (4 M rows of readings needed 3.4 GiB, 2 M 1.6 GiB)


def build_silver(
    spec: SourceSpec, wh: Warehouse, progress: Callable[[str], None] | None = None,
    on_batch: Callable[[str, pl.DataFrame], None] | None = None,
) -> SilverReport:
    """Standardise every bronze batch of ``spec``'s system that silver has not processed yet.

    Pending batches are taken in groups of up to :data:`GROUP_ROWS` rows (30 days of meter
    readings repeat the same 400 k addresses), each group written in one commit per table.
    ``on_batch(batch_id, silver_rows)`` is called for each batch once its group is written (the
    step audits it there, from memory). Same writer lock as bronze: one run standardises a system
    at a time."""
    with wh.writer_lock(f"ingest_{spec.system}"):
        return _build_silver(spec, wh, progress, on_batch)


def _build_silver(spec: SourceSpec, wh: Warehouse, progress: Callable[[str], None] | None,
                  on_batch: Callable[[str, pl.DataFrame], None] | None) -> SilverReport:
    report = SilverReport(spec.system)
    bronze_scan = wh.scan("bronze", spec.system, spec.table)
    if bronze_scan is None:
        return report
    done = wh.read("silver", spec.system, BATCHES_TABLE)
    processed = set(done["batch_id"].to_list()) if done.height else set()
    sizes = bronze_scan.group_by("_batch_id").agg(pl.len().alias("rows"), pl.first("_source_file")).collect().sort("_batch_id")
    pending = sizes.filter(~pl.col("_batch_id").is_in(list(processed)))
    reasons: dict[str, int] = {}
    for group in _groups(pending):
        ids = group["_batch_id"].to_list()
        if progress:
            progress(f"{spec.system}: standardising {len(ids)} batch(es), {int(group['rows'].sum()):,} rows")
        bronze = bronze_scan.filter(pl.col("_batch_id").is_in(ids)).collect()
        bronze = bronze.drop([c for c in bronze.columns if bronze[c].dtype == pl.Null])
        silver, quarantine = standardize(bronze, spec)
        now = pl.lit(_now()).dt.cast_time_unit("us")
        silver = silver.with_columns(now.alias("standardized_at"))
        replace_batches(wh, silver, "silver", spec.system, spec.table, "batch_id", ids)
        replace_batches(wh, quarantine.with_columns(now.alias("quarantined_at")), "quarantine", spec.system, QUARANTINE_TABLE, "batch_id", ids)
        counted = group.select(pl.col("_batch_id").alias("batch_id"), pl.col("_source_file").alias("source_file"), pl.col("rows").cast(pl.Int64).alias("bronze_rows"))
        for name, frame in (("silver_rows", silver), ("quarantined_rows", quarantine)):
            per_batch = frame.group_by("batch_id").len(name).with_columns(pl.col(name).cast(pl.Int64))
            counted = counted.join(per_batch, on="batch_id", how="left").with_columns(pl.col(name).fill_null(0))
        wh.write(counted.with_columns(now.alias("processed_at")), "silver", spec.system, BATCHES_TABLE)
        report.batches += counted.to_dicts()
        if on_batch is not None:
            by_batch = silver.partition_by("batch_id", as_dict=True, include_key=True)
            for batch_id in ids:  # a batch wholly quarantined has no rows here, and is audited all the same
                on_batch(batch_id, by_batch.get((batch_id,), silver.clear()))
        for reason, count in summarize_reasons(quarantine).iter_rows():
            reasons[reason] = reasons.get(reason, 0) + count
    report.quarantine_reasons = reasons
    return report


def processed_batches(wh: Warehouse, system: str) -> pl.DataFrame:
    """The system's standardised batches still in force (``_batches`` less withdrawn ones)."""
    batches = wh.read("silver", system, BATCHES_TABLE)
    if batches.width == 0:  # nothing standardised yet (a new or on-demand system): no batches, same columns to select
        return pl.DataFrame(schema={"batch_id": pl.String, "processed_at": pl.Datetime("us", "UTC")})
    withdrawn = wh.read("silver", system, WITHDRAWN_TABLE, columns=["batch_id"])
    if batches.height and withdrawn.height:
        batches = batches.join(withdrawn, on="batch_id", how="anti")
    return batches


def _groups(pending: pl.DataFrame) -> list[pl.DataFrame]:
    """Consecutive runs of batches adding up to at most GROUP_ROWS rows (a bigger batch alone)."""
    groups, start, total = [], 0, 0
    for i, rows in enumerate(pending["rows"].to_list()):
        if total and total + rows > GROUP_ROWS:
            groups.append(pending.slice(start, i - start))
            start, total = i, 0
        total += rows
    if pending.height:
        groups.append(pending.slice(start, pending.height - start))
    return groups


def summarize_reasons(quarantine: pl.DataFrame) -> pl.DataFrame:
    """Quarantined rows grouped by reason, with the quoted raw value left out."""
    if quarantine.height == 0:
        return pl.DataFrame({"reason": [], "rows": []}, schema={"reason": pl.String, "rows": pl.UInt32})
    first = pl.col("reason").str.split("; ").list.first().str.replace(r": '.*'$", "")
    return quarantine.group_by(first.alias("reason")).len("rows").sort("rows", descending=True)


__all__ = [
    "processed_batches",
    "BronzeReport",
    "SilverReport",
    "build_silver",
    "ingest_bronze",
    "landing_files",
    "summarize_reasons",
]
