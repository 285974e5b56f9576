"""``enteronce persons resolve FILE.csv``: the stable person-resolution contract.

Input header ``record_id,source,name,id_number,birth_date,sex,address`` (any cell may be empty
or dirty); output CSV ``record_id,person_id`` on stdout, one line per input record, in order.
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
def resolve_cmd(file: Path) -> None:
    """Resolve FILE's records; write record_id,person_id to stdout in input order."""
    from address_master.persons import place_keys_from_text, resolve_persons

    try:
        records = pl.read_csv(file, infer_schema=False, encoding="utf8-lossy", truncate_ragged_lines=False)
    except pl.exceptions.ComputeError as err:
        raise click.ClickException(f"{file}: cannot read as CSV: {str(err).splitlines()[0]}") from None
    missing = [c for c in INPUT_COLUMNS if c not in records.columns]
    if missing:
        raise click.ClickException(f"{file}: missing column(s) {', '.join(missing)}; the header must be {','.join(INPUT_COLUMNS)}")
    places = place_keys_from_text(records["address"])
    resolved = resolve_persons(pl.concat([records.select(INPUT_COLUMNS[:-1]), places], how="horizontal"))
    resolved.select("record_id", "person_id").write_csv(sys.stdout.buffer)
