"""``enteronce address …``: parse and match addresses on stdin, import an address base.

Both stream commands read one address per line on stdin and write one JSON object per line on
stdout, in input order, processing ``--chunk`` lines at a time (constant memory for any input).
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path
from typing import BinaryIO, Iterator

import click
import polars as pl

from address_master.parse import FIELDS, TextParsers, parse_frame

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


ENV_HUB = "ENTERONCE_HUB"


def default_hub() -> str:
    """``$ENTERONCE_HUB``; else the district of the warehouse's address base
    (``$ENTERONCE_WAREHOUSE``), when it covers one; else the province whose five-level division
    table ships (the one parsed down to the community)."""
    if os.environ.get(ENV_HUB):
        return os.environ[ENV_HUB]
    from pipelines.reference import five_level_province
    from pipelines.sync import SyncConfigError, hub_of
    from warehouse.storage import Warehouse

    try:
        return hub_of(Warehouse.from_env())
    except SyncConfigError:  # no address base, or one of several districts
        pass
    except Exception as exc:  # a lake that cannot be read says so, and parsing goes on with the province
        click.echo(f"address parse: no hub from the warehouse ({exc}); pass --hub CODE", err=True)
    return five_level_province()


@address.command("parse")
@click.option("--chunk", default=CHUNK, show_default=True, help="lines processed per batch")
@click.option("--workers", default=os.cpu_count() or 1, show_default=True,
              help="processes for addresses the learned tagger reads (a second one starts only for a batch of 1,000 distinct lines or more)")
@click.option("--hub", default=None, metavar="CODE",
              help="the hub's division code (2 digits for a province, 4 a city, 6 a district): a name that fits several divisions equally goes to the one "
                   "nearest it, and a county written inside another word is looked for in its province. "
                   f"Default: ${ENV_HUB}, else the district of the warehouse's address base, else the province whose five-level "
                   "division table ships; --hub '' for none.")
def parse_cmd(chunk: int, workers: int, hub: str | None) -> None:
    """Parse addresses (one per line on stdin) into JSON lines with the 13 address fields."""
    home = default_hub() if hub is None else hub
    if home and not home.isdigit():
        raise click.BadParameter(f"{home!r} is not a division code (digits: 2 for a province, 4 a city, 6 a district)", param_hint="--hub")
    out = sys.stdout.buffer
    with TextParsers(workers, eager=False) as parsers:
        for lines in read_chunks(sys.stdin.buffer, chunk):
            frame = pl.DataFrame({"a": lines}, schema={"a": pl.String})
            parsed = parsers.parse(frame["a"], home)  # each distinct text once
            _write(frame.join(parsed, left_on="a", right_on="text", how="left", maintain_order="left").select(FIELDS), out)


ENCODING = click.option("--encoding", default="utf-8", show_default=True, help="text encoding of the base CSV (utf-8, gbk, …); the usual wrong one is named")


@address.command("match")
@click.option("--base", "base_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="address base CSV (import format)")
@click.option("--chunk", default=CHUNK, show_default=True, help="lines processed per batch")
@ENCODING
@click.option("--skip-bad-rows", is_flag=True, help="match against the valid rows of a base that has bad ones (listed on stderr) instead of refusing it")
def match_cmd(base_path: Path, chunk: int, encoding: str, skip_bad_rows: bool) -> None:
    """Match addresses (one per line on stdin) to the base: JSON lines of address_id, building_id, level, score, method."""
    from address_master.base import AddressBaseError, load_base
    from address_master.match import match_parsed

    try:
        base, _, rejected = load_base(base_path, encoding)
    except AddressBaseError as err:
        raise click.ClickException(str(err)) from None
    if rejected.height:
        first = rejected.row(0, named=True)
        where = f"{base_path}: line {first['line']}, column {first['reason']}"
        more = f" ({rejected.height - 1} more bad row(s))" if rejected.height > 1 else ""
        if not skip_bad_rows:
            raise click.ClickException(f"{where}{more}; fix the base or pass --skip-bad-rows")
        click.echo(f"address base: {rejected.height} bad row(s) skipped, first: {where}", err=True)
    if base.height == 0:
        raise click.ClickException(f"{base_path}: no valid address rows to match against")
    out = sys.stdout.buffer
    for lines in read_chunks(sys.stdin.buffer, chunk):
        parsed = parse_frame(pl.DataFrame({"a": lines}, schema={"a": pl.String}), "a", base=base).with_row_index("_i")
        links, _ = match_parsed(parsed, base)
        _write(links.sort("_i").select("address_id", "building_id", "level", pl.col("score").round(4), "method"), out)


@address.command("import-base")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--warehouse", type=click.Path(path_type=Path), default=Path("data/warehouse"), show_default=True)
@click.option("--max-loss", type=float, default=0.05, show_default=True, help="refuse a base dropping or re-keying more than this share of the addresses in force")
@click.option("--force", is_flag=True, help="import even so (a deliberate re-coding of the base)")
@ENCODING
def import_base_cmd(file: Path, warehouse: Path, max_loss: float, force: bool, encoding: str) -> None:
    """Validate FILE and publish it as the address base (address/base/addresses, …/buildings)."""
    from address_master.base import AddressBaseError, load_base, replacement_problems
    from address_master.store import BASE_ADDRESSES, LAYER, write_base
    from warehouse.storage import Warehouse

    started = time.perf_counter()
    wh = Warehouse(root=str(warehouse))
    try:
        addresses, buildings, rejected = load_base(file, encoding)
    except AddressBaseError as err:
        raise click.ClickException(str(err)) from None
    current = wh.read(LAYER, *BASE_ADDRESSES, columns=["address_id"]).get_column("address_id", default=None)
    problems = [] if force else replacement_problems(current, addresses["address_id"], max_loss)
    if problems:
        raise click.ClickException(f"{file}: refused, the base in force stays: {'; '.join(problems)} (--force to import anyway)")
    write_base(wh, addresses, buildings, rejected, source=str(file))
    click.echo(f"imported {addresses.height:,} addresses in {buildings.height:,} buildings from {file} in {time.perf_counter() - started:.1f}s")
    if rejected.height:
        click.echo(f"{rejected.height:,} bad rows not imported (kept in quarantine/address_base/rows):")
        with pl.Config(tbl_rows=20, fmt_str_lengths=100, tbl_hide_dataframe_shape=True):
            click.echo(rejected.head(20))


@address.group("review")
def review() -> None:
    """The review queue: export it for data officers, record their decisions."""


@review.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--warehouse", type=click.Path(path_type=Path), default=Path("data/warehouse"), show_default=True)
def review_export(file: Path, warehouse: Path) -> None:
    """Write the open queue to FILE (CSV, UTF-8 with BOM for Excel): one row per text with its
    candidates' ids, texts and scores side by side; fill ``address_id`` (accept) or ``action``
    (none / new), leave both empty to decide later."""
    from address_master.review import open_queue
    from warehouse.storage import Warehouse

    queue = open_queue(Warehouse(root=str(warehouse)))
    if queue.height == 0:
        click.echo("the review queue is empty")
        return
    shown = 3
    candidate = lambda i, field: pl.col("candidates").list.get(i, null_on_oob=True).struct.field(field)  # noqa: E731
    out = queue.select(
        "address_key", "address_text", "records", "systems", pl.lit("").alias("action"), pl.lit("").alias("address_id"),
        *[candidate(i, f).alias(f"candidate_{i + 1}_{f}") for i in range(shown) for f in ("address_id", "full_text", "score")],
    )
    file.write_bytes(b"\xef\xbb\xbf" + out.write_csv().encode("utf-8"))
    click.echo(f"wrote {out.height:,} texts ({int(out['records'].sum()):,} records) to {file}; copy a candidate's id into address_id "
               f"(or set action to none / new) and run `enteronce address review apply {file}`")


@review.command("apply")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--warehouse", type=click.Path(path_type=Path), default=Path("data/warehouse"), show_default=True)
@click.option("--reviewer", default="data-officer", show_default=True)
def review_apply(file: Path, warehouse: Path, reviewer: str) -> None:
    """Record decisions from FILE (address_key or address_text; address_id to accept it, empty for
    none of the candidates, or an ``action`` column: accept / none / new / undo); used from the next run on."""
    from address_master.review import DecisionError, record_decisions
    from warehouse.storage import Warehouse

    rows = pl.read_csv(file, infer_schema=False, encoding="utf8-lossy")
    rows = rows.rename({c: c.lstrip("\ufeff") for c in rows.columns})
    if not ({"address_key", "address_text"} & set(rows.columns)) or not ({"address_id", "action"} & set(rows.columns)):
        raise click.ClickException(f"{file}: need columns address_key or address_text, and address_id or action")
    rows = rows.with_columns(pl.col("address_id").str.strip_chars() if "address_id" in rows.columns else pl.lit(None, pl.String).alias("address_id"))
    blank = lambda c: pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "")  # noqa: E731
    if "action" not in rows.columns:
        rows = rows.with_columns(pl.lit(None, pl.String).alias("action"))
    # an address_id alone accepts it; a row left empty is not decided yet
    rows = rows.with_columns(pl.when(blank("action") & ~blank("address_id")).then(pl.lit("accept")).otherwise(pl.col("action").str.strip_chars()).alias("action"))
    rows = rows.filter(~blank("action"))
    keep = [c for c in ("address_key", "address_text", "action", "address_id") if c in rows.columns]
    try:
        recorded = record_decisions(Warehouse(root=str(warehouse)), rows.select(keep), reviewer)
    except DecisionError as err:
        raise click.ClickException(f"{file}: {err}") from None
    click.echo(f"recorded {recorded:,} decisions; the next address_links run applies them")


@address.command("train")
@click.option("--corpus", "corpus", type=click.Path(exists=True, dir_okay=False, path_type=Path), multiple=True, required=True,
              help="annotated addresses in BIO format (one '<token> <tag>' per line, a blank line between addresses); repeat to add files")
@click.option("--dev", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="held-out addresses in the same format to score the model on")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="where to write the model [default: the shipped model]")
def train_cmd(corpus: tuple[Path, ...], dev: Path | None, out: Path | None) -> None:
    """Train the address tagger (a character CRF) on annotated addresses; scores it on --dev."""
    from address_master import tagger

    model = out or tagger.MODEL
    click.echo(f"training on {', '.join(map(str, corpus))} …", err=True)
    facts = tagger.train(corpus, model, progress=False)
    click.echo(f"trained on {facts['addresses']:,} addresses in {facts['seconds']} s → {model}", err=True)
    if dev:
        scores = tagger.span_scores((gold, tagger.tag(text, model)) for text, gold in tagger.read_corpus(dev))
        overall = scores["_all"]
        click.echo(f"{dev}: span F1 {overall['f1']:.4f} (precision {overall['precision']:.4f}, recall {overall['recall']:.4f}) over {overall['support']:,} spans")
        tagger.write_scores(model.with_suffix(".scores.json"), {"corpus": [str(c) for c in corpus], "dev": str(dev), **facts, "scores": scores})
