"""``enteronce persons resolve FILE.csv``: the stable person-resolution contract.

Input header ``record_id,source,name,id_number,birth_date,sex,address`` (any cell may be empty
or dirty); output CSV ``record_id,person_id`` on stdout, one line per input record, in order.
A file that cannot be used (empty, wrong encoding, ragged line, missing column, empty or repeated
``record_id``) is a one-line error naming the file, line and column, exit status 1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
import polars as pl

INPUT_COLUMNS = ["record_id", "source", "name", "id_number", "birth_date", "sex", "address"]
PARALLEL_FILE_BYTES = 8 * 2**20  # from about 80,000 records, the addresses are parsed in several processes


@click.group()
def persons() -> None:
    """Person master: resolve records to people."""


@persons.command("resolve")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--encoding", default="utf-8", show_default=True, help="text encoding of FILE (utf-8, gbk, …); a GBK file read as UTF-8 (or the reverse) is named as such")
@click.option("--workers", type=click.IntRange(min=1), default=None, show_default="the usable cores for a file of 8 MiB or more, else 1",
              help="processes that parse the address texts")
def resolve_cmd(file: Path, encoding: str, workers: int | None) -> None:
    """Resolve FILE's records; write record_id,person_id to stdout in input order."""
    from concurrent.futures import ThreadPoolExecutor

    from address_master.parse import TextParsers
    from address_master.persons import place_keys_from_text, resolve_persons
    from cli.inputs import read_csv_input, unique_column

    if workers is None:  # a small file is parsed sooner than a process starts
        workers = len(os.sched_getaffinity(0)) if file.stat().st_size >= PARALLEL_FILE_BYTES else 1
    with TextParsers(workers) as parsers, ThreadPoolExecutor(1) as thread:
        records = read_csv_input(file, encoding, INPUT_COLUMNS)
        unique_column(file, records, "record_id")
        # names and IDs are prepared and records placed by ID (polars and rapidfuzz, without the
        # GIL) while the addresses are parsed
        by_id = thread.submit(_prepare_and_place_by_id, records.select(INPUT_COLUMNS[:-1]))
        places = place_keys_from_text(records["address"], parsers)
        prepared, placed = by_id.result()
    resolved = resolve_persons(records, pl.concat([prepared, places], how="horizontal"), by_id=placed)
    resolved.select("record_id", "person_id").write_csv(sys.stdout.buffer)


def _prepare_and_place_by_id(records: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    from address_master.persons import place_by_id, prepare_records

    prepared = prepare_records(records)
    return prepared, place_by_id(prepared)


@persons.command("re-resolve")
@click.option("--warehouse", envvar="ENTERONCE_WAREHOUSE", default="data/warehouse", show_default=True, help="warehouse root: a folder or a URI (s3://…) [env: ENTERONCE_WAREHOUSE]")
def re_resolve_cmd(warehouse: str) -> None:
    """Re-resolve every person record of the warehouse from scratch (the person master is
    otherwise kept current incrementally); the next gold run publishes what moved."""
    import time

    from address_master.person_master import update_person_master
    from cli.main import open_warehouse
    from pipelines.sources import all_specs

    started = time.perf_counter()
    update = update_person_master(open_warehouse(warehouse), all_specs(), full=True)
    click.echo(f"{update.mode}: {update.reason}; {update.resolved:,} records → {update.persons:,} persons in {update.households:,} households ({time.perf_counter() - started:.1f}s)")
