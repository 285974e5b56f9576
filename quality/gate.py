"""Write–audit–publish for curated tables, publishing only what changed.

1. **diff** the freshly built table against the published one by key (:mod:`warehouse.publish`);
   nothing changed → nothing is written, the table keeps its version;
2. **audit** — row rules (GX) on the rows that would be inserted or updated, whole-table
   invariants (polars) on the table as it would be, and the stored audit of the latest batch of
   every source system the table is built from;
3. **stage** the change set in ``staging/curated/<table>`` and **publish** it with one MERGE that
   records the staging version as an app transaction (``enteronce.publish``): a retried publish
   of the same staging version finds it already applied and does nothing.

A failed audit leaves the published table at its version; the outcome says why.
"""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

import polars as pl

import pipelines.gold
from pipelines.gold import BUILDERS, BY_BATCH, batch_groups, is_large_build
from pipelines.ingest import BATCHES_TABLE, processed_batches
from pipelines.quarantine import REPLAYED_TABLE, open_rows
from pipelines.sources import all_specs, feeders
from pipelines.sources.spec import SourceSpec
from quality.gx_run import RESULTS, keep_results, run_suite
from quality.suites import RESULT_SCHEMA, gold_row_suite, gold_table_rules, silver_suite
from warehouse.publish import DELETE, OP, UPSERT, ChangeCounts, diff_by_key, merge_changes
from warehouse.registry import TableSpec
from warehouse.storage import Warehouse
from warehouse.tables import ADDRESS_LAYER, ADDRESS_LINKS, BASE_ADDRESSES, GOLDEN_PERSONS, LINK_STATE, MOVED_PREFIX, PERSON_LINKS, PERSON_STATE

APP_ID = "enteronce.publish"
PUBLISHES = ("quality", "results", "publishes")
PUBLISHED_BATCHES = ("quality", "results", "published_batches")  # table, system, batch_id: what a by-batch table includes
_BUILDERS_CODE = hashlib.blake2b(inspect.getsource(pipelines.gold).encode(), digest_size=8).hexdigest()  # new builder code rebuilds


@dataclass
class Outcome:
    table: str
    rows: int
    passed: bool
    published: bool
    version: int | None  # the published table's version after this run
    reasons: list[str]
    changes: ChangeCounts = field(default_factory=lambda: ChangeCounts(0, 0, 0))
    built: bool = True  # False: nothing it depends on changed, so it was not even built


# ------------------------------------------------------------------------------- sources
def audit_batch(wh: Warehouse, spec: SourceSpec, batch_id: str, run_id: str, rows: pl.DataFrame | None = None) -> pl.DataFrame:
    """Validate one standardised batch with its system's suite and keep the results.

    ``rows``: the batch's silver rows as just written, when at hand (reading them back scans the
    whole silver table: batch ids are hashes, so file statistics skip little)."""
    if rows is None:
        scan = wh.scan("silver", spec.system, spec.table)
        rows = scan.filter(pl.col("batch_id") == batch_id).collect() if scan is not None else pl.DataFrame()
    # the rows still open in quarantine: a corrected and replayed row no longer counts against it
    still_open = open_rows(wh, spec.system)
    quarantined = still_open.filter(pl.col("batch_id") == batch_id).height if still_open.height else 0
    results = run_suite(silver_suite(spec, rows, quarantined), run_id, batch_id)
    keep_results(wh, results)
    return results


def latest_batch_id(wh: Warehouse, system: str) -> str | None:
    """The most recently standardised batch of a system (ties broken by batch id)."""
    batches = processed_batches(wh, system)
    if batches.height == 0:
        return None
    return batches.sort("processed_at", "batch_id").row(-1, named=True)["batch_id"]


def _stored_audits(wh: Warehouse, wanted: dict[str, list[str]]) -> dict[tuple[str, str], pl.DataFrame]:
    """Each wanted (system, batch)'s latest stored audit, from one scan of the results table."""
    scan = wh.scan(*RESULTS)
    pairs = [(f"silver.{system}", batch_id) for system, ids in wanted.items() for batch_id in ids]
    if scan is None or not pairs or "batch_id" not in scan.collect_schema().names():
        return {}
    suites, batch_ids = zip(*pairs)
    found = scan.filter(pl.col("suite").is_in(sorted(set(suites))) & pl.col("batch_id").is_in(sorted(set(batch_ids)))).collect()
    # a batch's latest audit counts
    latest = found.filter(pl.col("validated_at") == pl.col("validated_at").max().over("suite", "batch_id"))
    return {(suite.removeprefix("silver."), batch_id): rows for (suite, batch_id), rows in latest.partition_by("suite", "batch_id", as_dict=True).items()}


def _last_passed(wh: Warehouse, table: str | None):
    """When ``table``'s gate last passed (``None``: never, or no table named)."""
    if table is None:
        return None
    decided = wh.read(*PUBLISHES)
    if decided.height == 0:
        return None
    passed = decided.filter((pl.col("table") == table) & pl.col("passed"))
    return passed["decided_at"].max() if passed.height else None


def unpublished_batches(wh: Warehouse, system: str, since: datetime | None) -> list[str]:
    """The system's batches in force standardised after ``since`` (when a table last passed its
    gate, :func:`_last_passed`; ``None``: never, so all of them), and always the latest one:
    every one of them is audited."""
    batches = processed_batches(wh, system)
    if batches.height == 0:
        return []
    pending = batches if since is None else batches.filter(pl.col("processed_at") > since)
    latest = batches.sort("processed_at", "batch_id")["batch_id"][-1]
    return sorted(set(pending["batch_id"].to_list()) | {latest})


def _replayed_since(replayed: pl.DataFrame, batch_id: str, audited_at) -> bool:
    """Rows of the batch were replayed after its stored audit: audit it again."""
    if replayed.height == 0 or audited_at is None:
        return False
    return replayed.filter((pl.col("batch_id") == batch_id) & (pl.col("replayed_at") > audited_at)).height > 0


def source_failures(wh: Warehouse, systems: list[str] | tuple[str, ...], run_id: str, table: str | None = None) -> dict[str, list[str]]:
    """Failed rules of every batch of each system not yet behind ``table``'s last passed gate
    (:func:`unpublished_batches`), each audited now if it never was or was corrected since.
    The publishes log and the stored audits are read once for all systems (persons has eight)."""
    failures: dict[str, list[str]] = {}
    specs = all_specs()
    since = _last_passed(wh, table)
    wanted = {system: unpublished_batches(wh, system, since) for system in systems}
    stored = _stored_audits(wh, wanted)
    for system, batch_ids in wanted.items():
        if not batch_ids:
            if not specs[system].on_demand:  # corrections arrive when there are some; none is no failure
                failures[system] = ["no standardised batch yet"]
            continue
        replayed = wh.read("quarantine", system, REPLAYED_TABLE)
        for batch_id in batch_ids:
            results = stored.get((system, batch_id))
            if results is None or _replayed_since(replayed, batch_id, results["validated_at"].max()):
                results = audit_batch(wh, specs[system], batch_id, run_id)
            failed = results.filter(~pl.col("success"))
            if failed.height:
                failures.setdefault(system, []).extend(f"batch {batch_id}: {describe(r)}" for r in failed.iter_rows(named=True))
    return failures


def describe(row: dict) -> str:
    what = row["rule"] or row["expectation"]
    count = f", {row['unexpected_count']} unexpected" if row.get("unexpected_count") else ""
    return f"{row['suite']}: {what} on {row['column'] or 'table'}{count}"


# ------------------------------------------------------------------------------ publish
def _current(wh: Warehouse, name: str, only: pl.DataFrame | None = None, keys: tuple[str, ...] = ()) -> tuple[pl.LazyFrame | None, int | None]:
    """The published table (or its rows with the keys of ``only``), lazily, and its version."""
    if not wh.exists("gold", "curated", name):
        return None, None
    version = wh.table("gold", "curated", name).version()
    scan = wh.scan("gold", "curated", name)
    assert scan is not None
    if only is None:
        return scan, version
    return _within(scan, only, keys).join(only.lazy().select(list(keys)), on=list(keys), how="semi"), version


def _within(scan: pl.LazyFrame, only: pl.DataFrame, keys: tuple[str, ...] | list[str]) -> pl.LazyFrame:
    """``scan`` narrowed to the range of ``only``'s key values: files and row groups outside it are
    skipped by their statistics (a new day of readings is compared with that day's rows, not with
    every reading published before)."""
    bounds = [pl.col(k).is_between(only[k].min(), only[k].max()) for k in keys
              if only.height and only[k].null_count() == 0 and (only[k].dtype.is_numeric() or only[k].dtype.is_temporal())]
    return scan.filter(*bounds) if bounds else scan


def publish(
    wh: Warehouse,
    spec: TableSpec,
    frame: pl.DataFrame,
    run_id: str,
    failures_by_source: dict[str, list[str]],
    address_ids: pl.Series | None = None,
    person_ids: pl.Series | None = None,
    scoped: bool = False,
) -> tuple[Outcome, pl.DataFrame]:
    """Diff, audit and (if clean and changed) publish one curated table; returns the outcome and results.

    ``scoped``: ``frame`` holds only the rows of new batches; it is compared with the published
    rows of the same keys, nothing is deleted, and the table rules look at these rows."""
    current, version = _current(wh, spec.name, frame if scoped else None, spec.keys)
    changes, counts = diff_by_key(current, frame, spec.keys)
    # no deletes: the upserts are the change set itself (a filter would copy a 12 M-row first load)
    upserts = changes.drop(OP) if counts.deleted == 0 else changes.filter(pl.col(OP) == UPSERT).drop(OP)
    results = [gold_table_rules(spec, frame, run_id, additions_only=scoped)]
    if upserts.height:
        results.append(run_suite(gold_row_suite(spec, upserts, address_ids, person_ids), run_id))
    del upserts
    results_frame = pl.concat(results)
    keep_results(wh, results_frame)
    reasons = [describe(r) for r in results_frame.filter(~pl.col("success")).iter_rows(named=True)]
    for system in feeders(spec.name):
        reasons += [f"source {system} failed: {why}" for why in failures_by_source.get(system, [])]
    if reasons:
        return Outcome(spec.name, frame.height, False, False, version, reasons, counts), results_frame
    if counts.total == 0:
        return Outcome(spec.name, frame.height, True, False, version, [], counts), results_frame
    staging_version = wh.write(changes, "staging", "curated", spec.name, mode="overwrite", schema_mode="overwrite")
    applied = publish_staged(wh, spec, staging_version, changes)
    version = applied if applied is not None else version
    return Outcome(spec.name, frame.height, True, applied is not None, version, [], counts), results_frame


def publish_staged(wh: Warehouse, spec: TableSpec, staging_version: int, staged: pl.DataFrame | None = None) -> int | None:
    """Apply the staged change set of ``staging_version`` to gold exactly once.

    ``staged``: the change set just written as that version (saves reading it back).
    Returns the new gold version, or ``None`` when gold already records this staging version
    (the publish landed before, e.g. a retry after an ambiguous commit)."""
    already = wh.app_version("gold", "curated", spec.name, APP_ID)
    if already is not None and already >= staging_version:
        return None
    changes = staged if staged is not None else pl.read_delta(wh.uri("staging", "curated", spec.name), version=staging_version, storage_options=wh.storage_options or None)
    only_inserts = not wh.exists("gold", "curated", spec.name) or _is_insert_only(wh, spec, changes)
    if only_inserts:  # an append needs no scan of the published table
        return wh.write(changes.drop(OP), "gold", "curated", spec.name, mode="append", app_id=APP_ID, app_version=staging_version)
    return merge_changes(
        wh.uri("gold", "curated", spec.name), changes, spec.keys,
        storage_options=wh.storage_options or None, app_id=APP_ID, app_version=staging_version,
    )


def _is_insert_only(wh: Warehouse, spec: TableSpec, changes: pl.DataFrame) -> bool:
    if (changes[OP] != UPSERT).any():
        return False
    scan = wh.scan("gold", "curated", spec.name)
    assert scan is not None
    keys = list(spec.keys)
    return _within(scan, changes, keys).select(keys).join(changes.lazy().select(keys), on=keys, how="semi").select(pl.len()).collect().item() == 0


def _link_inputs(wh: Warehouse) -> str:
    state = wh.read(ADDRESS_LAYER, *LINK_STATE)
    return "links:" + (",".join(f"{k}={v}" for k, v in state.row(0, named=True).items()) if state.height else "none")


def _new_batches(wh: Warehouse, spec: TableSpec, inputs: str) -> list[str] | None:
    """The source batches a by-batch table does not include yet, or ``None`` when it must be built
    whole (never published, or the address links it used were recomputed since)."""
    system = BY_BATCH.get(spec.name)
    if system is None or not wh.exists("gold", "curated", spec.name):
        return None
    decided = wh.read(*PUBLISHES)
    if decided.height == 0 or "inputs" not in decided.columns:
        return None
    last = decided.filter((pl.col("table") == spec.name) & pl.col("passed")).sort("decided_at").tail(1)
    if last.height == 0 or last["inputs"][0] != inputs:
        return None
    included = wh.read(*PUBLISHED_BATCHES)
    batches = processed_batches(wh, system).select("batch_id").unique()
    if included.height:
        batches = batches.join(included.filter(pl.col("table") == spec.name).select("batch_id"), on="batch_id", how="anti")
    return sorted(batches["batch_id"].to_list())


def _record_batches(wh: Warehouse, spec: TableSpec, batches: list[str] | None) -> None:
    system = BY_BATCH.get(spec.name)
    if system is None:
        return
    if batches is None:  # a whole build includes every batch there is
        batches = processed_batches(wh, system)["batch_id"].unique().sort().to_list()
    included = wh.read(*PUBLISHED_BATCHES)
    if included.height:  # each batch recorded once (a rebuild publishes batches already included)
        batches = sorted(set(batches) - set(included.filter(pl.col("table") == spec.name)["batch_id"].to_list()))
    if batches:
        wh.write(pl.DataFrame({"table": spec.name, "system": system, "batch_id": batches}), *PUBLISHED_BATCHES, mode="append")


def input_fingerprint(wh: Warehouse, spec: TableSpec) -> str:
    """What a table's rows can depend on: its spec and builders' code, its feeders' silver
    batches, and per master input what can change rows already there — the address links' base
    and decisions (new batches' links only add rows of their own batches), the person links'
    last full resolve and the last update that moved known records of the table's systems to
    another person (an update otherwise only adds links for new records), any other table's
    version."""
    parts = [repr(spec), _BUILDERS_CODE]
    for system in sorted(feeders(spec.name)):
        batches = processed_batches(wh, system)
        parts.append(system + ":" + ",".join(sorted(batches["batch_id"].unique().to_list()) if batches.height else []))
    for path in spec.input_paths():
        if path == (ADDRESS_LAYER, *ADDRESS_LINKS):
            parts.append(_link_inputs(wh))
        elif path == PERSON_LINKS:
            state = wh.read(*PERSON_STATE)
            row = state.row(0, named=True) if state.height else {}
            # and when known records of the table's own systems last moved to another person
            moved = [f";{s}={row[MOVED_PREFIX + s]}" for s in sorted(feeders(spec.name)) if row.get(MOVED_PREFIX + s)]
            parts.append("persons:" + str(row.get("epoch", "none")) + "".join(moved))
        else:
            parts.append("/".join(path) + ":" + (str(wh.table(*path).version()) if wh.exists(*path) else "none"))
    return hashlib.blake2b("|".join(parts).encode(), digest_size=16).hexdigest()


def _unchanged_inputs(wh: Warehouse, spec: TableSpec, fingerprint: str) -> bool:
    """The table passed its gate last time and nothing it is built from changed since."""
    decided = wh.read(*PUBLISHES)
    if decided.height == 0 or "fingerprint" not in decided.columns:
        return False
    last = decided.filter(pl.col("table") == spec.name).sort("decided_at").tail(1)
    return last.height == 1 and bool(last["passed"][0]) and last["fingerprint"][0] == fingerprint


def curate_table(wh: Warehouse, spec: TableSpec, run_id: str, before_large_build: Callable[[], object] | None = None) -> Outcome:
    """Build one curated table from its inputs, audit it and publish what changed; keep the outcome.

    Nothing is built when nothing the table depends on changed since it last passed
    (:func:`input_fingerprint`). Tables built straight from one source's rows
    (:data:`pipelines.gold.BY_BATCH`) are built from the batches they do not include yet,
    unless the address links were recomputed since. ``before_large_build`` is called before a
    build that holds a bulk system's rows (:func:`pipelines.gold.is_large_build`), e.g. to wait
    for the run's memory slot."""
    sources = feeders(spec.name)
    failures = source_failures(wh, sources, run_id, spec.name)
    inputs = _link_inputs(wh)
    fingerprint = input_fingerprint(wh, spec)
    batches = [] if _unchanged_inputs(wh, spec, fingerprint) else _new_batches(wh, spec, inputs)
    if batches == [] and not any(failures.get(s) for s in sources):
        _, version = _current(wh, spec.name)
        rows = wh.table("gold", "curated", spec.name).count() if version is not None else 0
        outcome = Outcome(spec.name, rows, True, False, version, [], built=False)
        record_outcome(wh, run_id, outcome, inputs, fingerprint)
        return outcome
    if before_large_build is not None and is_large_build(wh, spec.name, batches):
        before_large_build()  # before reading anything it keeps: a wait may be long
    address_ids = wh.read(ADDRESS_LAYER, *BASE_ADDRESSES, columns=["address_id"]).get_column("address_id", default=None)
    person_ids = wh.read(*GOLDEN_PERSONS, columns=["person_id"]).get_column("person_id", default=None)
    try:
        if batches is None and spec.name in BY_BATCH:
            outcome = _publish_in_groups(wh, spec, run_id, failures, address_ids, person_ids)
        else:
            frame = BUILDERS[spec.name](wh, batches) if batches is not None else BUILDERS[spec.name](wh)
            outcome, _ = publish(wh, spec, frame, run_id, failures, address_ids, person_ids, scoped=batches is not None)
            if outcome.passed:
                _record_batches(wh, spec, batches)
    except (pl.exceptions.PolarsError, KeyError) as err:  # an input table is missing or empty
        blocked = [f"source {s} failed: {w}" for s in sources for w in failures.get(s, [])]
        _, version = _current(wh, spec.name)
        outcome = Outcome(spec.name, 0, False, False, version, [*blocked, f"cannot build from its inputs: {str(err).splitlines()[0]}"])
    record_outcome(wh, run_id, outcome, inputs, fingerprint)
    return outcome


def _publish_in_groups(
    wh: Warehouse, spec: TableSpec, run_id: str, failures: dict[str, list[str]], address_ids: pl.Series | None, person_ids: pl.Series | None,
) -> Outcome:
    """A whole by-batch table (first load, or the address links recomputed), built and published a
    group of batches at a time (:func:`pipelines.gold.batch_groups`): each group is diffed against
    the published rows of its keys and audited like a new delivery, so memory stays near one
    group's rows instead of the whole table's. Keys no group delivers any more (withdrawn batches)
    are deleted at the end (not after a first load: it cannot leave any). A failing group stops there: the groups before it stay published and
    recorded, the next run goes on from it."""
    keys = list(spec.keys)
    counts, version, seen = ChangeCounts(0, 0, 0), None, []
    # a first load has nothing to delete: every row it leaves was delivered by one of its groups
    first_load = not wh.exists("gold", "curated", spec.name)
    groups = batch_groups(wh, spec.name)
    if not groups:  # the gate reports the table as not buildable from its inputs
        raise pl.exceptions.NoDataError(f"silver/{BY_BATCH[spec.name]} has no batches yet")
    for group in groups:
        frame = BUILDERS[spec.name](wh, group)
        outcome, _ = publish(wh, spec, frame, run_id, failures, address_ids, person_ids, scoped=True)
        counts = ChangeCounts(counts.inserted + outcome.changes.inserted, counts.updated + outcome.changes.updated, 0)
        version = outcome.version
        if not outcome.passed:
            return Outcome(spec.name, frame.height, False, counts.total > 0, version, outcome.reasons, counts)
        _record_batches(wh, spec, group)
        if not first_load:
            seen.append(frame.select(keys))
        del frame
    if first_load:
        return Outcome(spec.name, wh.row_count("gold", "curated", spec.name), True, counts.total > 0, version, [], counts)
    delivered = pl.concat(seen).unique() if seen else pl.DataFrame(schema={k: pl.String for k in keys})
    current, _ = _current(wh, spec.name)
    if current is not None:
        gone = current.select(keys).collect(engine="streaming").join(delivered, on=keys, how="anti", nulls_equal=True)
        if gone.height:
            changes = gone.with_columns(pl.lit(DELETE).alias(OP))
            staging_version = wh.write(changes, "staging", "curated", spec.name, mode="overwrite", schema_mode="overwrite")
            version = publish_staged(wh, spec, staging_version, changes) or version
            counts = ChangeCounts(counts.inserted, counts.updated, gone.height)
    return Outcome(spec.name, delivered.height, True, counts.total > 0, version, [], counts)


def record_outcome(wh: Warehouse, run_id: str, outcome: Outcome, inputs: str = "", fingerprint: str = "") -> None:
    """Keep what a gate decided (the report and `quality report` are built from these facts)."""
    row = {"inputs": inputs, "fingerprint": fingerprint,
        "run_id": run_id, "table": outcome.table, "rows": outcome.rows, "passed": outcome.passed,
        "published": outcome.published, "version": outcome.version, "reasons": "\n".join(outcome.reasons),
        **outcome.changes.as_dict(), "built": outcome.built, "decided_at": datetime.now(timezone.utc),
    }
    schema = {"inputs": pl.String, "fingerprint": pl.String, "run_id": pl.String, "table": pl.String, "rows": pl.Int64, "passed": pl.Boolean, "published": pl.Boolean, "version": pl.Int64,
              "reasons": pl.String, "inserted": pl.Int64, "updated": pl.Int64, "deleted": pl.Int64, "built": pl.Boolean, "decided_at": pl.Datetime("us", "UTC")}
    wh.write(pl.DataFrame([row], schema=schema), *PUBLISHES, mode="append")


def outcomes_of(wh: Warehouse, run_id: str) -> list[Outcome]:
    """What the gates decided in one run, from the stored facts."""
    rows = wh.read(*PUBLISHES)
    if rows.height == 0:
        return []
    rows = rows.filter(pl.col("run_id") == run_id).sort("decided_at").unique("table", keep="last").sort("table")
    return [
        Outcome(r["table"], r["rows"], r["passed"], r["published"], r["version"], [x for x in (r["reasons"] or "").split("\n") if x],
                ChangeCounts(r["inserted"], r["updated"], r["deleted"]))
        for r in rows.iter_rows(named=True)
    ]


__all__ = ["APP_ID", "Outcome", "audit_batch", "curate_table", "latest_batch_id", "outcomes_of", "publish", "publish_staged", "record_outcome", "source_failures"]
