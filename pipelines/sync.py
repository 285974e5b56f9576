"""Five-level sync (五级同步): the hub district's curated tables, up to the city and province and
down to its streets and communities, each node seeing only its own part, masked for its level.

**Nodes** are data: a YAML file (``ENTERONCE_NODES``, default ``data/nodes.yaml``; written by
``enteronce sync init``) names the hub district and every replica — code, level, name, warehouse
URI (a folder or ``s3://…``) — and the deployment's masking overrides per level and column
(:mod:`warehouse.masking`).

**What a node holds** of a table: ``mask(level, filter(prefix, hub table))`` plus ``hub_code``.
A row belongs to the deepest division it names (community, else street, else district, else
the hub itself: an unplaced row stays with the district and above). ``hub_code`` is part of
the key at every node, so in a province that receives several districts a hub only ever
touches its own rows.

**Incremental**: each (node, table) has a watermark — the hub version last shipped, recorded
at the node as a Delta app transaction in the very commit that applied it, and in the hub's
shipment log. A run reads the hub's change data feed after the watermark once per table, turns
it into each key's state before and after, scopes and masks both for the node, and MERGEs the
difference (insert, update, delete) — only changed rows move. A node without the table, or a
``--full`` run, gets a copy of the snapshot instead. A sync killed between node writes resumes
from each node's own watermark; a commit that landed is never applied twice.
"""

from __future__ import annotations

import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import polars as pl
import yaml
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from pipelines.reference import LEVEL_OF_LENGTH
from warehouse.masking import LEVELS, level_policy, mask_frame, rules_for
from warehouse.publish import OP, ChangeCounts, diff_by_key, merge_changes
from warehouse.registry import GOLD_BY_NAME, TableSpec
from warehouse.registry import place_expr as shared_place_expr
from warehouse.storage import Warehouse
from warehouse.tables import ADDRESS_LAYER, BASE_ADDRESSES

ENV_NODES = "ENTERONCE_NODES"
ENV_WORKERS = "ENTERONCE_SYNC_WORKERS"
DEFAULT_NODES = "data/nodes.yaml"
LEVEL_LABELS = {"province": "省", "city": "市", "district": "区县", "street": "街道", "community": "社区"}
HUB_COLUMN = "hub_code"
NODE_TABLE = ("gold", "curated")  # a node's tables sit where the hub's do: gold/curated/<table>
SHIPMENTS = ("sync", "_log", "shipments")  # hub side: what went where, from which version to which
_CHANGE_ORDER = {"update_preimage": 0, "delete": 1, "insert": 2, "update_postimage": 3}


class SyncConfigError(ValueError):
    """The nodes file is unusable; the message names the file and the entry."""


# ------------------------------------------------------------------------------- nodes
@dataclass(frozen=True)
class Node:
    code: str
    level: str
    name: str
    uri: str
    storage_options: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def warehouse(self) -> Warehouse:
        return Warehouse(root=self.uri, storage_options=dict(self.storage_options))

    def direction(self, hub: str) -> str:
        """"up" for the city and province, "down" for the district itself, streets and communities."""
        return "up" if len(self.code) < len(hub) else "down"


@dataclass(frozen=True)
class SyncConfig:
    hub: str
    nodes: tuple[Node, ...]
    tables: tuple[str, ...] = tuple(GOLD_BY_NAME)
    masking: dict[str, dict[str, str]] = field(default_factory=dict, hash=False, compare=False)
    source: str = ""  # the file it came from, for messages

    def policy(self, level: str) -> dict[str, str]:
        return level_policy(level, self.masking)

    def node(self, code: str) -> Node:
        for node in self.nodes:
            if node.code == code:
                return node
        raise SyncConfigError(f"{self.source or 'nodes file'}: no node {code}")

    def select(self, direction: str | None = None, codes: list[str] | tuple[str, ...] = ()) -> list[Node]:
        chosen = [n for n in self.nodes if direction in (None, "both", n.direction(self.hub))]
        if codes:
            unknown = sorted(set(codes) - {n.code for n in self.nodes})
            if unknown:
                raise SyncConfigError(f"{self.source or 'nodes file'}: no node {', '.join(unknown)}")
            chosen = [n for n in chosen if n.code in codes]
        return chosen


def nodes_path() -> Path:
    return Path(os.environ.get(ENV_NODES) or DEFAULT_NODES)


def load_config(path: str | Path | None = None) -> SyncConfig:
    """Read and check a nodes file; a relative node URI is relative to the file's folder."""
    path = Path(path) if path is not None else nodes_path()
    if not path.is_file():
        raise SyncConfigError(f"{path}: no nodes file (write one with `enteronce sync init`)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise SyncConfigError(f"{path}: not valid YAML: {err}") from None
    return parse_config(raw, path)


def parse_config(raw: dict, path: Path | None = None) -> SyncConfig:
    where = str(path) if path else "nodes file"
    if not isinstance(raw, dict) or "hub" not in raw or "nodes" not in raw:
        raise SyncConfigError(f"{where}: needs 'hub' (the district code) and 'nodes' (a list)")
    hub = str(raw["hub"])
    if len(hub) != 6 or not hub.isdigit():
        raise SyncConfigError(f"{where}: hub '{hub}' is not a 6-digit district code")
    tables = tuple(raw.get("tables") or GOLD_BY_NAME)
    unknown = sorted(set(tables) - set(GOLD_BY_NAME))
    if unknown:
        raise SyncConfigError(f"{where}: unknown tables {unknown}; curated tables: {', '.join(GOLD_BY_NAME)}")
    masking = {str(level): {str(k): str(v) for k, v in (rules or {}).items()} for level, rules in (raw.get("masking") or {}).items()}
    options = {str(k): str(v) for k, v in (raw.get("storage_options") or {}).items()}
    base = path.parent if path else Path(".")
    nodes, seen = [], set()
    for i, entry in enumerate(raw["nodes"] or [], start=1):
        if not isinstance(entry, dict) or not {"code", "uri"} <= set(entry):
            raise SyncConfigError(f"{where}: node #{i} needs at least 'code' and 'uri'")
        code = str(entry["code"])
        level = str(entry.get("level") or LEVEL_OF_LENGTH.get(len(code), ""))
        if LEVEL_OF_LENGTH.get(len(code)) != level:
            raise SyncConfigError(f"{where}: node {code}: level '{level}' does not fit a {len(code)}-digit code (2 province, 4 city, 6 district, 9 street, 12 community)")
        if not (hub.startswith(code) or code.startswith(hub)):
            raise SyncConfigError(f"{where}: node {code} is neither above nor inside the hub district {hub}")
        if code in seen:
            raise SyncConfigError(f"{where}: node {code} is listed twice")
        seen.add(code)
        uri = str(entry["uri"])
        if "://" not in uri and not Path(uri).is_absolute():
            uri = str((base / uri).absolute())
        nodes.append(Node(code, level, str(entry.get("name") or ""), uri, {**options, **{str(k): str(v) for k, v in (entry.get("storage_options") or {}).items()}}))
    config = SyncConfig(hub, tuple(nodes), tables, masking, where)
    for level in LEVELS:  # unknown rule names fail here, not in the middle of a sync
        try:
            config.policy(level)
        except ValueError as err:
            raise SyncConfigError(f"{where}: {err}") from None
    for name in tables:  # a key column masked would make every node's MERGE miss
        spec = GOLD_BY_NAME[name]
        for level in LEVELS:
            masked = sorted(rules_for(list(spec.keys), config.policy(level)))
            if masked:
                raise SyncConfigError(f"{where}: the {level} masking policy masks key columns {masked} of table {name}")
    return config


def hub_of(wh: Warehouse) -> str:
    """The district the warehouse's address base covers: the hub, when the nodes file does not say."""
    base = wh.scan(ADDRESS_LAYER, *BASE_ADDRESSES)
    districts = [] if base is None else base.select(pl.col("division_code").str.slice(0, 6).unique().drop_nulls()).collect().to_series().to_list()
    if len(districts) != 1:
        found = f"districts {', '.join(sorted(districts))}" if districts else "no address base"
        raise SyncConfigError(f"{wh.root}: {found}; name the hub district with --hub")
    return districts[0]


def default_nodes(hub: str, divisions: pl.DataFrame, root: str) -> dict:
    """A nodes file for ``hub``: its province, city, itself, every street and community under it.

    ``divisions``: code, name, level (1–5) rows; ``root``: a folder or URI under which each node
    gets ``<level>_<code>``."""
    above = [hub[:2], hub[:4]]
    rows = divisions.filter(pl.col("code").is_in(above) | pl.col("code").str.starts_with(hub)).sort("level", "code")
    if hub not in rows["code"].to_list():
        raise SyncConfigError(f"{hub} is not a district in the division table")
    sep = "/" if "://" in root else os.sep
    nodes = [
        {"code": code, "level": LEVEL_OF_LENGTH[len(code)], "name": name, "uri": f"{root.rstrip('/')}{sep}{LEVEL_OF_LENGTH[len(code)]}_{code}"}
        for code, name in rows.select("code", "name").iter_rows()
        if len(code) in LEVEL_OF_LENGTH
    ]
    return {"hub": hub, "nodes": nodes}


# ------------------------------------------------------------------------------- rows
def place_expr(columns: list[str], hub: str) -> pl.Expr:
    """The deepest division a row names (the hub district when it names none)."""
    return shared_place_expr(columns, fallback=hub, levels=3)


def node_rows(frame: pl.DataFrame, node: Node, hub: str, policy: dict[str, str]) -> pl.DataFrame:
    """What ``node`` holds of ``frame``: the hub's rows inside the node's prefix, masked, with ``hub_code``."""
    place = place_expr(frame.columns, hub)
    inside = frame.filter(place.str.starts_with(hub) & place.str.starts_with(node.code))
    return mask_frame(inside, policy).with_columns(pl.lit(hub).alias(HUB_COLUMN))


def node_keys(spec: TableSpec) -> list[str]:
    return [*spec.keys, HUB_COLUMN]


def before_after(changes: pl.DataFrame, keys: tuple[str, ...]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each changed key's row before the first change and after the last one (a CDF slice in, two
    frames of the table's columns out; a key inserted, or deleted, in the slice has no row on that side)."""
    meta = ["_change_type", "_commit_version", "_commit_timestamp"]
    ordered = changes.with_columns(
        (pl.col("_commit_version").cast(pl.Int64) * 4 + pl.col("_change_type").replace_strict(_CHANGE_ORDER, return_dtype=pl.Int64)).alias("_order")
    ).sort("_order")
    columns = [c for c in changes.columns if c not in meta]
    first = ordered.unique(list(keys), keep="first", maintain_order=True)
    last = ordered.unique(list(keys), keep="last", maintain_order=True)
    before = first.filter(pl.col("_change_type").is_in(["update_preimage", "delete"])).select(columns)
    after = last.filter(pl.col("_change_type").is_in(["insert", "update_postimage"])).select(columns)
    return before, after


# ------------------------------------------------------------------------------- log
SHIPMENT_SCHEMA = {
    "run_id": pl.String, "node": pl.String, "level": pl.String, "table": pl.String, "direction": pl.String,
    "from_version": pl.Int64, "to_version": pl.Int64, "mode": pl.String, "upserted": pl.Int64, "deleted": pl.Int64,
    "rows": pl.Int64, "bytes": pl.Int64, "seconds": pl.Float64, "at": pl.Datetime("us", "UTC"),
}


def shipped(wh: Warehouse) -> pl.DataFrame:
    """Every shipment the hub logged (empty with the schema when none)."""
    log = wh.read(*SHIPMENTS)
    return log if log.height else pl.DataFrame(schema=SHIPMENT_SCHEMA)


def logged_watermarks(wh: Warehouse) -> dict[tuple[str, str], int]:
    """(node, table) → the last hub version shipped there, from the hub's log."""
    log = shipped(wh)
    if log.height == 0:
        return {}
    last = log.group_by("node", "table").agg(pl.col("to_version").max())
    return {(n, t): v for n, t, v in last.iter_rows()}


def app_id(hub: str, table: str) -> str:
    return f"enteronce.sync.{hub}.{table}"


# ------------------------------------------------------------------------------- sync
@dataclass
class Shipment:
    node: Node
    table: str
    from_version: int | None
    to_version: int
    mode: str  # "incremental" (the change feed since the watermark) or "full" (a copy of the snapshot)
    counts: ChangeCounts
    rows: int
    bytes: int
    seconds: float


def _open(node: Node, table: str) -> DeltaTable | None:
    """The node's copy of ``table``, opened once for its watermark and its MERGE (``None``: absent)."""
    try:
        return DeltaTable(node.warehouse().uri(*NODE_TABLE, table), storage_options=dict(node.storage_options) or None)
    except TableNotFoundError:
        return None


def _watermark(target: DeltaTable | None, hub: str, table: str, logged: int | None) -> int | None:
    """The hub version the node table holds: its app transaction (the truth, written in the same
    commit as the rows) or the log's, whichever is later; ``None`` when the node has no such table."""
    if target is None:
        return None
    known = [v for v in (target.transaction_version(app_id(hub, table)), logged) if v is not None]
    return max(known) if known else None


def _full_copy(node: Node, spec: TableSpec, hub: str, rows: pl.DataFrame, version: int, exists: bool) -> None:
    nwh = node.warehouse()
    if exists:  # replace only this hub's rows; other districts' stay as they are
        nwh.write(rows, *NODE_TABLE, spec.name, mode="overwrite", predicate=f"{HUB_COLUMN} = '{hub}'",
                  app_id=app_id(hub, spec.name), app_version=version, schema_mode="merge")  # a column gold gained is added
    else:
        nwh.write(rows, *NODE_TABLE, spec.name, mode="append", app_id=app_id(hub, spec.name), app_version=version)


def workers() -> int:
    """Nodes written at once (``ENTERONCE_SYNC_WORKERS``, default 4): delta-rs and polars work
    outside the GIL, and a small node's MERGE is mostly fixed cost, so threads overlap well."""
    return max(1, int(os.environ.get(ENV_WORKERS) or 4))


def sync_table(
    wh: Warehouse, config: SyncConfig, spec: TableSpec, nodes: list[Node], *, full: bool = False,
    logged: dict[tuple[str, str], int] | None = None, progress: Callable[[str], None] | None = None,
) -> list[Shipment]:
    """Bring ``nodes``' copies of one table up to the hub's current version."""
    if not wh.exists("gold", "curated", spec.name):
        return []
    hub_uri = wh.uri("gold", "curated", spec.name)
    options = wh.storage_options or None
    version = wh.table("gold", "curated", spec.name).version()
    logged = logged if logged is not None else logged_watermarks(wh)
    by_mark: dict[int | None, list[tuple[Node, DeltaTable | None]]] = {}
    for node in nodes:
        in_log = logged.get((node.code, spec.name))
        if not full and in_log is not None and in_log >= version:
            continue  # the log says it is up to date: the node is not even opened (`--full` repairs a node changed by hand)
        target = _open(node, spec.name)
        mark = None if full else _watermark(target, config.hub, spec.name, in_log)
        if mark is not None and mark >= version:
            continue  # its last commit landed, only the log missed it
        by_mark.setdefault(mark, []).append((node, target))
    out: list[Shipment] = []
    keys = node_keys(spec)
    for mark, group in sorted(by_mark.items(), key=lambda kv: -1 if kv[0] is None else kv[0]):
        before = after = snapshot = None
        if mark is not None:
            try:
                before, after = before_after(wh.changes("gold", "curated", spec.name, since=mark + 1, until=version), spec.keys)
            except Exception as err:  # noqa: BLE001 (the feed is gone, e.g. vacuumed: a full copy repairs it)
                if progress:
                    progress(f"{spec.name}: change feed {mark + 1}..{version} unreadable ({str(err).splitlines()[0]}); copying in full")
                mark = None
        if mark is None:
            snapshot = pl.read_delta(hub_uri, version=version, storage_options=options)

        def ship(item: tuple[Node, DeltaTable | None]) -> Shipment:
            node, target = item
            started = time.perf_counter()
            policy = config.policy(node.level)
            if snapshot is not None:
                rows = node_rows(snapshot, node, config.hub, policy)
                _full_copy(node, spec, config.hub, rows, version, exists=target is not None)
                counts, shipped_rows, mode = ChangeCounts(rows.height, 0, 0), rows, "full"
            else:
                assert before is not None and after is not None and target is not None
                shipped_rows, counts = diff_by_key(node_rows(before, node, config.hub, policy), node_rows(after, node, config.hub, policy), keys)
                if shipped_rows.height:  # nothing in the node's scope changed: no commit at the node
                    merge_changes(target.table_uri, shipped_rows, keys, storage_options=dict(node.storage_options) or None,
                                  app_id=app_id(config.hub, spec.name), app_version=version, table=target)
                mode = "incremental"
            size = shipped_rows.height
            nbytes = int(shipped_rows.drop(OP, strict=False).estimated_size()) if size else 0
            return Shipment(node, spec.name, mark, version, mode, counts, size, nbytes, time.perf_counter() - started)

        if snapshot is not None:
            # a copy of the whole district (district, city, province) is as large as the table:
            # those go one at a time, so memory stays near the snapshot plus one copy
            whole = [item for item in group if config.hub.startswith(item[0].code)]
            out += [ship(item) for item in whole]
            group = [item for item in group if not config.hub.startswith(item[0].code)]
        with ThreadPoolExecutor(max_workers=workers()) as pool:
            out += list(pool.map(ship, group))
    if progress and out:
        moved = sum(s.rows for s in out)
        progress(f"{spec.name} v{version}: {len(out)} node(s), {moved:,} row(s) shipped")
    return out


def _log(wh: Warehouse, run_id: str, hub: str, shipments: list[Shipment]) -> None:
    if not shipments:
        return
    at = datetime.now(timezone.utc)
    rows = [
        {"run_id": run_id, "node": s.node.code, "level": s.node.level, "table": s.table, "direction": s.node.direction(hub),
         "from_version": s.from_version, "to_version": s.to_version, "mode": s.mode, "upserted": s.counts.inserted + s.counts.updated,
         "deleted": s.counts.deleted, "rows": s.rows, "bytes": s.bytes, "seconds": round(s.seconds, 4), "at": at}
        for s in shipments
    ]
    wh.write(pl.DataFrame(rows, schema=SHIPMENT_SCHEMA), *SHIPMENTS, mode="append")


def run_sync(
    wh: Warehouse, config: SyncConfig, *, direction: str | None = None, codes: list[str] | tuple[str, ...] = (),
    tables: list[str] | tuple[str, ...] = (), full: bool = False, run_id: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Shipment]:
    """Sync the chosen nodes (a direction, or codes; default all) and tables (default the file's).

    One sync at a time per hub (a writer lock); each table's shipments are logged on the hub
    right after its node commits."""
    run_id = run_id or uuid.uuid4().hex[:12]
    nodes = config.select(direction, codes)
    names = list(tables) or list(config.tables)
    unknown = sorted(set(names) - set(GOLD_BY_NAME))
    if unknown:
        raise SyncConfigError(f"unknown tables {unknown}; curated tables: {', '.join(GOLD_BY_NAME)}")
    everything: list[Shipment] = []
    with wh.writer_lock("sync"):
        logged = logged_watermarks(wh)
        for name in names:
            shipments = sync_table(wh, config, GOLD_BY_NAME[name], nodes, full=full, logged=logged, progress=progress)
            _log(wh, run_id, config.hub, shipments)
            everything += shipments
    return everything


def sync_status(wh: Warehouse, config: SyncConfig, now: datetime | None = None, tables: list[str] | tuple[str, ...] = ()) -> pl.DataFrame:
    """Per node: the watermark (the oldest hub version it holds among ``tables``, default the
    file's; -1: never synced), how many tables are current, lag in versions (summed over tables)
    and time (the age of the oldest hub commit it has not received), rows shipped in its last run."""
    now = now or datetime.now(timezone.utc)
    logged = logged_watermarks(wh)
    log = shipped(wh)
    versions: dict[str, int] = {}
    commit_times: dict[str, dict[int, datetime]] = {}
    for name in tables or config.tables:
        if wh.exists("gold", "curated", name):
            table = wh.table("gold", "curated", name)
            versions[name] = table.version()
            commit_times[name] = {h["version"]: datetime.fromtimestamp(h["timestamp"] / 1000, timezone.utc) for h in table.history() if "timestamp" in h}
    runs = log.group_by("node", "run_id").agg(pl.col("at").max(), pl.col("rows").sum())  # one summary per node's latest run
    latest = runs.sort("at").group_by("node").agg(pl.all().last())
    last_runs = {row["node"]: row for row in latest.iter_rows(named=True)}
    rows = []
    for node in config.nodes:
        lag_versions, oldest, current = 0, None, 0
        marks = []
        for name, version in versions.items():
            mark = logged.get((node.code, name))
            marks.append(mark if mark is not None else -1)
            behind = version - (mark if mark is not None else -1)
            current += behind <= 0
            if behind > 0:
                lag_versions += behind
                first = commit_times[name].get((mark if mark is not None else -1) + 1)
                if first is not None and (oldest is None or first < oldest):
                    oldest = first
        last = last_runs.get(node.code, {})
        rows.append({
            "node": node.code, "level": node.level, "name": node.name, "direction": node.direction(config.hub),
            "watermark": min(marks) if marks else -1, "tables_current": current, "tables": len(versions), "lag_versions": lag_versions,
            "lag_seconds": round((now - oldest).total_seconds(), 1) if oldest else 0.0,
            "last_run": last.get("run_id"), "last_run_at": last.get("at"), "rows_last_run": last.get("rows", 0),
        })
    return pl.DataFrame(rows, schema={
        "node": pl.String, "level": pl.String, "name": pl.String, "direction": pl.String, "watermark": pl.Int64,
        "tables_current": pl.Int64, "tables": pl.Int64, "lag_versions": pl.Int64, "lag_seconds": pl.Float64, "last_run": pl.String, "last_run_at": pl.Datetime("us", "UTC"),
        "rows_last_run": pl.Int64,
    })


def expected_rows(wh: Warehouse, config: SyncConfig, node: Node, table: str) -> pl.DataFrame:
    """What ``node`` must hold of ``table`` now: mask(level, filter(prefix, hub table))."""
    frame = wh.read("gold", "curated", table)
    return node_rows(frame, node, config.hub, config.policy(node.level)) if frame.height else frame


__all__ = [
    "ENV_NODES", "HUB_COLUMN", "LEVEL_LABELS", "LEVEL_OF_LENGTH", "Node", "SHIPMENTS", "Shipment", "SyncConfig", "SyncConfigError",
    "before_after", "default_nodes", "expected_rows", "load_config", "logged_watermarks", "node_rows", "parse_config",
    "hub_of", "place_expr", "run_sync", "shipped", "sync_status", "sync_table",
]
