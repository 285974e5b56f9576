"""``enteronce address …``: parse and match addresses on stdin, import an address base.

Both stream commands read one address per line on stdin and write one JSON object per line on
stdout, in input order, processing ``--chunk`` lines at a time (constant memory for any input).
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path
from typing import BinaryIO, Iterator

import click
import polars as pl

from address_master.parse import FIELDS, parse_frame

CHUNK = 200_000


def read_chunks(stream: BinaryIO, size: int) -> Iterator[list[str]]:
    """Lines of ``stream`` decoded as UTF-8 (bad bytes replaced), ``size`` at a time."""
    chunk: list[str] = []
    for raw in stream:
        chunk.append(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _write(frame: pl.DataFrame, out: BinaryIO) -> None:
    buffer = io.BytesIO()
    frame.write_ndjson(buffer)
    out.write(buffer.getvalue())
    out.flush()


@click.group()
def address() -> None:
    """Address master: parse, match, import the unified address base."""


@address.command("parse")
@click.option("--chunk", default=CHUNK, show_default=True, help="lines processed per batch")
def parse_cmd(chunk: int) -> None:
    """Parse addresses (one per line on stdin) into JSON lines with the 13 address fields."""
    out = sys.stdout.buffer
    for lines in read_chunks(sys.stdin.buffer, chunk):
        parsed = parse_frame(pl.DataFrame({"a": lines}, schema={"a": pl.String}), "a")
        _write(parsed.select(FIELDS), out)


@address.command("match")
@click.option("--base", "base_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="address base CSV (import format)")
@click.option("--chunk", default=CHUNK, show_default=True, help="lines processed per batch")
def match_cmd(base_path: Path, chunk: int) -> None:
    """Match addresses (one per line on stdin) to the base: JSON lines of address_id, building_id, score, method."""
    from address_master.base import AddressBaseError, load_base
    from address_master.match import match_parsed

    try:
        base, _, rejected = load_base(base_path)
    except AddressBaseError as err:
        raise click.ClickException(str(err)) from None
    if rejected.height:
        click.echo(f"address base: {rejected.height} bad rows ignored (see `enteronce address import-base`)", err=True)
    out = sys.stdout.buffer
    for lines in read_chunks(sys.stdin.buffer, chunk):
        parsed = parse_frame(pl.DataFrame({"a": lines}, schema={"a": pl.String}), "a").with_row_index("_i")
        links, _ = match_parsed(parsed, base)
        _write(links.sort("_i").select("address_id", "building_id", pl.col("score").round(4), "method"), out)


@address.command("import-base")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--warehouse", type=click.Path(path_type=Path), default=Path("data/warehouse"), show_default=True)
def import_base_cmd(file: Path, warehouse: Path) -> None:
    """Validate FILE and publish it as the address base (address/base/addresses, …/buildings)."""
    from address_master.base import AddressBaseError, load_base
    from address_master.store import write_base
    from warehouse.storage import Warehouse

    started = time.perf_counter()
    try:
        addresses, buildings, rejected = load_base(file)
    except AddressBaseError as err:
        raise click.ClickException(str(err)) from None
    write_base(Warehouse(root=str(warehouse)), addresses, buildings, rejected, source=str(file))
    click.echo(f"imported {addresses.height:,} addresses in {buildings.height:,} buildings from {file} in {time.perf_counter() - started:.1f}s")
    if rejected.height:
        click.echo(f"{rejected.height:,} bad rows not imported (kept in quarantine/address_base/rows):")
        with pl.Config(tbl_rows=20, fmt_str_lengths=100, tbl_hide_dataframe_shape=True):
            click.echo(rejected.head(20))
