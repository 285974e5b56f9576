"""Run expectation suites with Great Expectations 1.x and keep every result.

Suites are built in code (:mod:`quality.suites`) and run in an in-memory GX context; results are flattened to one row per
expectation and appended to the ``quality/results/expectations`` Delta table so trends can be
queried.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from datetime import datetime, timezone

import polars as pl

from quality.suites import RESULT_SCHEMA, Suite, offending_rows
from warehouse.storage import Warehouse

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no network here: never wait on analytics

RESULTS = ("quality", "results", "expectations")


@functools.cache
def context():
    """One in-memory GX context per process: suites are code (quality/suites.py), results go to
    Delta. Nothing is written to a shared GX project, so parallel steps cannot trip over each other."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    # GX fingerprints every in-memory frame it validates (a hash of all its rows, kept as a batch
    # marker) when the frame is under this many bytes; nothing here reads the fingerprint, and
    # hashing a 400 k-row batch took 0.2 s of each 0.6 s validation
    pandas_execution_engine.HASH_THRESHOLD = 0
    return ctx


_VALIDATIONS: dict[str, tuple[str, object]] = {}


def _validation(ctx, suite: Suite):
    """The suite's validation definition, registered again only when its rules changed (31 days
    of readings in a full run share one: registering takes 0.14 s)."""
    import great_expectations as gx

    rules = json.dumps([[type(e).__name__, e.json()] for e in suite.expectations])
    known = _VALIDATIONS.get(suite.name)
    if known is not None and known[0] == rules:
        return known[1]
    # the one pandas source is made once: adding it again would drop the assets that the
    # validation definitions kept above refer to
    source = ctx.data_sources.all().get("enteronce") or ctx.data_sources.add_pandas("enteronce")
    names = {a.name for a in source.assets}
    asset = source.get_asset(suite.name) if suite.name in names else source.add_dataframe_asset(name=suite.name)
    batch_names = {b.name for b in asset.batch_definitions}
    batch = asset.get_batch_definition("whole") if "whole" in batch_names else asset.add_batch_definition_whole_dataframe("whole")
    expectation_suite = ctx.suites.add_or_update(gx.ExpectationSuite(name=suite.name, expectations=[copy.copy(e) for e in suite.expectations]))
    validation = ctx.validation_definitions.add_or_update(gx.ValidationDefinition(name=suite.name, data=batch, suite=expectation_suite))
    _VALIDATIONS[suite.name] = (rules, validation)
    return validation


def _compressible(suite: Suite) -> bool:
    """True when every rule holds value by value on one column (no shares, no column pairs)."""
    for expectation in suite.expectations:
        config = expectation.configuration
        if (config.kwargs.get("mostly") or 1.0) < 1.0 or "column_list" in config.kwargs or "column_A" in config.kwargs:
            return False
        if config.type == "expect_column_values_to_be_unique":
            return False
    return True


def _referenced_columns(suite: Suite) -> list[str]:
    """The frame's columns some rule looks at (an absent column stays absent: its rule must fail)."""
    named: set[str] = set()
    for expectation in suite.expectations:
        kwargs = expectation.configuration.kwargs
        named |= {kwargs["column"]} if "column" in kwargs else set()
        named |= set(kwargs.get("column_list") or [])
    return [c for c in suite.frame.columns if c in named]


_PRESENCE = {"expect_column_values_to_not_be_null", "expect_column_to_exist"}


def _presence_only(suite: Suite) -> set[str]:
    """Columns whose every rule asks only whether a value is there (an account number, a name)."""
    rules: dict[str, set[str]] = {}
    for expectation in suite.expectations:
        column = expectation.configuration.kwargs.get("column")
        if column is not None:
            rules.setdefault(column, set()).add(expectation.configuration.type)
    return {column for column, types in rules.items() if types <= _PRESENCE}


def distinct_values_frame(frame: pl.DataFrame, presence_only: set[str] | frozenset[str] = frozenset()) -> pl.DataFrame:
    """Each column's distinct values (null kept when present), padded to one length by repeating
    values already there — same pass/fail for per-value rules, a fraction of the rows when values
    repeat (12 M daily readings carry 400 k accounts, 30 days, a few thousand kWh values).

    A column in ``presence_only`` keeps one value and a null when it has one: 400,000 account
    numbers of a day of readings are otherwise 400,000 rows for Great Expectations."""
    if frame.height == 0:
        return frame
    columns = {}
    for c in frame.columns:
        values = frame.get_column(c)
        if c in presence_only:  # a value and a null, without finding every distinct value first
            columns[c] = pl.concat([values.drop_nulls().head(1), values.filter(values.is_null()).head(1)])
        else:
            columns[c] = values.unique(maintain_order=True)
    length = max(len(v) for v in columns.values())
    cycle = pl.int_range(length, eager=True, dtype=pl.UInt32)  # 0, 1, … taken modulo each column's length
    return pl.DataFrame({c: v if len(v) == length else v.gather(cycle % len(v)) for c, v in columns.items()})


def violated(expectation_type: str, kwargs: dict) -> pl.Expr | None:
    """The rows a per-value rule fails on, as a polars expression (None for rules over the whole
    column or table): GX reports how many and a few values, this finds the rows themselves."""
    column = kwargs.get("column")
    if column is None:
        return None
    value = pl.col(column)
    if expectation_type == "expect_column_values_to_not_be_null":
        return value.is_null()
    if expectation_type == "expect_column_values_to_be_in_set":
        return value.is_not_null() & ~value.is_in(list(kwargs["value_set"]))
    if expectation_type == "expect_column_values_to_be_between":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        outside = pl.lit(False)
        outside = outside | (value < low) if low is not None else outside
        outside = outside | (value > high) if high is not None else outside
        return value.is_not_null() & outside
    if expectation_type == "expect_column_values_to_match_regex":
        return value.is_not_null() & ~value.cast(pl.String).str.contains(kwargs["regex"])
    return None


def _per_value_rule(suite: Suite, config) -> pl.Expr | None:
    """A rule's per-row "broken" expression on the suite's frame (``None``: not a per-value rule,
    or its column is absent)."""
    rule = violated(config.type, config.kwargs)
    return None if rule is None or config.kwargs["column"] not in suite.frame.columns else rule


def _offending(suite: Suite, config, broken: pl.DataFrame | None) -> str:
    if broken is None:
        return "[]"
    value_column = (config.meta or {}).get("value_column") or config.kwargs["column"]
    return offending_rows(broken, value_column, suite.locators)


def run_suite(suite: Suite, run_id: str, batch_id: str | None = None) -> pl.DataFrame:
    """Validate ``suite.frame``; one result row per expectation (see :data:`RESULT_SCHEMA`).

    Suites whose rules all hold value by value are validated on each column's distinct values
    (:func:`distinct_values_frame`; a column only checked for presence on at most two); Great
    Expectations decides each rule, and the counts of a per-value rule are then taken from the
    frame's rows (how many rows break it, out of all rows)."""
    frame = suite.frame.select(_referenced_columns(suite) or suite.frame.columns[:1])  # pandas conversion is the cost
    compressed = _compressible(suite)
    frame = distinct_values_frame(frame, _presence_only(suite)) if compressed else frame
    validation = _validation(context(), suite)
    outcome = validation.run(
        batch_parameters={"dataframe": frame.to_pandas()},
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5},
    )
    now = datetime.now(timezone.utc)
    rows = []
    for res in outcome.results:
        config = res.expectation_config
        result = res.result or {}
        observed = result.get("observed_value")
        rule = _per_value_rule(suite, config)
        # the rows breaking a failed per-value rule, filtered once for both counts and examples
        broken = suite.frame.filter(rule) if rule is not None and not res.success else None
        counts = _row_counts(suite, rule, broken) if compressed else None
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
                "element_count": counts[0] if counts else result.get("element_count"),
                "unexpected_count": counts[1] if counts else result.get("unexpected_count"),
                "unexpected_percent": counts[2] if counts else result.get("unexpected_percent"),
                "examples": json.dumps(result.get("partial_unexpected_list", [])[:5], ensure_ascii=False, default=str),
                "validated_at": now,
                "offending": _offending(suite, config, broken),
            }
        )
    return pl.DataFrame(rows, schema=RESULT_SCHEMA)


def _row_counts(suite: Suite, rule: pl.Expr | None, broken: pl.DataFrame | None) -> tuple[int, int, float] | None:
    """Rows, rows breaking a per-value rule and their share (%), counted on the suite's frame
    (a rule that passed on every distinct value holds on every row: ``broken`` is then None)."""
    if rule is None:
        return None
    rows = suite.frame.height
    bad = broken.height if broken is not None else 0
    return rows, bad, 100 * bad / rows if rows else 0.0


def keep_results(wh: Warehouse, results: pl.DataFrame) -> None:
    if results.height:
        wh.write(results, *RESULTS, mode="append")
