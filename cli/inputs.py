"""Reading a user's input file for a CLI command: any problem is one line naming file, line and
column (a :class:`click.ClickException`, exit status 1), never a traceback or a silent guess."""

from __future__ import annotations

from pathlib import Path

import click
import polars as pl

from pipelines.sources.readers import ROW, SourceFileError, read_csv_strict


def read_csv_input(path: Path, encoding: str, columns: list[str]) -> pl.DataFrame:
    """``path`` as strings with its line number in ``_source_row``: strict about the encoding
    (the usual wrong one is named), the header (no repeats, ``columns`` present) and every line
    (a ragged or unterminated-quote line is an error, not a dropped row)."""
    try:
        frame = read_csv_strict(path, encoding)
    except SourceFileError as err:
        raise click.ClickException(str(err)) from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise click.ClickException(f"{path}: line 1: missing column(s) {', '.join(missing)}; the header must be {','.join(columns)}")
    return frame


def unique_column(path: Path, frame: pl.DataFrame, column: str) -> None:
    """Every row has a value in ``column`` and no value repeats; else name the lines."""
    blank = frame.filter(pl.col(column).is_null() | (pl.col(column).str.strip_chars() == ""))
    if blank.height:
        raise click.ClickException(f"{path}: line {blank[ROW][0]}, column {column}: empty ({blank.height} row(s))")
    repeated = frame.filter(pl.col(column).is_duplicated()).group_by(column, maintain_order=True).agg(pl.col(ROW))
    if repeated.height:
        value, lines = repeated.row(0)
        more = f"; {repeated.height - 1} more repeated value(s)" if repeated.height > 1 else ""
        raise click.ClickException(f"{path}: lines {', '.join(map(str, lines[:5]))}, column {column}: {value!r} appears {len(lines)} times{more}")
