"""Curated (gold) tables behind the quality gates, the results table and the per-run report."""

from pathlib import Path

import dagster as dg
import polars as pl

from address_master.store import BASE_ADDRESSES, LAYER
from assets.address import ADDRESSES_KEY, BUILDINGS_KEY, LINKS_KEY
from assets.persons import BUSINESSES, GOLDEN_PERSONS, HOUSEHOLDS, INSPECTIONS
from assets.resources import WarehouseResource
from assets.sources import silver_key
from pipelines.gold import BUILDERS
from pipelines.sources import all_specs
from quality.gate import Outcome, audit_sources, publish
from quality.gx_run import data_docs_index, keep_results
from quality.report import write_report
from warehouse.registry import GOLD

UPSTREAM = [ADDRESSES_KEY, BUILDINGS_KEY, LINKS_KEY, GOLDEN_PERSONS, HOUSEHOLDS, BUSINESSES, INSPECTIONS]


def gold_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["gold", "curated", name])


class QualityConfig(dg.Config):
    gx_root: str = "data/gx"  # Great Expectations project (suites, results, Data Docs)
    reports: str = "data/reports"  # where the per-run HTML quality reports go


@dg.multi_asset(
    name="curated",
    specs=[
        dg.AssetSpec(
            gold_key(t.name),
            deps=[*UPSTREAM, *[silver_key(all_specs()[s]) for s in t.sources]],
            group_name="gold",
            kinds={"delta", "polars"},
            description=f"{t.label}: {t.description}. Keys: {', '.join(t.keys)}.",
            skippable=True,
            metadata={"keys": ", ".join(t.keys)},
        )
        for t in GOLD
    ],
    check_specs=[
        dg.AssetCheckSpec("quality_gate", asset=gold_key(t.name), blocking=True, description="Great Expectations suite of the table and of its sources' latest batches")
        for t in GOLD
    ],
)
def curated(context: dg.AssetExecutionContext, config: QualityConfig, warehouse: WarehouseResource):
    """Write each curated table to staging, validate it, publish it only if every gate passes."""
    wh = warehouse.get()
    run_id = context.run_id
    systems = sorted({s for t in GOLD for s in t.sources})
    source_failures, results = audit_sources(wh, config.gx_root, run_id, systems)
    all_results = [results]
    address_ids = wh.read(LAYER, *BASE_ADDRESSES, columns=["address_id"])["address_id"]
    person_ids = wh.read("person", "golden", "persons", columns=["person_id"])["person_id"]
    outcomes = []
    for spec in GOLD:
        try:
            frame = BUILDERS[spec.name](wh)
        except (pl.exceptions.PolarsError, KeyError) as err:  # an input table is missing or empty
            blocked = [f"source {s} failed: {w}" for s in spec.sources for w in source_failures.get(s, [])]
            reason = f"cannot build from its inputs: {str(err).splitlines()[0]}"
            current = wh.table("gold", "curated", spec.name).version() if wh.exists("gold", "curated", spec.name) else None
            outcomes.append(Outcome(spec.name, 0, False, False, current, [*blocked, reason]))
            continue
        outcome, res = publish(wh, spec, frame, config.gx_root, run_id, source_failures, address_ids, person_ids)
        all_results.append(res)
        outcomes.append(outcome)
        if not outcome.passed:
            context.log.error(f"gold/curated/{spec.name} not published: " + "; ".join(outcome.reasons[:5]))
    results = pl.concat([r for r in all_results if r.height]) if any(r.height for r in all_results) else pl.DataFrame()
    keep_results(wh, results)
    report = write_report(wh, run_id, Path(config.reports), outcomes, results, data_docs_index(config.gx_root))
    context.log.info(f"quality report: {report}")
    links = {"quality_report": dg.MetadataValue.path(str(report)), "data_docs": dg.MetadataValue.path(data_docs_index(config.gx_root))}
    for outcome in outcomes:
        if outcome.published:
            yield dg.MaterializeResult(
                asset_key=gold_key(outcome.table),
                metadata={"rows": outcome.rows, "delta_version": outcome.version, "table_uri": dg.MetadataValue.path(wh.uri("gold", "curated", outcome.table)), **links},
            )
        yield dg.AssetCheckResult(
            check_name="quality_gate",
            asset_key=gold_key(outcome.table),
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description="all expectations met" if outcome.passed else f"kept at version {outcome.version}: " + "; ".join(outcome.reasons[:3]),
            metadata={"failed_rules": len(outcome.reasons), "published_version": outcome.version if outcome.version is not None else -1, **links},
        )


QUALITY_ASSETS = [curated]
