"""Curated (gold) tables: one asset per table of the registry, each behind its own blocking gate.

A table materialises only when its gate passed *and* its rows changed; otherwise the step emits
just the gate's check result, so nothing downstream (sync, apps) wakes up for nothing.
"""


import dagster as dg

from assets.automation import AFTER_GATES
from assets.executor import wait_for_memory_slot
from assets.report import REPORT_LINK
from assets.resources import QualityResource, WarehouseResource
from assets.sources import silver_key
from pipelines.pii import scrubbed_errors
from pipelines.sources import all_specs, feeders
from quality.gate import curate_table
from quality.report import report_path
from warehouse.registry import GOLD, TableSpec


# the tables on the longest path of a day (公安 → links → persons → gold) start first when both
# cores are busy (the multiprocess executor honours dagster/priority); a table built from a bulk
# system is the longest gold step of a full run and starts with persons. It takes the memory slot
# only for a large build (assets.executor.wait_for_memory_slot): a normal day's readings are built
# beside the person master, on the core it leaves idle.
PRIORITY = {"persons": {"dagster/priority": "2"}, "elderly": {"dagster/priority": "1"}, "households": {"dagster/priority": "1"}}
BULK_TABLE = {"dagster/priority": "2"}


def gold_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["gold", "curated", name])


def gold_asset(spec: TableSpec) -> dg.AssetsDefinition:
    key = gold_key(spec.name)
    specs = all_specs()

    @dg.asset(
        key=key,
        deps=[dg.AssetKey(list(p)) for p in spec.input_paths()] + [silver_key(specs[s]) for s in feeders(spec.name)],
        group_name="gold",
        kinds={"delta", "polars"},
        description=f"{spec.label}: {spec.description}. Keys: {', '.join(spec.keys)}.",
        metadata={"keys": ", ".join(spec.keys), "label": spec.label},
        check_specs=[dg.AssetCheckSpec("quality_gate", asset=key, blocking=True, description="rules on the changed rows, whole-table invariants, and the latest batch of every source")],
        automation_condition=AFTER_GATES,
        output_required=False,
        op_tags={**PRIORITY.get(spec.name, {}), **(BULK_TABLE if any(specs[s].bulk for s in feeders(spec.name)) else {})},
    )
    @scrubbed_errors
    def _gold(context: dg.AssetExecutionContext, warehouse: WarehouseResource, quality: QualityResource):
        wh = warehouse.get()
        outcome = curate_table(wh, spec, context.run_id, before_large_build=lambda: wait_for_memory_slot(context))
        changes = outcome.changes.as_dict()
        link = {}
        if outcome.built or not outcome.passed:  # a table not even built adds no facts to the report
            # the run's report, written once the run is over (assets/report.py), not by each step
            link = {REPORT_LINK: dg.MetadataValue.path(str(report_path(quality.folder(), context.run_id)))}
        if outcome.published:
            # no dict repr: the log scrubber masks quoted text with digits in it ('updated': 38, ')
            context.log.info(f"gold/curated/{spec.name} v{outcome.version}: " + ", ".join(f"{kind} {count}" for kind, count in changes.items()))
            yield dg.MaterializeResult(
                metadata={"rows": outcome.rows, **changes, "delta_version": outcome.version, "table_uri": dg.MetadataValue.path(wh.uri("gold", "curated", spec.name)), **link}
            )
        elif outcome.passed:
            context.log.info(f"gold/curated/{spec.name}: no change, stays at version {outcome.version}")
        else:
            context.log.error(f"gold/curated/{spec.name} not published: " + "; ".join(outcome.reasons[:5]))
        yield dg.AssetCheckResult(
            check_name="quality_gate",
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=("all rules met" if outcome.passed else f"kept at version {outcome.version}: " + "; ".join(outcome.reasons[:3])),
            metadata={"failed_rules": len(outcome.reasons), "published_version": outcome.version if outcome.version is not None else -1, **changes, **link},
        )

    return _gold


def gold_assets() -> list[dg.AssetsDefinition]:
    return [gold_asset(spec) for spec in GOLD]
