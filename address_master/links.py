"""Address links: every address column of every silver table → address_id / building_id.

Each distinct address text is parsed and matched once (many records share a text); reviewed
decisions (``address/review/decisions``) are applied before matching, so a data officer's
answer is reused for every record with that text from then on. Uncertain texts go to the review
queue with their top candidates.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl

from pipelines.ingest import processed_batches

from address_master.match import match_parsed
from address_master.parse import normalize_address, parse_frame
from address_master.review import decisions_in_force
from address_master.store import BASE_ADDRESSES, LAYER, LINKS, REVIEW_DECISIONS, REVIEW_QUEUE, read_base
from warehouse.tables import ADDRESS_TEXTS, LINK_STATE
from warehouse.catalog import CATALOG
from pipelines.sources.spec import SourceSpec
from pipelines.text import in_slices
from warehouse.storage import Warehouse, sql_in

LINK_COLUMNS = [
    "source_system", "source_table", "source_column", "batch_id", "source_row",
    "address_text", "address_key", "address_id", "building_id", "score", "method", "decision",
]


@dataclass
class LinkReport:
    rows: int
    distinct_texts: int
    decisions: dict[str, int]
    review_texts: int


def address_columns(spec: SourceSpec) -> list[str]:
    """Canonical address fields a system delivers (address, registered_address, …)."""
    return [f for f in spec.canonical_fields() if CATALOG[f].kind == "address"]


def collect_addresses(wh: Warehouse, specs: list[SourceSpec], skip_batches: pl.DataFrame | None = None, lazy: bool = False):
    """Address values of the silver tables, one row per (record, address column); batches in
    ``skip_batches`` (source_system, batch_id) are left out."""
    frames = []
    for spec in specs:
        scan = wh.scan("silver", spec.system, spec.table)
        if scan is None:
            continue
        for column in address_columns(spec):
            frames.append(
                scan.select(
                    pl.lit(spec.system).alias("source_system"),
                    pl.lit(spec.table).alias("source_table"),
                    pl.lit(column).alias("source_column"),
                    "batch_id",
                    "source_row",
                    pl.col(f"{column}_raw").alias("address_text"),
                ).filter(pl.col("address_text").is_not_null())
            )
    if not frames:
        empty = pl.DataFrame(schema={c: pl.String for c in LINK_COLUMNS[:6]})
        return empty.lazy() if lazy else empty
    if skip_batches is not None and skip_batches.height:
        frames = [f.join(skip_batches.lazy(), on=["source_system", "batch_id"], how="anti") for f in frames]
    return pl.concat(frames) if lazy else pl.concat(pl.collect_all(frames))


def count_address_values(wh: Warehouse, specs: list[SourceSpec]) -> int:
    """How many address values the silver tables hold (what the links must cover)."""
    return sum(wh.value_count("silver", spec.system, spec.table, f"{c}_raw") for spec in specs for c in address_columns(spec))


def read_decisions(wh: Warehouse) -> pl.DataFrame:
    """The data officers' decisions in force: address_key, action, address_id (see :mod:`address_master.review`)."""
    return decisions_in_force(wh)


TEXT_RESULT = ["address_key", "address_id", "building_id", "score", "method", "decision"]
CHUNK_ROWS = 3_000_000  # records joined to their text's match and written at a time (bounds memory)
TEXT_CHUNK = 500_000  # distinct texts parsed and matched at a time (bounds memory)
TEXT_WORKERS = 2  # slices of texts in flight at once


def _parse_and_match(todo: pl.DataFrame, base: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    parsed = parse_frame(todo.rename({"address_key": "text"}), "text", base=base).with_columns(todo["_i"])
    return match_parsed(parsed, base)


def match_texts(
    raw_texts: pl.DataFrame, base: pl.DataFrame, decisions: pl.DataFrame, known: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Match distinct raw address texts: (``address_text`` + :data:`TEXT_RESULT`, review candidates).

    Each text is normalised once; each normalised key is decided by a data officer's decision,
    taken from ``known`` (matched before against the same base and decisions), or parsed and
    matched now."""
    keyed = in_slices(raw_texts.select("address_text"), lambda part: part.with_columns(normalize_address(pl.col("address_text")).alias("address_key")))
    texts = keyed.select("address_key").unique().filter(pl.col("address_key").is_not_null()).with_row_index("_i")
    if "action" not in decisions.columns:
        decisions = decisions.with_columns(pl.lit("accept").alias("action"))
    accepted = decisions.filter(pl.col("action") == "accept").select("address_key", "address_id")
    decided = texts.join(accepted, on="address_key", how="inner").join(base.select("address_id", "building_id"), on="address_id", how="inner")
    # none of the candidates, or an address the base lacks: unmatched by decision, never queued again
    declined = texts.join(decisions.filter(pl.col("action") != "accept").select("address_key", "action"), on="address_key", how="inner")
    decided = pl.concat([decided.select("_i", "address_key", "address_id", "building_id"),
                         declined.select("_i", "address_key", pl.lit(None, pl.String).alias("address_id"), pl.lit(None, pl.String).alias("building_id"))])
    seen = texts.join(known.select(TEXT_RESULT), on="address_key", how="inner") if known is not None else texts.clear().with_columns(*[pl.lit(None, pl.String).alias(c) for c in TEXT_RESULT[1:]])
    todo = texts.join(decided.select("_i"), on="_i", how="anti").join(seen.select("_i"), on="_i", how="anti")
    # parsed and matched a slice at a time: each text's answer is its own, and a full relink of a
    # district (3.5 M texts at 1M residents) held every text's parse and candidates at once. Two
    # slices at once: polars works outside the GIL, and one slice's chain of string expressions
    # keeps little more than one core busy
    slices = [todo.slice(start, TEXT_CHUNK) for start in range(0, max(todo.height, 1), TEXT_CHUNK)]
    with ThreadPoolExecutor(max_workers=TEXT_WORKERS) as pool:
        answers = list(pool.map(lambda part: _parse_and_match(part, base), slices))
    links = pl.concat([a[0] for a in answers], how="vertical_relaxed")
    candidates = pl.concat([a[1] for a in answers], how="vertical_relaxed")
    by_text = pl.concat(
        [
            links.select("_i", "address_id", "building_id", "score", "method", "decision"),
            decided.select("_i", "address_id", "building_id", pl.col("address_id").is_not_null().cast(pl.Float64).alias("score"),
                           pl.lit("review_decision").alias("method"),
                           pl.when(pl.col("address_id").is_not_null()).then(pl.lit("accept")).otherwise(pl.lit("reject")).alias("decision")),
            seen.select("_i", "address_id", "building_id", pl.col("score").cast(pl.Float64), "method", "decision"),
        ],
        how="vertical_relaxed",
    ).join(texts, on="_i")
    results = keyed.join(by_text.drop("_i"), on="address_key", how="left").with_columns(
        pl.col("decision").fill_null("no_candidate"), pl.col("method").fill_null("none"), pl.col("score").fill_null(0.0)
    )
    return results, candidates.join(texts, on="_i").drop("_i")


def link_addresses(
    records: pl.DataFrame, base: pl.DataFrame, decisions: pl.DataFrame, known: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(links for every record, review candidates per distinct text needing review)."""
    results, candidates = match_texts(records.select(pl.col("address_text").unique()), base, decisions, known)
    return records.join(results, on="address_text", how="left").select(LINK_COLUMNS), candidates


def review_queue(links: pl.DataFrame, candidates: pl.DataFrame, base: pl.DataFrame) -> pl.DataFrame:
    """One row per distinct text to review: how many records use it, and its top candidates."""
    return _queue(_waiting(links), candidates, base)


def _waiting(links: pl.DataFrame) -> pl.DataFrame:
    return links.filter(pl.col("decision") == "review").group_by("address_key").agg(
        pl.first("address_text"), pl.len().alias("records"), pl.col("source_system").unique().sort().str.join(",").alias("systems")
    )


def _queue(waiting: pl.DataFrame, candidates: pl.DataFrame, base: pl.DataFrame) -> pl.DataFrame:
    cands = candidates.join(base.select("address_id", "full_text"), on="address_id", how="left").sort("address_key", "_rank")
    cands = cands.group_by("address_key").agg(
        pl.struct("address_id", "building_id", "full_text", pl.col("score").round(3)).alias("candidates")
    )
    return waiting.join(cands, on="address_key", how="left").sort("records", "address_key", descending=[True, False])


@dataclass
class LinkRefresh:
    linked: int  # address values linked in this refresh (all of them when ``full``)
    texts: int  # distinct raw texts among them
    by_decision: pl.DataFrame  # decision, len
    queue: pl.DataFrame  # the whole review queue after the refresh
    full: bool
    reason: str


def _versions(wh: Warehouse) -> dict[str, int]:
    version = lambda path: wh.table(LAYER, *path).version() if wh.exists(LAYER, *path) else -1  # noqa: E731
    return {"base_version": version(BASE_ADDRESSES), "decisions_version": version(REVIEW_DECISIONS)}


def _pending_chunks(wh: Warehouse, specs: list[SourceSpec], skip: pl.DataFrame | None) -> list[pl.LazyFrame]:
    """Address values still to link, as lazy chunks of at most :data:`CHUNK_ROWS` records; read
    once and kept when all of them fit in one chunk (a normal day: the texts and the links both
    come from them, and silver is not scanned twice)."""
    chunks, pending = [], 0
    for spec in specs:
        batches = wh.read("silver", spec.system, "_batches")
        if batches.height == 0 or not address_columns(spec):
            continue
        if skip is not None:
            batches = batches.join(skip.filter(pl.col("source_system") == spec.system).select("batch_id"), on="batch_id", how="anti")
        sizes = batches.group_by("batch_id").agg(pl.col("silver_rows").sum()).sort("batch_id")
        group, total = [], 0
        for batch_id, rows in sizes.iter_rows():  # one step per batch, not per record
            if group and total + rows > CHUNK_ROWS:
                chunks.append(_chunk(wh, spec, group))
                group, total = [], 0
            group.append(batch_id)
            total += rows
            pending += rows
        if group:
            chunks.append(_chunk(wh, spec, group))
    return [frame.lazy() for frame in pl.collect_all(chunks)] if chunks and pending <= CHUNK_ROWS else chunks


def _chunk(wh: Warehouse, spec: SourceSpec, batch_ids: list[str]) -> pl.LazyFrame:
    # a filter on a list of values, not a semi join: the reader then skips the files of other
    # batches by their statistics (a new day of 电力 among 13 M silver rows: 1.1 -> 0.06 s)
    return collect_addresses(wh, [spec], None, lazy=True).filter(pl.col("batch_id").is_in(batch_ids))


def refresh_links(wh: Warehouse, specs: list[SourceSpec]) -> LinkRefresh:
    """Link what is new: the batches not linked yet, against the same base and decisions.

    A new address base or new review decisions can change any link, so then every address value
    is linked again (``full``). Either way each distinct text is parsed and matched once, and
    records are joined to their text's match and written chunk by chunk (memory stays bounded)."""
    versions = _versions(wh)
    state = wh.read(LAYER, *LINK_STATE)
    linked = wh.scan(LAYER, *LINKS)
    if linked is None or state.height == 0:
        full, reason = True, "first linking"
    elif state.row(0, named=True) != versions:
        full, reason = True, "the address base or the review decisions changed"
    else:
        full, reason = False, "new batches only"
    # the texts matched before and the base are read while the batches to link are found (the
    # reads decode outside the GIL, and the other core is idle while the links run)
    with ThreadPoolExecutor(max_workers=2) as pool:
        known_read = pool.submit(lambda: None if full else wh.read(LAYER, *ADDRESS_TEXTS))
        base_read = pool.submit(read_base, wh)
        skip = None if full else linked.select("source_system", "batch_id").unique().collect()
        if skip is not None:
            # links of batches no longer in force (withdrawn) go with them, in one commit
            live = pl.concat([processed_batches(wh, spec.system).select(pl.lit(spec.system).alias("source_system"), "batch_id") for spec in specs], how="vertical_relaxed")
            gone = skip.join(live, on=["source_system", "batch_id"], how="anti")
            if gone.height:
                wh.table(LAYER, *LINKS).delete(sql_in("batch_id", gone["batch_id"].to_list()))
                skip = skip.join(gone, on=["source_system", "batch_id"], how="anti")
        chunks = _pending_chunks(wh, specs, skip)
        known, base = known_read.result(), base_read.result()
    known = known if known is not None and known.height else None
    raw = pl.concat([c.select("address_text") for c in chunks]).unique().collect(engine="streaming") if chunks else pl.DataFrame(schema={"address_text": pl.String})
    results, candidates = match_texts(raw, base, read_decisions(wh), known)
    written, waiting, counts = 0, [], []
    for chunk in chunks:
        links = chunk.join(results.lazy(), on="address_text", how="left").select(LINK_COLUMNS).collect()
        wh.write(links, LAYER, *LINKS, mode="overwrite" if full and written == 0 else "append")
        written += links.height
        waiting.append(_waiting(links))
        counts.append(links.group_by("decision").len())
    if full and written == 0:
        wh.write(pl.DataFrame(schema={c: pl.String for c in LINK_COLUMNS}).with_columns(pl.col("source_row").cast(pl.Int64), pl.col("score").cast(pl.Float64)), LAYER, *LINKS, mode="overwrite")
    texts = results.select(TEXT_RESULT).unique("address_key", keep="first").filter(pl.col("address_key").is_not_null())
    if known is not None:
        texts = texts.join(known.select("address_key"), on="address_key", how="anti")
    if full or texts.height:
        wh.write(texts, LAYER, *ADDRESS_TEXTS, mode="overwrite" if full else "append")
    merged = pl.concat(waiting).group_by("address_key").agg(pl.first("address_text"), pl.col("records").sum(), _systems()) if waiting else None
    new_queue = _queue(merged, candidates, base) if merged is not None else pl.DataFrame()
    queue = new_queue if full else _merge_queues(wh.read(LAYER, *REVIEW_QUEUE), new_queue)
    if full or written:
        wh.write(queue, LAYER, *REVIEW_QUEUE, mode="overwrite")
    wh.write(pl.DataFrame([versions]), LAYER, *LINK_STATE, mode="overwrite")
    by_decision = pl.concat(counts).group_by("decision").agg(pl.col("len").sum()) if counts else pl.DataFrame(schema={"decision": pl.String, "len": pl.UInt32})
    return LinkRefresh(written, results.height, by_decision, queue, full, reason)


def locate_texts(wh: Warehouse, texts: pl.Series) -> pl.DataFrame:
    """``address_text`` → ``address_id`` for raw texts whose normalised key the links already
    matched (accepted or decided); others get no row. Cheap: no parsing, one join per distinct
    text (reports use it to place rows that never reached silver, e.g. quarantined ones)."""
    known = wh.scan(LAYER, *ADDRESS_TEXTS)
    distinct = pl.DataFrame({"address_text": texts.cast(pl.String)}).unique().drop_nulls()
    if known is None or distinct.height == 0:
        return pl.DataFrame(schema={"address_text": pl.String, "address_id": pl.String})
    keyed = distinct.with_columns(normalize_address(pl.col("address_text")).alias("address_key"))
    # a filter on the keys wanted: the reader decodes the other columns of matching rows only
    wanted = (pl.col("decision") == "accept") & pl.col("address_key").is_in(keyed["address_key"].drop_nulls().implode())
    matched = known.filter(wanted).select("address_key", "address_id").collect()
    return keyed.join(matched, on="address_key", how="inner").select("address_text", "address_id")


def _systems() -> pl.Expr:
    """The systems of grouped queue rows, each once, sorted."""
    return pl.col("systems").str.split(",").list.explode(keep_nulls=False, empty_as_null=False).unique().sort().str.join(",").alias("systems")


def _merge_queues(old: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """One queue row per text: records added up, systems joined, the candidates already shown kept."""
    if old.height == 0:
        return new
    if new.height == 0:
        return old
    both = pl.concat([old, new], how="diagonal_relaxed")
    return both.group_by("address_key", maintain_order=True).agg(
        pl.first("address_text"),
        pl.col("records").sum(),
        _systems(),
        pl.col("candidates").drop_nulls().first(),
    ).sort("records", "address_key", descending=[True, False])
