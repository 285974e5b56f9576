"""``enteronce forms``: monthly forms in one click (报表一键生成) from YAML templates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from cli.main import open_warehouse, warehouse_option

templates_option = click.option("--templates", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
                                help="folder of form templates (default: the shipped civil-affairs set)")


def _forms(templates: Path | None):
    from pipelines.forms import TEMPLATES, FormError, load_forms

    try:
        return load_forms(templates or TEMPLATES)
    except FormError as err:
        raise click.ClickException(str(err)) from None


@click.group()
def forms() -> None:
    """Monthly forms from the curated tables; templates are YAML (DIY 表单)."""


@forms.command("list")
@templates_option
def forms_list(templates: Path | None) -> None:
    """The forms the templates define."""
    for name, form in _forms(templates).items():
        click.echo(f"{name}\t{form.title}\t({form.table})")


@forms.command("build")
@warehouse_option
@templates_option
@click.option("--month", required=True, help="the month, YYYY-MM")
@click.option("--scope", required=True, help="a street (9 digits) or community (12 digits) code")
@click.option("--form", "names", multiple=True, help="only these forms (default: all)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("data/forms"), show_default=True)
def forms_build(warehouse: str, templates: Path | None, month: str, scope: str, names: tuple[str, ...], out: Path) -> None:
    """Write each form of MONTH for SCOPE as a formatted XLSX: OUT/<month>/<scope>/<form>.xlsx."""
    from pipelines.forms import FormError, build_form
    from pipelines.forms.xlsx import write_form
    from pipelines.reference import division_names

    try:
        first = dt.date.fromisoformat(f"{month}-01")
    except ValueError:
        raise click.ClickException(f"--month '{month}' is not YYYY-MM") from None
    places = division_names()
    if scope not in places:
        raise click.ClickException(f"--scope '{scope}' is not a division code")
    chosen = _forms(templates)
    unknown = sorted(set(names) - set(chosen))
    if unknown:
        raise click.ClickException(f"unknown forms {unknown}; `enteronce forms list` names them")
    wh = open_warehouse(warehouse)
    folder = out / month / scope
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
    for name, form in chosen.items():
        if names and name not in names:
            continue
        table = wh.scan("gold", "curated", form.table)
        if table is None:
            click.echo(f"{name}: no gold/curated/{form.table} yet, skipped", err=True)
            continue
        others = {name: wh.scan("gold", "curated", name) for name in form.tables() - {form.table}}
        try:
            frame = build_form(form, table, first, scope, {k: v for k, v in others.items() if v is not None})
        except FormError as err:
            raise click.ClickException(str(err)) from None
        write_form(form, frame, folder / f"{name}.xlsx", f"填报单位：{places[scope]}（{scope}）　统计月份：{first:%Y年%m月}　制表时间：{stamp}")
        click.echo(f"{folder / (name + '.xlsx')}: {form.title}, {frame.height} rows")
