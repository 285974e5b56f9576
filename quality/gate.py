"""Write–audit–publish for curated tables.

1. **write** the new content to ``staging/curated/<table>``;
2. **audit** it — its own expectation suite, and the suites of the latest batch of every source
   system it is built from;
3. **publish** only when every blocking rule passed: ``gold/curated/<table>`` is overwritten in
   one Delta commit that records the staging version as an app transaction
   (``enteronce.publish``), so a retried publish of the same staging version is a no-op and an
   overwrite can never duplicate rows. When the audit fails, the published table stays at its
   previous version and the outcome says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipelines.ingest import BATCHES_TABLE
from pipelines.sources import all_specs
from quality.gx_run import run_suite
from quality.suites import gold_suite, silver_suite
from warehouse.registry import TableSpec
from warehouse.storage import Warehouse

APP_ID = "enteronce.publish"


@dataclass
class Outcome:
    table: str
    rows: int
    passed: bool
    published: bool
    version: int | None  # the published table's version after this run
    reasons: list[str]


def latest_batch(wh: Warehouse, system: str) -> tuple[pl.DataFrame, int] | None:
    """Silver rows and quarantined-row count of the most recently standardised batch."""
    spec = all_specs()[system]
    batches = wh.read("silver", system, BATCHES_TABLE)
    if batches.height == 0:
        return None
    last = batches.sort("processed_at", "batch_id").row(-1, named=True)
    scan = wh.scan("silver", system, spec.table)
    rows = scan.filter(pl.col("batch_id") == last["batch_id"]).collect() if scan is not None else pl.DataFrame()
    return rows, int(last["quarantined_rows"])


def audit_sources(wh: Warehouse, gx_root: str, run_id: str, systems: list[str]) -> tuple[dict[str, list[str]], pl.DataFrame]:
    """Validate each system's latest silver batch; (failed rules by system, all results)."""
    failures: dict[str, list[str]] = {}
    results = []
    for system in systems:
        found = latest_batch(wh, system)
        if found is None:
            failures[system] = ["no standardised batch yet"]
            continue
        rows, quarantined = found
        res = run_suite(silver_suite(all_specs()[system], rows, quarantined), gx_root, run_id)
        results.append(res)
        failed = res.filter(~pl.col("success"))
        if failed.height:
            failures[system] = [_describe(r) for r in failed.iter_rows(named=True)]
    return failures, pl.concat(results) if results else pl.DataFrame()


def _describe(row: dict) -> str:
    what = row["rule"] or row["expectation"]
    count = f", {row['unexpected_count']} unexpected" if row.get("unexpected_count") else ""
    return f"{row['suite']}: {what} on {row['column'] or 'table'}{count} (e.g. {row['examples']})"


def publish(
    wh: Warehouse,
    spec: TableSpec,
    frame: pl.DataFrame,
    gx_root: str,
    run_id: str,
    source_failures: dict[str, list[str]],
    address_ids: pl.Series | None = None,
    person_ids: pl.Series | None = None,
) -> tuple[Outcome, pl.DataFrame]:
    """Stage, audit and (if clean) publish one curated table; returns the outcome and GX results."""
    staging_version = wh.write(frame, "staging", "curated", spec.name, mode="overwrite")
    results = run_suite(gold_suite(spec, frame, address_ids, person_ids), gx_root, run_id)
    reasons = [_describe(r) for r in results.filter(~pl.col("success")).iter_rows(named=True)]
    for system in spec.sources:
        reasons += [f"source {system} failed: {why}" for why in source_failures.get(system, [])]
    current = wh.table("gold", "curated", spec.name).version() if wh.exists("gold", "curated", spec.name) else None
    if reasons:
        return Outcome(spec.name, frame.height, False, False, current, reasons), results
    already = wh.app_version("gold", "curated", spec.name, APP_ID)
    if already is not None and already >= staging_version:
        return Outcome(spec.name, frame.height, True, False, current, []), results
    version = wh.write(frame, "gold", "curated", spec.name, mode="overwrite", app_id=APP_ID, app_version=staging_version)
    return Outcome(spec.name, frame.height, True, True, version, []), results


__all__ = ["Outcome", "audit_sources", "latest_batch", "publish"]
