"""Run expectation suites with Great Expectations 1.x and keep every result.

A file-backed GX context under ``gx_root`` holds the suites, validation definitions and
checkpoints, and builds the Data Docs site after each run. Results are flattened to one row per
expectation and appended to the ``quality/results/expectations`` Delta table so trends can be
queried.
"""

from __future__ import annotations

import functools
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from quality.suites import Suite
from warehouse.storage import Warehouse

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no network here: never wait on analytics

RESULTS = ("quality", "results", "expectations")
RESULT_SCHEMA = {
    "run_id": pl.String, "suite": pl.String, "expectation": pl.String, "column": pl.String, "rule": pl.String,
    "success": pl.Boolean, "observed_value": pl.String, "element_count": pl.Int64, "unexpected_count": pl.Int64,
    "unexpected_percent": pl.Float64, "examples": pl.String, "validated_at": pl.Datetime("us", "UTC"),
}


@functools.cache
def context(gx_root: str):
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    Path(gx_root).mkdir(parents=True, exist_ok=True)
    ctx = gx.get_context(mode="file", project_root_dir=gx_root)
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    ctx.variables.save()
    return ctx


def _checkpoint(ctx, suite: Suite):
    import great_expectations as gx

    source = ctx.data_sources.add_or_update_pandas("enteronce")
    names = {a.name for a in source.assets}
    asset = source.get_asset(suite.name) if suite.name in names else source.add_dataframe_asset(name=suite.name)
    batch_names = {b.name for b in asset.batch_definitions}
    batch = asset.get_batch_definition("whole") if "whole" in batch_names else asset.add_batch_definition_whole_dataframe("whole")
    expectation_suite = gx.ExpectationSuite(name=suite.name, expectations=suite.expectations)
    expectation_suite = ctx.suites.add_or_update(expectation_suite)
    definition = ctx.validation_definitions.add_or_update(gx.ValidationDefinition(name=suite.name, data=batch, suite=expectation_suite))
    return ctx.checkpoints.add_or_update(
        gx.Checkpoint(
            name=suite.name,
            validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")],
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5},
        )
    )


def run_suite(suite: Suite, gx_root: str, run_id: str) -> pl.DataFrame:
    """Validate ``suite.frame``; one result row per expectation (see :data:`RESULT_SCHEMA`)."""
    ctx = context(gx_root)
    checkpoint = _checkpoint(ctx, suite)
    outcome = checkpoint.run(batch_parameters={"dataframe": suite.frame.to_pandas()})
    now = datetime.now(timezone.utc)
    rows = []
    for validation in outcome.run_results.values():
        for res in validation.results:
            config = res.expectation_config
            result = res.result or {}
            observed = result.get("observed_value")
            rows.append(
                {
                    "run_id": run_id,
                    "suite": suite.name,
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


def data_docs_index(gx_root: str) -> str:
    return str(Path(gx_root).absolute() / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html")
