"""Run expectation suites with Great Expectations 1.x and keep every result.

Suites are built in code (:mod:`quality.suites`) and run in an in-memory GX context; results are flattened to one row per
expectation and appended to the ``quality/results/expectations`` Delta table so trends can be
queried.
"""

from __future__ import annotations

import functools
import json
import os
from datetime import datetime, timezone

import polars as pl

from quality.suites import RESULT_SCHEMA, Suite
from warehouse.storage import Warehouse

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no network here: never wait on analytics

RESULTS = ("quality", "results", "expectations")


@functools.cache
def context():
    """One in-memory GX context per process: suites are code (quality/suites.py), results go to
    Delta. Nothing is written to a shared GX project, so parallel steps cannot trip over each other."""
    import great_expectations as gx

    return gx.get_context(mode="ephemeral")


def _validation(ctx, suite: Suite):
    import great_expectations as gx

    source = ctx.data_sources.add_or_update_pandas("enteronce")
    names = {a.name for a in source.assets}
    asset = source.get_asset(suite.name) if suite.name in names else source.add_dataframe_asset(name=suite.name)
    batch_names = {b.name for b in asset.batch_definitions}
    batch = asset.get_batch_definition("whole") if "whole" in batch_names else asset.add_batch_definition_whole_dataframe("whole")
    expectation_suite = ctx.suites.add_or_update(gx.ExpectationSuite(name=suite.name, expectations=suite.expectations))
    return ctx.validation_definitions.add_or_update(gx.ValidationDefinition(name=suite.name, data=batch, suite=expectation_suite))


def run_suite(suite: Suite, run_id: str, batch_id: str | None = None) -> pl.DataFrame:
    """Validate ``suite.frame``; one result row per expectation (see :data:`RESULT_SCHEMA`)."""
    validation = _validation(context(), suite)
    outcome = validation.run(
        batch_parameters={"dataframe": suite.frame.to_pandas()},
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5},
    )
    now = datetime.now(timezone.utc)
    rows = []
    for res in outcome.results:
        config = res.expectation_config
        result = res.result or {}
        observed = result.get("observed_value")
        rows.append(
            {
                "run_id": run_id,
                "suite": suite.name,
                "batch_id": batch_id,
                "expectation": config.type,
                "column": config.kwargs.get("column") or ",".join(config.kwargs.get("column_list", []) or []),
                "rule": (config.meta or {}).get("rule", ""),
                "success": bool(res.success),
                "observed_value": None if observed is None else json.dumps(observed, ensure_ascii=False, default=str),
                "element_count": result.get("element_count"),
                "unexpected_count": result.get("unexpected_count"),
                "unexpected_percent": result.get("unexpected_percent"),
                "examples": json.dumps(result.get("partial_unexpected_list", [])[:5], ensure_ascii=False, default=str),
                "validated_at": now,
            }
        )
    return pl.DataFrame(rows, schema=RESULT_SCHEMA)


def keep_results(wh: Warehouse, results: pl.DataFrame) -> None:
    if results.height:
        wh.write(results, *RESULTS, mode="append")
