"""The API's reads: one in-memory snapshot per curated table, scoped by division and masked per token.

Why polars snapshots and not a query engine per request: every request is scoped to a
division, and a snapshot sorted by each row's place (its deepest division code) and key turns
"the rows of community X" into two binary searches — a community's page costs microseconds
whatever the size of the district, and a building lookup is a search in a sorted index. A
snapshot is re-read when the Delta table's version moves (checked at most every
``refresh_seconds``). Filters are polars expressions built from typed values (``pl.lit``), never
from text, so a filter value cannot become an expression.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import polars as pl
from deltalake import DeltaTable

from pipelines.reference import CODE_LENGTHS, division_names
from warehouse.masking import mask_frame, rules_for
from warehouse.registry import GOLD_BY_NAME, TableSpec, place_expr
from warehouse.storage import Warehouse

PLACE, ORDER = "_place", "_order"
SEPARATOR = "\x1f"  # below every digit: a division's rows sort before its children's
HIGHEST = "\U0010ffff"
CHILD_LENGTH = {CODE_LENGTHS[n]: CODE_LENGTHS[n + 1] for n in CODE_LENGTHS if n + 1 in CODE_LENGTHS}
LEVEL_BY_LENGTH = {length: n for n, length in CODE_LENGTHS.items()}
OWN_ROWS = "（本级直属，未落到下级）"
_CHANGE_ORDER = {"update_preimage": 0, "delete": 1, "insert": 2, "update_postimage": 3}


class QueryError(ValueError):
    """A request the API refuses (400): the message names the parameter."""


class Forbidden(QueryError):
    """The token may not do this (403): e.g. filter or sort by a column masked for it."""


class NotVisible(LookupError):
    """Nothing there for this token (404): unknown and out of scope look the same."""


class ChangesGone(LookupError):
    """The change feed asked for was vacuumed (410)."""


def order_expr(keys: tuple[str, ...]) -> pl.Expr:
    return pl.concat_str([pl.col(PLACE), *[pl.col(k).cast(pl.String).fill_null("") for k in keys]], separator=SEPARATOR)


def _iso_times(frame: pl.DataFrame) -> pl.DataFrame:
    """Naive timestamps as ISO 8601 text (what the JSON schema promises)."""
    times = [c for c, t in frame.schema.items() if isinstance(t, pl.Datetime) and t.time_zone is None]
    return frame.with_columns(pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%S%.f") for c in times) if times else frame


@dataclass
class Snapshot:
    """One version of a curated table, sorted by (place, key): the row range of every division,
    lookup indexes and one masked view per masking policy, each built once and then shared."""

    spec: TableSpec
    version: int
    frame: pl.DataFrame
    indexes: dict[str, tuple[list[str], pl.Series]] = field(default_factory=dict)
    views: dict[tuple, pl.DataFrame] = field(default_factory=dict)
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)
    aggregates: dict[str, dict] = field(default_factory=dict)
    _counts: pl.DataFrame | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        # the frame is sorted by place, so every division's rows are one contiguous range
        bounds = self.frame.select(pl.col(PLACE), pl.int_range(pl.len(), dtype=pl.Int64).alias("i")).group_by(PLACE).agg(
            pl.col("i").min().alias("lo"), (pl.col("i").max() + 1).alias("hi"))
        for length in sorted(set(CODE_LENGTHS.values())):
            prefixed = bounds.filter(pl.col(PLACE).str.len_chars() >= length).group_by(pl.col(PLACE).str.slice(0, length)).agg(
                pl.col("lo").min(), pl.col("hi").max())
            self.ranges.update({code: (lo, hi) for code, lo, hi in prefixed.iter_rows()})

    @property
    def columns(self) -> list[str]:
        return [c for c in self.frame.columns if c not in (PLACE, ORDER)]

    @property
    def flags(self) -> list[str]:
        return [c for c in self.columns if self.frame.schema[c] == pl.Boolean]

    def view(self, policy: dict[str, str]) -> pl.DataFrame:
        """The frame as ``policy`` shows it (masked once per policy; unmasked columns are shared, not copied)."""
        key = tuple(sorted(policy.items()))
        view = self.views.get(key)
        if view is None:
            with self._lock:
                view = self.views.get(key)
                if view is None:
                    view = self.views[key] = _iso_times(mask_frame(self.frame.drop(PLACE, ORDER), policy))
        return view

    def scope(self, code: str, policy: dict[str, str]) -> pl.DataFrame:
        """The rows inside division ``code``, masked for ``policy``."""
        lo, hi = self.ranges.get(code, (0, 0))
        return self.view(policy).slice(lo, hi - lo)

    def index(self, column: str) -> tuple[list[str], pl.Series]:
        """``column``'s values sorted (a Python list: ``bisect`` finds a value in microseconds, where a
        polars search costs a tenth of a millisecond) and their row numbers (built once per snapshot and column)."""
        if column in self.indexes:
            return self.indexes[column]
        with self._lock:
            if column not in self.indexes:
                pairs = (self.frame.select(pl.col(column).cast(pl.String).alias("v"), pl.int_range(pl.len(), dtype=pl.UInt32).alias("i"))
                         .drop_nulls("v").sort("v"))  # UTF-8 byte order = code point order: polars and bisect agree
                self.indexes[column] = (pairs["v"].to_list(), pairs["i"])
            return self.indexes[column]

    def lookup(self, column: str, value: str, scope: str, policy: dict[str, str]) -> pl.DataFrame:
        """Rows whose ``column`` equals ``value``, inside ``scope``, masked for ``policy``, in (place, key) order."""
        values, numbers = self.index(column)
        lo, hi = bisect.bisect_left(values, value), bisect.bisect_right(values, value)
        first, last = self.ranges.get(scope, (0, 0))
        rows = numbers.slice(lo, hi - lo)
        rows = rows.filter((rows >= first) & (rows < last)).sort()  # inside the scope: inside its row range
        return self.view(policy)[rows]

    def counts(self) -> pl.DataFrame:
        """Rows and each flag's count per place (what the aggregates roll up)."""
        with self._lock:
            if self._counts is None:
                self._counts = self.frame.group_by(PLACE).agg(pl.len().alias("rows"), *[pl.col(f).sum().alias(f) for f in self.flags])
            return self._counts


class Watched:
    """A Delta table whose latest version is asked for often: the log is read incrementally
    (only commits since the last look), not from the start on every check."""

    def __init__(self, wh: Warehouse, path: tuple[str, str, str]):
        self.wh, self.path = wh, path
        self.table: DeltaTable | None = None

    def version(self) -> int | None:
        """The latest version, or None while the table does not exist."""
        if self.table is None:
            if not self.wh.exists(*self.path):
                return None
            self.table = self.wh.table(*self.path)
        else:
            self.table.update_incremental()
        return self.table.version()


class Store:
    """Snapshots of the curated tables of one warehouse, refreshed when their version moves."""

    def __init__(self, wh: Warehouse, refresh_seconds: float = 5.0, layer: tuple[str, str] = ("gold", "curated")):
        self.wh = wh
        self.layer = layer
        self.refresh_seconds = refresh_seconds
        self._snapshots: dict[str, Snapshot] = {}
        self._watched = {name: Watched(wh, (*layer, name)) for name in GOLD_BY_NAME}
        self._checked: dict[str, float] = {}
        self._locks = {name: threading.Lock() for name in GOLD_BY_NAME}
        self._changes: OrderedDict[tuple, pl.DataFrame] = OrderedDict()
        self._changes_lock = threading.Lock()
        self._names = division_names()

    def tables(self) -> list[str]:
        return [name for name in GOLD_BY_NAME if self.wh.exists(*self.layer, name)]

    def version(self, table: str) -> int:
        """The table's latest version (its log read incrementally, not reopened)."""
        if table not in self._watched:
            raise NotVisible(table)
        with self._locks[table]:
            version = self._watched[table].version()
        if version is None:
            raise NotVisible(table)
        return version

    def snapshot(self, table: str) -> Snapshot:
        if table not in GOLD_BY_NAME:
            raise NotVisible(table)
        current = self._snapshots.get(table)
        if current is not None and time.monotonic() - self._checked.get(table, 0) < self.refresh_seconds:
            return current
        with self._locks[table]:
            current = self._snapshots.get(table)
            if current is not None and time.monotonic() - self._checked.get(table, 0) < self.refresh_seconds:
                return current
            watched = self._watched[table]
            version = watched.version()
            if version is None:
                raise NotVisible(table)
            if current is None or current.version != version:
                frame = pl.read_delta(watched.table)  # this very version: a write in between cannot mix two
                current = Snapshot(GOLD_BY_NAME[table], version, self.prepare(frame, GOLD_BY_NAME[table]))
                self._snapshots[table] = current
            self._checked[table] = time.monotonic()
            return current

    def warm(self, tables: list[str] | tuple[str, ...], policy: dict[str, str]) -> bool:
        """Whether answering from ``tables`` for ``policy`` needs no loading (no version check due,
        the policy's view built): then a request is answered on the event loop, without a thread hop."""
        now, key = time.monotonic(), tuple(sorted(policy.items()))
        for table in tables:
            snap = self._snapshots.get(table)
            if snap is None or now - self._checked.get(table, 0) >= self.refresh_seconds or key not in snap.views:
                return False
        return True

    @staticmethod
    def prepare(frame: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
        # a row naming no division gets '' as its place: then no token sees it
        return (frame.with_columns(place_expr(frame.columns, fallback="").alias(PLACE))
                .with_columns(order_expr(spec.keys).alias(ORDER)).sort(ORDER))

    def name_of(self, code: str) -> str:
        return self._names.get(code, "")

    # ------------------------------------------------------------------ change feed
    def changes(self, table: str, since: int, until: int) -> pl.DataFrame:
        """The change feed of versions ``since`` < v ≤ ``until`` with place and order (cached: it never changes)."""
        key = (table, since, until)
        with self._changes_lock:
            if key in self._changes:
                self._changes.move_to_end(key)
                return self._changes[key]
        spec = GOLD_BY_NAME[table]
        try:
            raw = self.wh.changes(*self.layer, table, since + 1, until)
        except Exception as exc:  # noqa: BLE001 - delta-rs reports a vacuumed change file as a bare Exception
            raise ChangesGone(f"change feed of {table} after version {since} is no longer kept ({exc}); read the table again") from exc
        frame = self.prepare(raw, spec) if raw.height else raw.with_columns(pl.lit("").alias(PLACE), pl.lit("").alias(ORDER))
        frame = frame.sort("_commit_version", ORDER, pl.col("_change_type").replace_strict(_CHANGE_ORDER, default=9))
        with self._changes_lock:
            self._changes[key] = frame
            while len(self._changes) > 16:
                self._changes.popitem(last=False)
        return frame


# ---------------------------------------------------------------------- queries
def masked_columns(columns: list[str], policy: dict[str, str]) -> set[str]:
    return set(rules_for(columns, policy))


def check_usable(column: str, snap: Snapshot, policy: dict[str, str], what: str) -> None:
    if column not in snap.columns:
        raise QueryError(f"{what}: unknown column '{column}' of {snap.spec.name}")
    if column in masked_columns([column], policy):
        raise Forbidden(f"{what}: column '{column}' is masked for this token and cannot be used to {what} (字段对当前令牌脱敏)")
    if isinstance(snap.frame.schema[column], pl.List):
        raise QueryError(f"{what}: column '{column}' is a list")


def filter_expr(snap: Snapshot, filters: dict[str, object], policy: dict[str, str]) -> pl.Expr | None:
    """Equality on each filtered column, values as typed literals (no text is ever parsed as an expression)."""
    exprs = []
    for column, value in filters.items():
        check_usable(column, snap, policy, "filter")
        typed = pl.Series([value]).cast(snap.frame.schema[column], strict=False)[0]  # a value the column cannot hold matches nothing
        exprs.append(pl.lit(False) if typed is None else pl.col(column) == pl.lit(typed, dtype=snap.frame.schema[column]))
    return pl.all_horizontal(exprs) if exprs else None


def encode_cursor(payload: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload, ensure_ascii=False, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, expect: dict) -> dict:
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise QueryError("cursor: not a cursor this API issued") from exc
    if not isinstance(payload, dict) or any(payload.get(k) != v for k, v in expect.items()) or not isinstance(payload.get("o"), str):
        raise QueryError("cursor: it belongs to another query (table, sort or order differ); start again without it")
    return payload


def _literal(value: object, dtype: pl.DataType) -> pl.Expr:
    if value is None:
        return pl.lit(None, dtype=dtype)
    if dtype == pl.Date:
        return pl.lit(str(value)).str.to_date()
    if isinstance(dtype, pl.Datetime):
        return pl.lit(str(value)).str.to_datetime(time_unit=dtype.time_unit, time_zone=dtype.time_zone)
    return pl.lit(value).cast(dtype)


def list_page(snap: Snapshot, scope: str, policy: dict[str, str], filters: dict[str, object], sort: str | None,
              descending: bool, limit: int, cursor: str | None) -> tuple[pl.DataFrame, str | None]:
    """One page of the rows inside ``scope`` matching ``filters``, masked for ``policy``; the next page's cursor or None."""
    lo, hi = snap.ranges.get(scope, (0, 0))
    condition = filter_expr(snap, filters, policy)
    expect = {"t": snap.spec.name, "s": sort, "d": descending}
    after = decode_cursor(cursor, expect) if cursor else None
    order = snap.frame[ORDER]
    if sort is None:  # (place, key) order: the scope's row range, from the cursor's position on
        if after is not None:
            lo += order.slice(lo, hi - lo).search_sorted(after["o"], side="right")
        rows = snap.view(policy).slice(lo, hi - lo)
        if condition is None:
            page, more, last = rows.head(limit), rows.height > limit, lo + min(limit, rows.height) - 1
        else:
            hits = rows.with_row_index("_i").lazy().filter(condition).head(limit + 1).collect()
            page, more = hits.head(limit).drop("_i"), hits.height > limit
            last = lo + int(hits["_i"][min(limit, hits.height) - 1]) if hits.height else lo
        return page, encode_cursor({**expect, "o": order[last]}) if more else None
    check_usable(sort, snap, policy, "sort")
    rows = snap.view(policy).slice(lo, hi - lo).with_columns(order.slice(lo, hi - lo))
    if condition is not None:
        rows = rows.filter(condition)
    column, dtype = pl.col(sort), snap.frame.schema[sort]
    if after is not None:
        value, beyond_key = _literal(after.get("v"), dtype), pl.col(ORDER) > after["o"]
        if after.get("v") is None:
            rows = rows.filter(column.is_null() & beyond_key)
        else:
            beyond = column < value if descending else column > value
            rows = rows.filter(beyond | column.is_null() | ((column == value) & beyond_key))
    rows = rows.sort([sort, ORDER], descending=[descending, False], nulls_last=True).head(limit + 1)
    page = rows.head(limit)
    next_cursor = None
    if rows.height > limit:
        final = page.row(page.height - 1, named=True)
        next_cursor = encode_cursor({**expect, "o": final[ORDER], "v": final[sort]})
    return page.drop(ORDER), next_cursor


def public(frame: pl.DataFrame, policy: dict[str, str]) -> pl.DataFrame:
    """Rows read outside a snapshot's views (the change feed) as they leave the API: masked, internal columns dropped."""
    return _iso_times(mask_frame(frame.drop([c for c in (PLACE, ORDER) if c in frame.columns]), policy))


def aggregate(store: Store, snap: Snapshot, code: str) -> dict:
    """Counts of rows and of each flag for the children of division ``code`` (层层下钻); kept per snapshot."""
    if code in snap.aggregates:
        return snap.aggregates[code]
    length = len(code)
    if length not in LEVEL_BY_LENGTH or not code.isdigit():
        raise QueryError(f"code: '{code}' is not a division code (lengths {sorted(LEVEL_BY_LENGTH)})")
    child_length = CHILD_LENGTH.get(length, length)
    counts = snap.counts().filter(pl.col(PLACE).str.starts_with(code))
    child = pl.when(pl.col(PLACE).str.len_chars() >= child_length).then(pl.col(PLACE).str.slice(0, child_length)).otherwise(pl.col(PLACE))
    measures = ["rows", *snap.flags]
    children = counts.with_columns(child.alias("code")).group_by("code").agg(pl.col(m).sum() for m in measures).sort("code")
    total = counts.select(pl.col(m).sum() for m in measures).row(0, named=True) if counts.height else dict.fromkeys(measures, 0)
    answer = snap.aggregates[code] = {
        "table": snap.spec.name, "version": snap.version, "code": code, "name": store.name_of(code),
        "level": LEVEL_BY_LENGTH[length], "labels": {m: ("行数" if m == "rows" else snap.spec.label_of(m) or m) for m in measures},
        "total": total,
        "children": [{**row, "name": store.name_of(row["code"]) if row["code"] != code else OWN_ROWS} for row in children.to_dicts()],
    }
    return answer


def change_page(store: Store, table: str, since: int, scope: str, policy: dict[str, str], limit: int,
                cursor: str | None) -> tuple[pl.DataFrame, int, str | None]:
    """Changes after version ``since`` inside ``scope``: a row that left the scope reads as a delete,
    one that entered it as an insert. Returns the page, the version it runs to and the next cursor."""
    current = store.version(table)
    until = current
    offset = 0
    if cursor:
        payload = decode_cursor(cursor, {"t": table, "since": since})
        until, offset = int(payload.get("until", current)), int(payload.get("o") or 0)
    if since < -1 or since > until:
        raise QueryError(f"since: {since} is outside -1..{until} (the table's versions)")
    if since == until:
        return pl.DataFrame(), until, None
    feed = store.changes(table, since, until)
    inside = feed.filter(pl.col(PLACE).str.starts_with(scope))
    pairs = inside.group_by("_commit_version", ORDER).agg(pl.col("_change_type").alias("_types"))
    inside = inside.join(pairs, on=["_commit_version", ORDER], how="left").with_columns(
        pl.when((pl.col("_change_type") == "update_preimage") & ~pl.col("_types").list.contains("update_postimage")).then(pl.lit("delete"))
        .when((pl.col("_change_type") == "update_postimage") & ~pl.col("_types").list.contains("update_preimage")).then(pl.lit("insert"))
        .otherwise(pl.col("_change_type")).alias("_change_type")).drop("_types")
    page = inside.slice(offset, limit)
    next_cursor = encode_cursor({"t": table, "since": since, "until": until, "o": str(offset + limit)}) if inside.height > offset + limit else None
    return page, until, next_cursor




# ---------------------------------------------------------------------- lookups, as data
@dataclass(frozen=True)
class Related:
    name: str  # key in the answer
    table: str
    column: str  # column of ``table`` …
    via: str  # … equal to this column of the looked-up row


@dataclass(frozen=True)
class Lookup:
    table: str
    key: str
    label: str
    related: tuple[Related, ...] = ()


LOOKUPS: dict[str, Lookup] = {
    "person": Lookup("persons", "person_id", "人员", (Related("household", "households", "household_no", "household_no"),)),
    "address": Lookup("addresses", "address_id", "标准地址", (
        Related("residents", "persons", "address_id", "address_id"), Related("households", "households", "address_id", "address_id"),
        Related("businesses", "businesses", "address_id", "address_id"))),
    "building": Lookup("buildings", "building_id", "楼幢", (
        Related("addresses", "addresses", "building_id", "building_id"), Related("residents", "persons", "building_id", "building_id"),
        Related("households", "households", "building_id", "building_id"), Related("businesses", "businesses", "building_id", "building_id"))),
    "household": Lookup("households", "household_key", "家庭户", (Related("members", "persons", "household_no", "household_no"),)),
    "business": Lookup("businesses", "business_id", "市场主体/场所", (Related("inspections", "inspections", "business_id", "business_id"),)),
}


def lookup(store: Store, entity: str, value: str, scope: str, policy: dict[str, str]) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """The row of ``entity`` with key ``value`` and its related rows, all inside ``scope``, masked for ``policy``
    (without internal columns)."""
    spec = LOOKUPS[entity]
    snap = store.snapshot(spec.table)
    rows = snap.lookup(spec.key, value, scope, policy)
    if rows.height == 0:
        raise NotVisible(f"no {entity} '{value}' here")
    row = rows.head(1)
    related = {}
    for rel in spec.related:
        # link columns are identifiers no policy masks (a masked one would simply match nothing)
        via = row[rel.via][0] if rel.via in row.columns else None
        try:
            target = store.snapshot(rel.table)
        except NotVisible:  # that table is not published (yet)
            target = None
        if via is None or target is None or rel.column not in target.columns:
            related[rel.name] = pl.DataFrame()
            continue
        related[rel.name] = target.lookup(rel.column, str(via), scope, policy)
    return row, related


__all__ = ["ChangesGone", "Forbidden", "LOOKUPS", "Lookup", "NotVisible", "ORDER", "PLACE", "QueryError", "Related", "Snapshot", "Store", "aggregate", "change_page", "lookup",
           "list_page", "public"]
