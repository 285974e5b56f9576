"""``enteronce serve`` and ``enteronce tokens``: the query API and who may use it."""

from __future__ import annotations

import click

from cli.main import open_warehouse, warehouse_option


@click.command()
@warehouse_option
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="server processes (each holds its own table snapshots)")
@click.option("--refresh", default=5.0, show_default=True, type=float, help="seconds between checks of a table's version")
@click.option("--auth-refresh", default=1.0, show_default=True, type=float, help="seconds within which a revoked token stops working")
@click.option("--log-flush", default=2.0, show_default=True, type=float, help="seconds between commits of the access log")
def serve(warehouse: str, host: str, port: int, workers: int, refresh: float, auth_refresh: float, log_flush: float) -> None:
    """Serve the curated tables read-only over HTTP (OpenAPI docs at /docs)."""
    import os

    import uvicorn

    os.environ["ENTERONCE_WAREHOUSE"] = warehouse
    os.environ["ENTERONCE_API_REFRESH"] = str(refresh)
    os.environ["ENTERONCE_API_AUTH_REFRESH"] = str(auth_refresh)
    os.environ["ENTERONCE_API_LOG_FLUSH"] = str(log_flush)
    click.echo(f"EnterOnce API on http://{host}:{port}  (docs: http://{host}:{port}/docs; warehouse {warehouse})", err=True)
    uvicorn.run("api.server:app", host=host, port=port, workers=workers, log_level="warning", factory=True)


@click.group()
def tokens() -> None:
    """API tokens: one division and one role each; stored hashed; revocable."""


@tokens.command("issue")
@warehouse_option
@click.option("--level", required=True, type=click.Choice(["province", "city", "district", "street", "community"]))
@click.option("--code", required=True, help="the division's code (2, 4, 6, 9 or 12 digits by level)")
@click.option("--role", required=True, help="caseworker (社区工作者: names, door to door), analyst (统计分析: masked), officer (数据专员: quality report and review decisions)")
@click.option("--days", default=90, show_default=True, type=int, help="days until it expires")
@click.option("--label", default="", help="who or what it is for (shown in `tokens list`)")
def tokens_issue(warehouse: str, level: str, code: str, role: str, days: int, label: str) -> None:
    """Issue a token; the token is printed once (only its hash is kept)."""
    from api.tokens import TokenError, issue_token

    try:
        token_id, token = issue_token(open_warehouse(warehouse), level, code, role, days=days, label=label)
    except TokenError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"token id {token_id} ({level} {code}, {role}, {days} days); the token (shown once):", err=True)
    click.echo(token)


@tokens.command("revoke")
@warehouse_option
@click.argument("token_id")
def tokens_revoke(warehouse: str, token_id: str) -> None:
    """Revoke a token by its id."""
    from api.tokens import TokenError, revoke_token

    try:
        revoke_token(open_warehouse(warehouse), token_id)
    except TokenError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"revoked {token_id}")


@tokens.command("list")
@warehouse_option
def tokens_list(warehouse: str) -> None:
    """Every token: id, division, role, issued, expires, revoked (never the secret)."""
    import polars as pl

    from api.tokens import read_tokens

    frame = read_tokens(open_warehouse(warehouse)).drop("secret_sha256")
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200):
        click.echo(frame)


@click.command()
@warehouse_option
@click.option("--hours", type=int, default=None, help="keep this many hours of versions [default: ENTERONCE_RETENTION_HOURS, else 168]")
def retention(warehouse: str, hours: int | None) -> None:
    """Compact tables of many small appends, then remove table versions older than the retention
    window (data, change-feed files, log entries)."""
    from warehouse.retention import apply_retention, retention_hours

    hours = retention_hours() if hours is None else hours
    results = apply_retention(open_warehouse(warehouse), hours)
    for r in results:
        if r.compacted:
            click.echo(f"{r.table}: compacted {r.compacted} small files")
        if r.data_files or r.change_files:
            click.echo(f"{r.table}: removed {r.data_files} data files, {r.change_files} change-feed files; oldest version {r.oldest_version}")
    click.echo(f"retention {hours} h applied to {len(results)} tables")
