"""``enteronce sync``: the five-level sync — nodes file, runs, status, corrections."""

from __future__ import annotations

import os
from pathlib import Path

import click

from cli.main import open_warehouse, warehouse_option

nodes_option = click.option(
    "--nodes", "nodes_file", type=click.Path(dir_okay=False, path_type=Path), envvar="ENTERONCE_NODES",
    default=Path("data/nodes.yaml"), show_default=True, help="the nodes file [env: ENTERONCE_NODES]",
)


def _config(nodes_file: Path):
    from pipelines.sync import SyncConfigError, load_config

    try:
        return load_config(nodes_file)
    except SyncConfigError as err:
        raise click.ClickException(str(err)) from None


@click.group()
def sync() -> None:
    """Five-level sync (五级同步): up to the city and province, down to streets and communities, corrections back."""


@sync.command("init")
@warehouse_option
@click.option("--hub", default=None, help="the hub district's 6-digit code (default: the district of the warehouse's address base)")
@click.option("--root", default="data/nodes", show_default=True, help="folder or URI (s3://bucket/prefix) under which each node's warehouse goes")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("data/nodes.yaml"), show_default=True)
@click.option("--force", is_flag=True, help="overwrite an existing nodes file")
def sync_init(warehouse: str, hub: str | None, root: str, out: Path, force: bool) -> None:
    """Write a nodes file: the hub's province, city, itself, and every street and community in it."""
    import yaml

    from pipelines.reference import divisions
    from pipelines.sync import SyncConfigError, default_nodes, hub_of, parse_config

    if out.exists() and not force:
        raise click.ClickException(f"{out} exists; --force to overwrite it")
    try:
        hub = hub or hub_of(open_warehouse(warehouse))
        raw = default_nodes(hub, divisions(), root if "://" in root else os.path.relpath(Path(root).absolute(), out.absolute().parent))
        parse_config(raw, out)
    except SyncConfigError as err:
        raise click.ClickException(str(err)) from None
    header = (
        "# EnterOnce five-level sync: the hub district and its replicas (enteronce sync init).\n"
        "# Per node: code, level, name, uri (a folder relative to this file, or s3://…).\n"
        "# Optional: tables (default: every curated table), storage_options (object storage),\n"
        "# masking: {level: {kind or column: rule}} over warehouse/masking.py's defaults; rules:\n"
        "# id_6_4, phone_3_4, name_1, digits, clear.\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    levels: dict[str, int] = {}
    for node in raw["nodes"]:
        levels[node["level"]] = levels.get(node["level"], 0) + 1
    click.echo(f"{out}: hub {hub}, {len(raw['nodes'])} nodes (" + ", ".join(f"{n} {level}" for level, n in levels.items()) + ")")


@sync.command("run")
@warehouse_option
@nodes_option
@click.option("--direction", type=click.Choice(["up", "down", "both"]), default="both", show_default=True)
@click.option("--node", "codes", multiple=True, help="only these node codes (repeatable)")
@click.option("--table", "tables", multiple=True, help="only these curated tables (repeatable)")
@click.option("--full", is_flag=True, help="copy every chosen table in full instead of the changes since each node's watermark")
def sync_run(warehouse: str, nodes_file: Path, direction: str, codes: tuple[str, ...], tables: tuple[str, ...], full: bool) -> None:
    """Ship what changed in the curated tables to each node (MERGE by key, masked and scoped for its level)."""
    import time

    from pipelines.sync import SyncConfigError, run_sync

    config = _config(nodes_file)
    wh = open_warehouse(warehouse)
    started = time.perf_counter()
    try:
        shipments = run_sync(wh, config, direction=direction, codes=codes, tables=tables, full=full, progress=click.echo)
    except SyncConfigError as err:
        raise click.ClickException(str(err)) from None
    rows = sum(s.rows for s in shipments)
    nodes = len({s.node.code for s in shipments})
    click.echo(f"synced {nodes} node(s), {len(shipments)} table copies, {rows:,} row(s) shipped in {time.perf_counter() - started:.1f}s")


@sync.command("status")
@warehouse_option
@nodes_option
@click.option("--level", type=click.Choice(["province", "city", "district", "street", "community"]), default=None, help="only nodes of this level")
@click.option("--table", "tables", multiple=True, help="only these curated tables (repeatable; the watermark is then that table's version)")
def sync_status_cmd(warehouse: str, nodes_file: Path, level: str | None, tables: tuple[str, ...]) -> None:
    """Per node: watermark, tables current, lag in versions and time, rows shipped in its last run."""
    import polars as pl

    from pipelines.sync import LEVEL_LABELS, sync_status

    frame = sync_status(open_warehouse(warehouse), _config(nodes_file), tables=tables)
    if level:
        frame = frame.filter(pl.col("level") == level)
    shown = frame.select(
        pl.col("node").alias("节点"), pl.col("level").replace_strict(LEVEL_LABELS).alias("层级"), pl.col("name").alias("名称"),
        pl.col("direction").replace_strict({"up": "上行", "down": "下行"}).alias("方向"), pl.col("watermark").alias("水位(最旧版本)"),
        pl.format("{}/{}", "tables_current", "tables").alias("已同步表"),
        pl.col("lag_versions").alias("落后版本数"), pl.col("lag_seconds").alias("落后秒数"), pl.col("rows_last_run").alias("上次同步行数"),
    )
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, tbl_hide_dataframe_shape=True):
        click.echo(shown)
    behind = frame.filter(pl.col("lag_versions") > 0).height
    click.echo(f"{frame.height} node(s); {behind} behind the hub")


@sync.command("correct")
@nodes_option
@click.option("--node", "code", required=True, help="the node whose inbox takes the correction")
@click.option("--person", "person_id", required=True, help="person_id of the resident (as shown at the node)")
@click.option("--by", "corrected_by", required=True, help="who verified it")
@click.option("--reason", required=True, help="why (e.g. 入户核实)")
@click.option("--phone")
@click.option("--living-status")
@click.option("--name")
@click.option("--id-number")
@click.option("--birth-date")
@click.option("--sex")
def sync_correct(nodes_file: Path, code: str, person_id: str, corrected_by: str, reason: str, **values: str | None) -> None:
    """Record a verified correction in a node's inbox (it reaches the hub with `sync collect`)."""
    from pipelines.corrections import submit_correction
    from pipelines.sync import SyncConfigError

    config = _config(nodes_file)
    try:
        correction_id = submit_correction(config.node(code), person_id, corrected_by, reason, values)
    except (SyncConfigError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"correction {correction_id} in the inbox of node {code}")


@sync.command("collect")
@warehouse_option
@nodes_option
@click.option("--landing", type=click.Path(file_okay=False, path_type=Path), envvar="ENTERONCE_LANDING", default=Path("data/landing"), show_default=True)
def sync_collect(warehouse: str, nodes_file: Path, landing: Path) -> None:
    """Collect every node's new corrections into landing/jiaozheng (then ingest as any source)."""
    from pipelines.corrections import collect_corrections

    summaries = collect_corrections(open_warehouse(warehouse), _config(nodes_file), landing)
    for s in summaries:
        click.echo(f"node {s['node']}: {s['accepted']} accepted{' → ' + s['file'] if s['file'] else ''}, {s['rejected']} rejected")
    click.echo(f"{sum(s['accepted'] for s in summaries)} correction(s) delivered, {sum(s['rejected'] for s in summaries)} rejected (quarantine/jiaozheng/rejected)")
