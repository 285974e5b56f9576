"""The ``enteronce`` command line: catalogue, generation, ingestion summary."""

from __future__ import annotations

import polars as pl
from click.testing import CliRunner

from cli.main import main
from pipelines.summary import catalog_table


def test_catalog_reports_source_vs_canonical_fields():
    result = CliRunner().invoke(main, ["catalog"])
    assert result.exit_code == 0, result.output
    per_system, total_source, total_canonical = catalog_table()
    assert per_system.height == 14
    assert total_source == int(per_system["source_fields"].sum())
    assert total_canonical < total_source  # the same field typed in many systems is defined once
    assert f"{total_source} source fields across 14 systems map onto {total_canonical} canonical fields" in result.output
    assert "公民身份号码→公民身份号码" in result.output and "sfzh→公民身份号码" in result.output


def test_generate_then_ingest_and_summarise(tmp_path):
    runner = CliRunner()
    out = tmp_path / "data"
    gen = runner.invoke(main, ["demo", "generate", "--persons", "600", "--seed", "5", "--power-days", "2", "--out", str(out)])
    assert gen.exit_code == 0, gen.output
    assert "generated 600 residents" in gen.output
    assert (out / "landing" / "address_base" / "address_base.csv").exists() and (out / "truth" / "records.parquet").exists()
    run = runner.invoke(main, ["ingest", "--system", "gongan", "--system", "jisheng", "--landing", str(out / "landing"), "--warehouse", str(out / "warehouse")])
    assert run.exit_code == 0, run.output
    assert "succeeded" in run.output and "rows per table per layer" in run.output
    truth = pl.read_parquet(out / "truth" / "records.parquet")
    gongan_rows = truth.filter(pl.col("system") == "gongan").height
    line = next(line for line in run.output.splitlines() if "gongan" in line and "公安" in line)
    assert str(gongan_rows) in line
    bad = runner.invoke(main, ["ingest", "--system", "nosuch", "--landing", str(out / "landing"), "--warehouse", str(out / "warehouse")])
    assert bad.exit_code != 0 and "unknown system" in bad.output


def test_generate_refuses_tiny_populations(tmp_path):
    result = CliRunner().invoke(main, ["demo", "generate", "--persons", "10", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "at least 200" in str(result.exception)
