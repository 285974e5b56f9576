"""``enteronce roster``: the emergency roster (黄金十分钟) of buildings, addresses or a division."""

from __future__ import annotations

from datetime import datetime, timezone, timedelta
from pathlib import Path

import click

from cli.main import open_warehouse, warehouse_option

BEIJING = timezone(timedelta(hours=8))


def _address_ids(wh, lines: list[str]) -> tuple[list[str], list[str]]:
    """Address ids as given, or address texts matched against the address base; (ids, texts not placed)."""
    import polars as pl

    from address_master.match import match_addresses, prepare_base
    from address_master.store import read_base

    base = read_base(wh)
    known = set(base["address_id"].to_list())
    ids = [line for line in lines if line in known]
    texts = [line for line in lines if line not in known]
    if not texts:
        return ids, []
    links = match_addresses(texts, prepare_base(base)).with_columns(pl.Series("text", texts))
    placed = links.filter(pl.col("decision") == "accept")
    return ids + placed["address_id"].to_list(), links.filter(pl.col("decision") != "accept")["text"].to_list()


@click.command()
@warehouse_option
@click.option("--buildings", default="", help="building ids, comma-separated")
@click.option("--addresses", "address_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="a file with one address per line: a standard address id or an address as written")
@click.option("--scope", default=None, help="a street or community code (every building in it)")
@click.option("--xlsx", type=click.Path(dir_okay=False, path_type=Path), default=None, help="write an XLSX here instead of printing")
def roster(warehouse: str, buildings: str, address_file: Path | None, scope: str | None, xlsx: Path | None) -> None:
    """Every vulnerable resident (独居/孤寡/高龄老人, 残疾人, 困难群众, 独处未成年人) with room and phone, in door-to-door order."""
    import polars as pl

    from pipelines.roster import Where, roster as build, with_headers

    wh = open_warehouse(warehouse)
    if not wh.exists("gold", "curated", "persons"):
        raise click.ClickException(f"{warehouse}: no gold/curated/persons yet (run the pipeline first)")
    address_ids: list[str] = []
    if address_file:
        lines = [line.strip() for line in address_file.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
        address_ids, unplaced = _address_ids(wh, lines)
        for text in unplaced:
            click.echo(f"{address_file}: not placed in the address base, left out: {text}", err=True)
    where = Where(tuple(b for b in buildings.split(",") if b), tuple(address_ids), scope)
    try:
        frame = build(wh.scan("gold", "curated", "persons"), wh.scan("gold", "curated", "addresses"), where)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    stamp = datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M")
    title = f"应急名册（黄金十分钟）· {frame.height} 人 · 生成于 {stamp}（北京时间）"
    table = with_headers(frame.drop("building_id", "address_id"))
    if xlsx:
        import xlsxwriter

        with xlsxwriter.Workbook(xlsx) as book:
            sheet = book.add_worksheet("应急名册")
            sheet.write(0, 0, title, book.add_format({"bold": True, "font_size": 14}))
            table.write_excel(book, worksheet="应急名册", position="A2", autofit=True, freeze_panes="A3")
            sheet.set_landscape()  # printed for door-to-door work: headers on every page, one page wide
            sheet.repeat_rows(1)
            sheet.fit_to_pages(1, 0)
        click.echo(f"{xlsx}: {frame.height} residents", err=True)
        return
    click.echo(title)
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=240, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        click.echo(table.drop("标准地址", "人员编号"))
