"""``enteronce persons resolve FILE.csv``: the stable person-resolution contract.

Input header ``record_id,source,name,id_number,birth_date,sex,address`` (any cell may be empty
or dirty); output CSV ``record_id,person_id`` on stdout, one line per input record, in order.
A file that cannot be used (empty, wrong encoding, ragged line, missing column, empty or repeated
``record_id``) is a one-line error naming the file, line and column, exit status 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import polars as pl

INPUT_COLUMNS = ["record_id", "source", "name", "id_number", "birth_date", "sex", "address"]


@click.group()
def persons() -> None:
    """Person master: resolve records to people."""


@persons.command("resolve")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--encoding", default="utf-8", show_default=True, help="text encoding of FILE (utf-8, gbk, …); a GBK file read as UTF-8 (or the reverse) is named as such")
def resolve_cmd(file: Path, encoding: str) -> None:
    """Resolve FILE's records; write record_id,person_id to stdout in input order."""
    from address_master.persons import place_keys_from_text, resolve_persons
    from cli.inputs import read_csv_input, unique_column

    records = read_csv_input(file, encoding, INPUT_COLUMNS)
    unique_column(file, records, "record_id")
    places = place_keys_from_text(records["address"])
    resolved = resolve_persons(pl.concat([records.select(INPUT_COLUMNS[:-1]), places], how="horizontal"))
    resolved.select("record_id", "person_id").write_csv(sys.stdout.buffer)
