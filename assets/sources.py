"""Bronze and silver assets, checks and sensors for every source spec (thin: they call pipelines/)."""


import json

import dagster as dg
import polars as pl

from assets.automation import EAGER
from assets.executor import BULK_FIRST, LARGE, MASTER_INPUT
from assets.resources import LandingResource, WarehouseResource
from pipelines.pii import scrubbed_errors
from pipelines.ingest import QUARANTINE_TABLE, build_silver, ingest_bronze, landing_files
from pipelines.sources.spec import SourceSpec
from quality.conservation import row_conservation, table_totals
from quality.freshness import system_freshness
from quality.gate import audit_batch, describe


def bronze_key(spec: SourceSpec) -> dg.AssetKey:
    return dg.AssetKey(["bronze", spec.system, spec.table])


def silver_key(spec: SourceSpec) -> dg.AssetKey:
    return dg.AssetKey(["silver", spec.system, spec.table])


def quarantine_key(spec: SourceSpec) -> dg.AssetKey:
    return dg.AssetKey(["quarantine", spec.system, QUARANTINE_TABLE])


def markdown_table(df: pl.DataFrame, limit: int = 20) -> dg.MetadataValue:
    if df.height == 0:
        return dg.MetadataValue.md("_none_")
    head = "| " + " | ".join(df.columns) + " |\n|" + "---|" * df.width + "\n"
    rows = "".join("| " + " | ".join(str(v) for v in r) + " |\n" for r in df.head(limit).iter_rows())
    return dg.MetadataValue.md(head + rows)


def ingest_pool(spec: SourceSpec) -> str:
    """One writer per system across runs (concurrency pools, limit 1 in dagster.yaml); the
    warehouse's writer lock of the same name covers runs outside the instance."""
    return f"ingest_{spec.system}"


def bronze_asset(spec: SourceSpec) -> dg.AssetsDefinition:
    key = bronze_key(spec)

    @dg.asset(
        key=key,
        group_name="bronze",
        kinds={"delta", "polars", spec.format.kind},
        description=f"{spec.label}: landing files as received plus lineage. {spec.description}",
        check_specs=[
            dg.AssetCheckSpec("files_readable", asset=key, description="every delivered file in this run could be read (unreadable ones are moved to landing/_rejected)"),
            dg.AssetCheckSpec("columns_as_catalogued", asset=key, description="列名变化: every catalogued column delivered, no unmapped column carrying data (WARN)"),
        ],
        metadata={"system": spec.system, "label": spec.label, "file_glob": spec.file_glob},
        pool=ingest_pool(spec),
        op_tags=BULK_FIRST if spec.bulk else MASTER_INPUT,
    )
    @scrubbed_errors
    def _bronze(context: dg.AssetExecutionContext, warehouse: WarehouseResource, landing: LandingResource):
        wh = warehouse.get()
        report = ingest_bronze(spec, landing.path(), wh, progress=context.log.info)
        for item in report.rejected:
            context.log.error(f"rejected {item['message']}")
        for item in report.duplicates:
            context.log.warning(f"duplicate delivery {item['file']} (same bytes as {item['same_as']}) skipped")
        for path, cols in report.unmapped.items():
            context.log.warning(f"{path}: unknown columns kept in bronze only: {', '.join(cols)}")
        yield dg.MaterializeResult(
            metadata={
                "rows_ingested": report.rows,
                "files_ingested": len(report.ingested),
                "files_already_ingested": report.skipped,
                "duplicate_deliveries": len(report.duplicates),
                "files_rejected": len(report.rejected),
                "table_uri": dg.MetadataValue.path(wh.uri("bronze", spec.system, spec.table)),
            }
        )
        yield dg.AssetCheckResult(
            check_name="files_readable",
            passed=not report.rejected,
            severity=dg.AssetCheckSeverity.WARN,
            description="; ".join(i["message"] for i in report.rejected) or "all files read",
            metadata={"rejected": markdown_table(pl.DataFrame(report.rejected, schema={"file": pl.String, "message": pl.String}))},
        )
        yield dg.AssetCheckResult(
            check_name="columns_as_catalogued",
            passed=not report.drift,
            severity=dg.AssetCheckSeverity.WARN,
            description="; ".join(report.drift) or "columns as catalogued",
            metadata={"drift": markdown_table(pl.DataFrame({"drift": report.drift}, schema={"drift": pl.String}))},
        )

    return _bronze


def silver_asset(spec: SourceSpec) -> dg.AssetsDefinition:
    key = silver_key(spec)

    @dg.multi_asset(
        name=f"standardize_{spec.system}",
        pool=ingest_pool(spec),
        op_tags={**LARGE, **BULK_FIRST} if spec.bulk else MASTER_INPUT,
        specs=[
            dg.AssetSpec(
                silver_key(spec),
                deps=[bronze_key(spec)],
                group_name="silver",
                kinds={"delta", "polars"},
                description=f"{spec.label}: canonical fields, typed and normalised, with lineage.",
                automation_condition=EAGER,
            ),
            dg.AssetSpec(
                quarantine_key(spec),
                deps=[bronze_key(spec)],
                group_name="quarantine",
                kinds={"delta", "polars"},
                description=f"{spec.label}: rows that could not be standardised, with the reason and raw values.",
                automation_condition=EAGER,
            ),
        ],
        check_specs=[
            dg.AssetCheckSpec("batch_quality", asset=key, description="each new batch against the system's expectation suite (audited once; the gold gates read the result)"),
            dg.AssetCheckSpec("freshness", asset=key, description="数据鲜活度: delivered on demand, never late" if spec.on_demand else f"数据鲜活度: a delivery at least every {spec.cadence_days} day(s) (WARN only)"),
            dg.AssetCheckSpec("row_conservation", asset=key, blocking=True, description="行数守恒: for each batch standardised in this run, records in the file (counted at intake) = lines of its bronze rows and bronze rows = silver rows + quarantined rows, read back from the tables; for the whole tables, the same sum from the Delta log"),
        ],
    )
    @scrubbed_errors
    def _silver(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        wh = warehouse.get()
        failed: list[str] = []

        def audit(batch_id: str, rows: pl.DataFrame) -> None:  # each new batch, from the rows just written
            results = audit_batch(wh, spec, batch_id, context.run_id, rows=rows)
            failed.extend(f"{batch_id}: {describe(r)}" for r in results.filter(~pl.col("success")).iter_rows(named=True))

        report = build_silver(spec, wh, progress=context.log.info, on_batch=audit)
        fresh = system_freshness(wh, spec)
        # checked here, not in a step of its own: the new batches are known, and the whole tables
        # are counted from the log — no second process, no scan of a 12 M-row table
        counts = row_conservation(spec, wh, [b["batch_id"] for b in report.batches])
        unbalanced = counts.filter(~pl.col("balanced"))
        totals = table_totals(spec, wh)
        reasons = pl.DataFrame(
            {"reason": list(report.quarantine_reasons), "rows": list(report.quarantine_reasons.values())},
            schema={"reason": pl.String, "rows": pl.Int64},
        )
        yield dg.MaterializeResult(
            asset_key=silver_key(spec),
            metadata={
                "batches_processed": len(report.batches),
                "rows_standardized": report.silver_rows,
                "table_uri": dg.MetadataValue.path(wh.uri("silver", spec.system, spec.table)),
            },
        )
        yield dg.MaterializeResult(
            asset_key=quarantine_key(spec),
            metadata={
                "rows_quarantined": report.quarantined_rows,
                "reasons": markdown_table(reasons),
                "table_uri": dg.MetadataValue.path(wh.uri("quarantine", spec.system, QUARANTINE_TABLE)),
            },
        )
        yield dg.AssetCheckResult(
            check_name="batch_quality", asset_key=key, passed=not failed, severity=dg.AssetCheckSeverity.ERROR,
            description="; ".join(failed[:5]) or f"{len(report.batches)} new batch(es) met every rule",
            metadata={"batches_audited": len(report.batches), "failed_rules": len(failed)},
        )
        yield dg.AssetCheckResult(
            check_name="freshness", asset_key=key, passed=bool(fresh["fresh"]), severity=dg.AssetCheckSeverity.WARN,
            description=("delivered on demand (no cadence)" if spec.on_demand else f"latest delivery {fresh['age_days']} day(s) old; expected every {spec.cadence_days}") if fresh["age_days"] is not None or spec.on_demand else "nothing delivered yet",
            metadata={"age_days": fresh["age_days"] if fresh["age_days"] is not None else -1.0, "cadence_days": spec.cadence_days},
        )
        yield dg.AssetCheckResult(
            check_name="row_conservation", asset_key=key, passed=unbalanced.height == 0 and bool(totals["balanced"]),
            severity=dg.AssetCheckSeverity.ERROR,
            description="; ".join(
                ([f"{unbalanced.height} of {counts.height} new batches do not add up"] if unbalanced.height else [])
                + ([f"whole tables: {totals['bronze_rows']:,} bronze rows ≠ {totals['silver_rows']:,} silver + {totals['quarantined_rows']:,} quarantined"] if not totals["balanced"] else [])
            ) or f"{counts.height} new batch(es) balanced; whole tables {totals['bronze_rows']:,} = {totals['silver_rows']:,} + {totals['quarantined_rows']:,}",
            metadata={
                "new_batches": counts.height,
                "received_records": int(counts["received"].fill_null(0).sum()),
                **{f"table_{name}": int(value) for name, value in totals.items() if name != "balanced"},
                "unbalanced": markdown_table(unbalanced),
            },
        )

    return _silver


def folder_sensor(name: str, subfolder: str, glob: str, selection: list[dg.AssetKey], description: str, spec: SourceSpec | None = None) -> dg.SensorDefinition:
    """Request a run of ``selection`` when ``landing/<subfolder>`` gains or changes files.

    A file counts once it is complete: its size and modification time held still since the
    previous tick (a copy still running changes them), and for a source system, under its final
    name and with its ``.done`` marker where the system uses one (:func:`landing_files`)."""

    @dg.sensor(name=name, asset_selection=selection, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING, description=description)
    def _sensor(context: dg.SensorEvaluationContext, landing: LandingResource):
        folder = landing.path() / subfolder
        if spec is not None:
            files = landing_files(spec, landing.path())
        else:
            files = sorted(p for p in folder.glob(glob) if p.is_file()) if folder.is_dir() else []
        now = {p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in files}
        previous = json.loads(context.cursor) if context.cursor else {}
        seen, requested = previous.get("seen", {}), previous.get("requested", {})
        ready = {n: sig for n, sig in now.items() if seen.get(n) == sig}  # unchanged since the last tick
        waiting = sorted(set(now) - set(ready))
        changed = sorted(n for n, sig in ready.items() if requested.get(n) != sig)
        context.update_cursor(json.dumps({"seen": now, "requested": {**requested, **ready}}))
        if not changed:
            return dg.SkipReason(f"no new complete files in {subfolder}" + (f"; waiting for {', '.join(waiting)} to hold still" if waiting else ""))
        return dg.RunRequest(run_key=f"{subfolder}:{json.dumps(ready, sort_keys=True)}", asset_selection=selection, tags={"files": ",".join(changed)[:200]})

    return _sensor


def landing_sensor(spec: SourceSpec) -> dg.SensorDefinition:
    """Start a bronze+silver run for the system when its landing folder gains or changes files."""
    return folder_sensor(
        f"landing_{spec.system}", spec.system, spec.file_glob, [bronze_key(spec), silver_key(spec), quarantine_key(spec)],
        f"watches the {spec.label} landing folder ({spec.system}/{spec.file_glob}); a file is taken once complete",
        spec,
    )
