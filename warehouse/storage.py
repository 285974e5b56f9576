"""Delta Lake storage for every layer: one table per ``layer/system/table`` path under one root.

The root is a local folder by default (embedded, zero set-up) or any object-store URI that
delta-rs understands (``s3://bucket/prefix``, ``az://…``, ``gs://…``) with its storage options.
We call ``deltalake`` directly rather than an IO manager because the pipelines need predicate
overwrites (idempotent per-batch replacement) and, later, MERGE and change data feed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake

DEFAULT_ROOT = "data/warehouse"
ENV_ROOT = "ENTERONCE_WAREHOUSE"
ENV_STORAGE_OPTIONS = "ENTERONCE_STORAGE_OPTIONS"
ENV_SHARED = "ENTERONCE_LAKE_SHARED"  # "1": keep the process umask (a lake readable by a group, by choice)
PRIVATE_UMASK = 0o077  # files 0600, folders 0700: the lake holds raw personal data (quarantine, bronze)
_MADE_PRIVATE: set[Path] = set()  # roots this process has already made owner-only


def _is_uri(root: str) -> bool:
    return "://" in root


@dataclass(frozen=True)
class Warehouse:
    """Where the lakehouse lives: ``root`` (path or URI) plus delta-rs ``storage_options``."""

    root: str = DEFAULT_ROOT
    storage_options: dict[str, str] = field(default_factory=dict)
    # a local lake is owner-only (see :meth:`_make_private`) unless ENTERONCE_LAKE_SHARED=1
    private: bool = field(default_factory=lambda: os.environ.get(ENV_SHARED, "") != "1")

    @classmethod
    def from_env(cls) -> "Warehouse":
        """Build from ``ENTERONCE_WAREHOUSE`` / ``ENTERONCE_STORAGE_OPTIONS`` (JSON), else defaults."""
        options = os.environ.get(ENV_STORAGE_OPTIONS)
        return cls(
            root=os.environ.get(ENV_ROOT) or DEFAULT_ROOT,
            storage_options=json.loads(options) if options else {},
        )

    def _make_private(self) -> None:
        """Owner-only lake: the root folder 0700 (nobody else can enter it, whatever lies below)
        and this process's umask 077, so every folder and file delta-rs creates is 0700/0600.
        Object stores have their own access policies; nothing to do there."""
        if not self.private or _is_uri(self.root):
            return
        root = Path(self.root).absolute()
        if root in _MADE_PRIVATE:  # once per root and process, not on every write
            return
        root.mkdir(parents=True, exist_ok=True)
        if root.stat().st_mode & 0o077:
            root.chmod(0o700)
        os.umask(PRIVATE_UMASK)
        _MADE_PRIVATE.add(root)

    def uri(self, layer: str, system: str, table: str) -> str:
        """Storage location of ``layer/system/table``; the asset key names the same path."""
        if _is_uri(self.root):
            return f"{self.root.rstrip('/')}/{layer}/{system}/{table}"
        return str(Path(self.root).absolute() / layer / system / table)

    def _options(self) -> dict[str, str] | None:
        return dict(self.storage_options) or None

    def exists(self, layer: str, system: str, table: str) -> bool:
        return DeltaTable.is_deltatable(self.uri(layer, system, table), storage_options=self._options())

    def table(self, layer: str, system: str, table: str) -> DeltaTable:
        return DeltaTable(self.uri(layer, system, table), storage_options=self._options())

    def read(
        self, layer: str, system: str, table: str, columns: list[str] | None = None
    ) -> pl.DataFrame:
        """Read a whole table (empty frame when it does not exist yet)."""
        if not self.exists(layer, system, table):
            return pl.DataFrame()
        return pl.read_delta(
            self.uri(layer, system, table), columns=columns, storage_options=self._options()
        )

    def scan(self, layer: str, system: str, table: str) -> pl.LazyFrame | None:
        """Lazy scan for filtered reads; ``None`` when the table does not exist yet."""
        if not self.exists(layer, system, table):
            return None
        return pl.scan_delta(self.uri(layer, system, table), storage_options=self._options())

    def row_count(self, layer: str, system: str, table: str) -> int:
        """Rows in a table (0 when it does not exist yet), from the log's per-file record counts;
        a scan only where a file was written without statistics."""
        return self.value_count(layer, system, table, None)

    def value_count(self, layer: str, system: str, table: str, column: str | None) -> int:
        """Non-null values of ``column`` (rows when ``None``), from the log's per-file record and
        null counts (0 when the table does not exist yet); a scan only where a file was written
        without them."""
        if not self.exists(layer, system, table):
            return 0
        files = self.table(layer, system, table).get_add_actions(flatten=True)
        records = files.column("num_records").to_pylist()
        stat = f"null_count.{column}"
        nulls = [0] if column is None else files.column(stat).to_pylist() if stat in files.column_names else [None]
        if None in records or None in nulls:
            counted = pl.len() if column is None else pl.col(column).count()
            return int(pl.scan_delta(self.uri(layer, system, table), storage_options=self._options()).select(counted).collect().item())
        return int(sum(records) - sum(nulls))

    def write(
        self,
        df: pl.DataFrame | pa.Table,
        layer: str,
        system: str,
        table: str,
        *,
        mode: str = "append",
        predicate: str | None = None,
        app_id: str | None = None,
        app_version: int | None = None,
        description: str | None = None,
        schema_mode: str | None = None,
    ) -> int:
        """Write rows; ``predicate`` with mode="overwrite" replaces only the matching rows.

        New columns merge into the schema (an unknown extra source column must not break a
        batch). ``app_id``/``app_version`` record a Delta app transaction so that a retried
        writer can ask :meth:`app_version` whether its write already landed.
        Returns the new table version.
        """
        data = _arrow_stream(df) if isinstance(df, pl.DataFrame) else _drop_null_typed_columns(df)
        commit = None
        if app_id is not None and app_version is not None:
            commit = CommitProperties(app_transactions=[Transaction(app_id=app_id, version=app_version)])
        uri = self.uri(layer, system, table)
        if not _is_uri(self.root):
            self._make_private()
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        write_deltalake(
            uri,
            data,
            mode=mode,  # type: ignore[arg-type]
            predicate=predicate,
            schema_mode=schema_mode or ("merge" if predicate is None else None),  # type: ignore[arg-type]
            storage_options=self._options(),
            commit_properties=commit,
            description=description,
            configuration={"delta.enableChangeDataFeed": "true"},
        )
        _fault_point()
        return self.table(layer, system, table).version()

    @contextlib.contextmanager
    def writer_lock(self, name: str) -> Iterator[None]:
        """One writer at a time for ``name`` (e.g. a system's bronze and silver) across processes.

        A local warehouse takes an exclusive ``flock`` on ``<root>/_locks/<name>.lock`` (released
        by the OS when a writer dies, so a killed run never wedges the next one). Object storage
        has no such lock: there the Dagster concurrency pool of the same name (dagster.yaml)
        keeps runs apart."""
        if _is_uri(self.root):
            yield
            return
        folder = Path(self.root) / "_locks"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{name}.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def changes(self, layer: str, system: str, table: str, since: int, until: int | None = None) -> pl.DataFrame:
        """The change data feed from version ``since`` (inclusive): every row with ``_change_type``
        (insert, update_preimage, update_postimage, delete), ``_commit_version``, ``_commit_timestamp``."""
        reader = self.table(layer, system, table).load_cdf(starting_version=since, ending_version=until)
        return pl.from_arrow(pa.table(reader.read_all()))  # type: ignore[return-value]

    def app_version(self, layer: str, system: str, table: str, app_id: str) -> int | None:
        """Last version recorded by ``app_id`` on this table (``None`` if never)."""
        if not self.exists(layer, system, table):
            return None
        txn = self.table(layer, system, table).transaction_version(app_id)
        return txn


def sql_in(column: str, values: list[str]) -> str:
    """A Delta predicate ``column IN ('a', 'b')`` with the values quoted as SQL strings."""
    return f"{column} IN (" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


_commits = 0


def _fault_point() -> None:
    """Fault injection for the crash tests (tests/faults): with ENTERONCE_KILL_AFTER_COMMITS=k
    the process dies (exit 137, no cleanup, as under SIGKILL) right after its k-th commit."""
    global _commits
    limit = os.environ.get("ENTERONCE_KILL_AFTER_COMMITS")
    if limit:
        _commits += 1
        if _commits >= int(limit):
            os._exit(137)


STREAM_ROWS = 1_000_000  # larger frames reach the writer a slice at a time


def _arrow_stream(df: pl.DataFrame) -> pa.Table | pa.RecordBatchReader:
    """``df`` as Arrow for the Delta writer; a large frame as a stream of slices, so that only one
    slice is converted at a time (a whole 12 M-row frame converted at once doubles a step's memory)."""
    if df.height <= STREAM_ROWS:
        return _drop_null_typed_columns(df.to_arrow())
    schema = _drop_null_typed_columns(df.head(0).to_arrow()).schema
    slices = (batch for part in df.iter_slices(STREAM_ROWS) for batch in _drop_null_typed_columns(part.to_arrow()).cast(schema).to_batches())
    return pa.RecordBatchReader.from_batches(schema, slices)


def _drop_null_typed_columns(data: pa.Table) -> pa.Table:
    """Cast all-null (``null``-typed) columns to string: Delta has no null type."""
    for i, fld in enumerate(data.schema):
        if pa.types.is_null(fld.type):
            data = data.set_column(i, pa.field(fld.name, pa.string()), data.column(i).cast(pa.string()))
    return data
