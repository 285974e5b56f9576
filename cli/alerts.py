"""``enteronce alerts``: proactive alerts (主动办 / 提前告知) — raise, list, move through their states."""

from __future__ import annotations

import datetime as dt

import click

from cli.main import open_warehouse, warehouse_option


@click.group()
def alerts() -> None:
    """Proactive alerts from the rules in pipelines/alerts/rules.yaml, routed to community and department."""


@alerts.command("run")
@warehouse_option
@click.option("--date", "day", default=None, help="evaluate as of this date (YYYY-MM-DD; default today, Beijing time)")
def alerts_run(warehouse: str, day: str | None) -> None:
    """Evaluate every rule; alerts not raised before are added as new."""
    from pipelines.alerts import load_rules
    from pipelines.alerts.store import raise_alerts

    today = dt.date.fromisoformat(day) if day else dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    new = raise_alerts(open_warehouse(warehouse), load_rules(), today)
    click.echo(f"{new.height} new alerts as of {today}")
    for (rule, action), group in sorted(new.group_by("label", "action")):
        click.echo(f"  {action}\t{rule}: {group.height}")


@alerts.command("list")
@warehouse_option
@click.option("--scope", default="", help="a street or community code")
@click.option("--state", type=click.Choice(["new", "dispatched", "done"]), default=None)
def alerts_list(warehouse: str, scope: str, state: str | None) -> None:
    """Alerts inside a division, newest first, with Chinese headers."""
    import polars as pl

    from pipelines.alerts import STATE_LABELS
    from pipelines.alerts.store import read_alerts
    from warehouse.registry import place_expr

    frame = read_alerts(open_warehouse(warehouse)).filter(place_expr(levels=3).str.starts_with(scope))
    if state:
        frame = frame.filter(pl.col("state") == state)
    shown = frame.sort("raised_at", descending=True).select(
        pl.col("alert_id").alias("编号"), pl.col("action").alias("办理方式"), pl.col("label").alias("事项"), pl.col("department").alias("部门"),
        pl.col("name").alias("对象"), pl.col("community_code").alias("社区"), pl.col("detail").alias("说明"),
        pl.col("state").replace_strict(STATE_LABELS).alias("状态"))
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=240, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        click.echo(shown)


@alerts.command("set-state")
@warehouse_option
@click.argument("alert_ids", nargs=-1, required=True)
@click.option("--state", type=click.Choice(["new", "dispatched", "done"]), required=True)
@click.option("--by", required=True, help="who (recorded with the time)")
def alerts_set_state(warehouse: str, alert_ids: tuple[str, ...], state: str, by: str) -> None:
    """Move alerts to dispatched (已派发) or done (已办结)."""
    from pipelines.alerts.store import set_state

    try:
        changed = set_state(open_warehouse(warehouse), list(alert_ids), state, by)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"{changed} alerts now {state}")
