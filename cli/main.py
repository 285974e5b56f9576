"""``enteronce`` command line: demo data, ingestion runs, the field catalogue, summaries."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click
import polars as pl

from warehouse.catalog import CATALOG
from pipelines.sources import all_specs

DEFAULT_DATA = Path("data")

warehouse_option = click.option(
    "--warehouse", envvar="ENTERONCE_WAREHOUSE", default=str(DEFAULT_DATA / "warehouse"), show_default=True,
    help="warehouse root: a folder or a URI (s3://…); storage options from ENTERONCE_STORAGE_OPTIONS [env: ENTERONCE_WAREHOUSE]",
)


def open_warehouse(root: str | Path):
    """The warehouse at ``root`` with the storage options of ENTERONCE_STORAGE_OPTIONS (JSON)."""
    from warehouse.storage import Warehouse

    return Warehouse(root=str(root), storage_options=Warehouse.from_env().storage_options)


@click.group()
def main() -> None:
    """EnterOnce (最多录一次): grassroots governance data lakehouse."""
    from pipelines.pii import install

    install()  # no ID number or phone in any log line of the CLI either


# ------------------------------------------------------------------------------------ demo
@main.group()
def demo() -> None:
    """Generate a demo district and run it end to end."""


def _generate_options(fn):
    fn = click.option("--district", default="330102", show_default=True, help="6-digit district code (Zhejiang)")(fn)
    fn = click.option("--persons", default=20_000, show_default=True, type=int, help="number of residents")(fn)
    fn = click.option("--seed", default=42, show_default=True, type=int, help="random seed (output is deterministic per seed)")(fn)
    fn = click.option("--power-days", default=30, show_default=True, type=int, help="days of daily meter readings")(fn)
    fn = click.option("--noise", default=1.0, show_default=True, type=float, help="scale of every noise probability")(fn)
    return fn


@demo.command("generate")
@_generate_options
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_DATA, show_default=True, help="output folder")
def demo_generate(district: str, persons: int, seed: int, power_days: int, noise: float, out: Path) -> None:
    """Write a synthetic district: 13 departmental exports, the address base and ground truth."""
    from pipelines.demo.generate import generate

    started = time.perf_counter()
    summary = generate(out, district, persons, seed, power_days, noise, progress=sys.stderr.isatty() or persons >= 100_000)
    _print_generation(summary, time.perf_counter() - started)


def _print_generation(summary, seconds: float) -> None:
    click.echo(
        f"generated {summary.persons:,} residents in {summary.households:,} households, "
        f"{summary.addresses:,} standard addresses in {summary.buildings:,} buildings, "
        f"{summary.businesses:,} businesses in {seconds:.1f}s"
    )
    for system, files in summary.files.items():
        shown = ", ".join(files[:2]) + (f" … ({len(files)} files)" if len(files) > 2 else "")
        click.echo(f"  {system:<10} {summary.records.get(system, 0):>10,} records  {shown}")
    click.echo(f"landing: {summary.out / 'landing'}   address base: {summary.out / 'landing' / 'address_base'}   truth: {summary.out / 'truth'}")


@demo.command("run")
@_generate_options
@click.option("--data", type=click.Path(path_type=Path), default=DEFAULT_DATA, show_default=True, help="data folder (landing, warehouse, truth)")
def demo_run(district: str, persons: int, seed: int, power_days: int, noise: float, data: Path) -> None:
    """Generate a district into DATA, materialise every asset, print what landed where."""
    from pipelines.demo.generate import generate

    started = time.perf_counter()
    summary = generate(data, district, persons, seed, power_days, noise, progress=sys.stderr.isatty())
    _print_generation(summary, time.perf_counter() - started)
    warehouse = data / "warehouse"
    os.environ["ENTERONCE_NODES"] = str(data / "nodes.yaml")  # the demo's own nodes, if it has some (`sync init`)
    _materialize(data / "landing", warehouse, systems=None, quality=data)
    _print_warehouse(warehouse)


@demo.command("next-day")
@click.option("--data", type=click.Path(path_type=Path), default=DEFAULT_DATA, show_default=True, help="a generated district's data folder")
@click.option("--share", default=0.01, show_default=True, type=float, help="share of residents changed in the new 公安 delivery")
@click.option("--seed", default=1, show_default=True, type=int)
def demo_next_day(data: Path, share: float, seed: int) -> None:
    """Drop a realistic next day into landing: a 公安 file with SHARE of residents moved or with a
    new phone plus newborns, and one more day of 电力 readings."""
    from pipelines.demo.nextday import next_day

    day = next_day(data, share, seed)
    click.echo(f"{day.gongan_file}: {day.moved:,} moved, {day.new_phone:,} new phones, {day.births:,} births")
    click.echo(f"{day.dianli_file}: {day.readings:,} readings")
    click.echo("sensors and automation take it to gold (make ui), or run `enteronce ingest --all`")


# ------------------------------------------------------------------------------- ingestion
@main.command()
@click.option("--system", "systems", multiple=True, help="only these systems (repeatable); default all")
@click.option("--landing", type=click.Path(path_type=Path), envvar="ENTERONCE_LANDING", default=DEFAULT_DATA / "landing", show_default=True)
@warehouse_option
@click.option("--all", "everything", is_flag=True, help="every asset through to gold (default: bronze → silver only)")
def ingest(systems: tuple[str, ...], landing: Path, warehouse: str, everything: bool) -> None:
    """Run bronze → silver (with checks) through Dagster for new landing files; --all runs on to gold."""
    chosen = list(systems) or (None if everything else list(all_specs()))
    _materialize(landing, warehouse, systems=chosen, quality=DEFAULT_DATA)
    _print_warehouse(warehouse)


def _settings(landing: Path, warehouse: str | str, reports: Path) -> None:
    """The resources read ENTERONCE_* when a run starts (Dagster EnvVar); the run's processes inherit them."""
    from assets.resources import DEFAULTS  # Dagster only for the commands that run it: `address parse` starts fast

    os.environ["ENTERONCE_LANDING"] = str(landing)
    os.environ["ENTERONCE_WAREHOUSE"] = str(warehouse)
    os.environ["ENTERONCE_REPORTS"] = str(reports)
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)


def _materialize(landing: Path, warehouse: str | Path, systems: list[str] | None, quality: Path) -> None:
    """Run the `everything` job (or the chosen systems' bronze/silver) with the multiprocess executor."""
    import dagster as dg

    from assets.definitions import ASSETS, everything_job

    specs = all_specs()
    unknown = set(systems or []) - set(specs)
    if unknown:
        raise click.BadParameter(f"unknown system(s) {', '.join(sorted(unknown))}; known: {', '.join(specs)}")
    selection = None
    if systems:
        selection = [k for a in ASSETS for k in a.keys if k.path[0] in ("bronze", "silver", "quarantine") and k.path[1] in systems]
    _settings(landing, warehouse, quality / "reports")
    if os.environ.get("DAGSTER_HOME"):
        instance = dg.DagsterInstance.get()
        where = f"Dagster instance at {os.environ['DAGSTER_HOME']}"
    else:
        instance = dg.DagsterInstance.local_temp()
        where = "a temporary Dagster instance (set DAGSTER_HOME to keep run history)"
    click.echo(f"materialising {'the selected systems' if systems else 'every asset (bronze, silver, address and person masters, curated tables behind their quality gates)'} in {where} …")
    started = time.perf_counter()
    result = dg.execute_job(
        dg.reconstructable(everything_job),
        instance=instance,
        asset_selection=selection,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        raise_on_error=False,
    )
    click.echo(f"run {result.run_id} {'succeeded' if result.success else 'FAILED'} in {time.perf_counter() - started:.1f}s")
    from assets.report import report_run

    report = report_run(instance, result.run_id, open_warehouse(warehouse), quality / "reports")  # the daemon's sensor does this for runs it launched
    if report is not None:
        click.echo(f"quality report: {report.absolute()}")
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            click.echo(f"  check {evaluation.asset_key.to_user_string()}:{evaluation.check_name} failed: {evaluation.description}")
    if not result.success:
        raise SystemExit(1)


def _print_warehouse(warehouse: str) -> None:
    from warehouse.tables import ADDRESS_LAYER as LAYER, BASE_ADDRESSES, BASE_BUILDINGS, REVIEW_QUEUE
    from pipelines.summary import address_summary, warehouse_summary

    wh = open_warehouse(warehouse)
    tables, reasons, rejected = warehouse_summary(wh)
    addresses = address_summary(wh)
    with pl.Config(tbl_rows=100, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True, fmt_str_lengths=90, tbl_width_chars=160):
        click.echo("\nrows per table per layer:")
        click.echo(tables)
        click.echo("\nquarantined rows by reason:")
        click.echo(reasons)
        if rejected.height:
            click.echo("\nfiles not ingested:")
            click.echo(rejected)
        if addresses is not None:
            click.echo(
                f"\naddress master: {wh.row_count(LAYER, *BASE_ADDRESSES):,} standard addresses in "
                f"{wh.row_count(LAYER, *BASE_BUILDINGS):,} buildings; {wh.row_count(LAYER, *REVIEW_QUEUE):,} address texts waiting for review"
            )
            click.echo(addresses)
        golden = wh.scan("person", "golden", "persons")
        if golden is not None:
            flags = golden.select(
                pl.len().alias("persons"),
                *[pl.col(c).sum() for c in ("elderly_60", "elderly_80", "living_alone", "gugua", "disabled", "subsidy_recipient", "retiree", "floating_population")],
            ).collect()
            click.echo(
                f"\nperson master: {flags['persons'][0]:,} persons in {wh.row_count('person', 'golden', 'households'):,} households; "
                f"{wh.row_count('business', 'golden', 'businesses'):,} businesses with {wh.row_count('business', 'links', 'inspections'):,} inspections"
            )
            click.echo(flags)
    click.echo(f"\nwarehouse (Delta tables): {Path(warehouse).absolute()}/<layer>/<system>/<table>")


@main.command()
@warehouse_option
def summary(warehouse: str) -> None:
    """Rows per table per layer, quarantine reasons and rejected files."""
    _print_warehouse(warehouse)


# ---------------------------------------------------------------------------- catalogue
@main.command()
def catalog() -> None:
    """Source fields vs canonical fields, per system and in total."""
    from pipelines.summary import catalog_table

    per_system, total_source, total_canonical = catalog_table()
    with pl.Config(tbl_rows=100, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True, fmt_str_lengths=120, tbl_width_chars=200):
        click.echo(per_system)
    used = {f for spec in all_specs().values() for f in spec.columns.values()}
    click.echo(
        f"\n{total_source} source fields across {len(all_specs())} systems map onto {total_canonical} canonical fields "
        f"({len(CATALOG)} in the catalogue, {len(used)} used): each is entered once."
    )


@main.group()
def quarantine() -> None:
    """Quarantined rows: list them, export for correction, replay the fixes."""


@quarantine.command("list")
@click.option("--system", default=None, help="one system (default: all)")
@warehouse_option
def quarantine_list(system: str | None, warehouse: str) -> None:
    """Quarantined rows with file, row, column and reason."""
    from pipelines.quarantine import list_quarantine

    rows = list_quarantine(open_warehouse(warehouse), system)
    with pl.Config(tbl_rows=200, fmt_str_lengths=80, tbl_width_chars=200, tbl_hide_dataframe_shape=True):
        cols = [c for c in ("source_system", "source_file", "source_row", "columns", "reason") if c in rows.columns]
        click.echo(rows.select(cols).with_columns(pl.col("source_file").str.split("/").list.last()) if "source_file" in cols else rows)
    click.echo(f"{rows.height} quarantined rows")


@quarantine.command("export")
@click.option("--system", required=True)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@warehouse_option
def quarantine_export(system: str, file: Path, warehouse: str) -> None:
    """Write SYSTEM's quarantined rows to FILE (CSV) with their original columns, for correction."""
    from pipelines.quarantine import export_quarantine

    n = export_quarantine(open_warehouse(warehouse), system, file)
    click.echo(f"exported {n} rows to {file}; correct the source columns, then `enteronce quarantine replay {file}`" if n else "nothing quarantined")


@quarantine.command("replay")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@warehouse_option
def quarantine_replay(file: Path, warehouse: str) -> None:
    """Re-ingest corrected rows through the same standardisation and checks."""
    from pipelines.quarantine import replay

    try:
        reports = replay(open_warehouse(warehouse), file)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    for r in reports:
        click.echo(f"{r.system}: {r.silver_rows} rows standardised, {r.quarantined_rows} still quarantined")
    click.echo("run the curated assets (or `make demo`'s ingest) to publish through the quality gates")


@quarantine.command("withdraw")
@click.argument("system")
@click.argument("batch_id")
@click.option("--reason", required=True, help="why the batch is taken back (kept with its rows in quarantine)")
@warehouse_option
def quarantine_withdraw(system: str, batch_id: str, reason: str, warehouse: str) -> None:
    """Take back a delivered batch (e.g. a department's wrong export): its rows move to
    quarantine with the reason and it leaves every build and quality gate."""
    from pipelines.quarantine import withdraw_batch

    try:
        moved = withdraw_batch(open_warehouse(warehouse), system, batch_id, reason)
    except (ValueError, KeyError) as err:
        raise click.ClickException(str(err).strip("'\"")) from None
    click.echo(f"{system} batch {batch_id} withdrawn: {moved} rows moved to quarantine")


@main.group()
def quality() -> None:
    """Quality results, reports and the data dictionary."""


@quality.command("report")
@warehouse_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_DATA / "reports", show_default=True)
@click.option("--run", "run_id", default=None, help="the run to report (default: the latest run whose gates decided)")
@click.option("--xlsx", is_flag=True, help="also write the report's tables as quality_<run>.xlsx (Chinese headers)")
def quality_report(warehouse: str, out: Path, run_id: str | None, xlsx: bool) -> None:
    """Write a run's quality report as the run left it (its stored facts) and print its path.

    A run that never stored its facts (written before they were kept) gets them collected now, once."""
    from address_master.links import locate_texts
    from quality.gate import PUBLISHES
    from quality.report import collect_facts, keep_facts, stored_facts, write_html, write_xlsx

    wh = open_warehouse(warehouse)
    decided = wh.read(*PUBLISHES)
    if decided.height == 0:
        raise click.ClickException(f"no gate outcomes in {warehouse}: run the curated assets first (make demo)")
    run_id = run_id or decided.sort("decided_at")["run_id"][-1]
    if run_id not in set(decided["run_id"].to_list()):
        raise click.ClickException(f"no run '{run_id}' in {warehouse}")
    facts = stored_facts(wh, run_id)
    if facts is None:
        facts = collect_facts(wh, run_id, locate_texts)
        keep_facts(wh, facts)
    latest = run_id == decided.sort("decided_at")["run_id"][-1]
    click.echo(write_html(facts, out, latest=latest).absolute())
    if xlsx:
        click.echo(write_xlsx(facts, out / f"quality_{run_id}.xlsx").absolute())


@quality.command("dictionary")
@warehouse_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("docs/tables.md"), show_default=True)
def quality_dictionary(warehouse: str, out: Path) -> None:
    """Write the curated tables' data dictionary (docs/tables.md)."""
    from quality.dictionary import data_dictionary

    out.write_text(data_dictionary(open_warehouse(warehouse)) + "\n", encoding="utf-8")
    click.echo(out)


def _register_address_commands() -> None:
    from cli.address import address
    from cli.api import retention, serve, tokens
    from cli.alerts import alerts
    from cli.forms import forms
    from cli.persons import persons
    from cli.roster import roster
    from cli.sync import sync

    main.add_command(address)
    main.add_command(serve)
    main.add_command(tokens)
    main.add_command(retention)
    main.add_command(roster)
    main.add_command(forms)
    main.add_command(alerts)
    main.add_command(persons)
    main.add_command(sync)


_register_address_commands()

if __name__ == "__main__":
    main()
