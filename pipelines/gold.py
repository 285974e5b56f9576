"""Builders of the curated (gold) tables — what downstream apps read.

Each builder reads silver / master tables and returns a frame: every row with all five division
codes (from its standard address, else the division the text named) and lineage to its sources,
duplicates removed on the table's key (latest delivery wins). Publishing goes through the quality
gate (:mod:`quality.gate`), never straight from here.
"""

from __future__ import annotations

from typing import Callable

import polars as pl

from pipelines.corrections import SYSTEM as CORRECTIONS, apply_corrections
from pipelines.ingest import processed_batches
from warehouse.tables import ADDRESS_LAYER as LAYER, ADDRESS_LINKS as LINKS, BASE_ADDRESSES, BASE_BUILDINGS
from warehouse.registry import DIVISION_COLUMNS, GOLD_BY_NAME
from warehouse.storage import Warehouse

LEVEL_LENGTHS = dict(zip(DIVISION_COLUMNS, (2, 4, 6, 9, 12)))


def with_divisions(frame: pl.DataFrame, code: str = "_division") -> pl.DataFrame:
    """Five division code columns from one (deepest known) division code column."""
    exprs = [
        pl.when(pl.col(code).str.len_chars() >= n).then(pl.col(code).str.slice(0, n)).alias(col)
        for col, n in LEVEL_LENGTHS.items()
    ]
    return frame.with_columns(exprs).drop(code)


def _base_codes(wh: Warehouse) -> pl.DataFrame:
    return wh.read(LAYER, *BASE_ADDRESSES, columns=["address_id", "division_code"])


def _links(wh: Warehouse, system: str, column: str = "address", batches: list[str] | None = None) -> pl.DataFrame:
    scan = wh.scan(LAYER, *LINKS)
    if scan is None:
        return pl.DataFrame(schema={"batch_id": pl.String, "source_row": pl.Int64, "address_id": pl.String, "building_id": pl.String})
    chosen = (pl.col("source_system") == system) & (pl.col("source_column") == column)
    if batches is not None:
        chosen &= pl.col("batch_id").is_in(batches)
    return scan.filter(chosen).select("batch_id", "source_row", "address_id", "building_id").collect()


def _silver(wh: Warehouse, system: str, table: str, batches: list[str] | None = None, columns: list[str] | None = None) -> pl.DataFrame:
    """Silver rows (of ``batches``; only ``columns`` and lineage: 12 M readings carry long texts)."""
    scan = wh.scan("silver", system, table)
    if scan is None:
        return pl.DataFrame()
    if batches is not None:
        scan = scan.filter(pl.col("batch_id").is_in(batches))
    if columns is not None:
        scan = scan.select(*columns, *[c for c in ("ingested_at", "batch_id", "source_row") if c not in columns])
    return scan.collect()


def join_rows(left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
    """``left`` joined (left join) to ``right`` by source row (batch_id, source_row).

    Through one integer key (the batch's number among ``left``'s batches, then the row): the
    join on a string and an integer column takes twice the memory at millions of rows."""
    numbers = left.select(pl.col("batch_id").unique()).with_row_index("_batch_no")
    row = (pl.col("_batch_no").cast(pl.UInt64) * (1 << 32) + pl.col("source_row").cast(pl.UInt64)).alias("_row")
    keyed = right.join(numbers, on="batch_id", how="inner").select(row, pl.exclude("batch_id", "source_row", "_batch_no"))
    return left.join(numbers, on="batch_id", how="left").with_columns(row).join(keyed, on="_row", how="left").drop("_row", "_batch_no")


def _silver_with_place(wh: Warehouse, system: str, table: str, batches: list[str] | None = None, columns: list[str] | None = None) -> pl.DataFrame:
    silver = _silver(wh, system, table, batches, columns)
    placed = join_rows(silver, _links(wh, system, batches=batches))
    return placed.join(_base_codes(wh).rename({"division_code": "_division"}), on="address_id", how="left")


def _person_of(wh: Warehouse, system: str) -> pl.DataFrame:
    scan = wh.scan("person", "links", "person_links")
    if scan is None:  # the gate reports the table as not buildable from its inputs
        raise pl.exceptions.ColumnNotFoundError("person/links/person_links does not exist yet (person master not run)")
    if "role" in scan.collect_schema().names():
        scan = scan.filter(pl.col("role") == "person")
    # only this system's links, read lazily (all 2 M links of every system are not needed)
    return scan.filter(pl.col("source") == system).select("batch_id", "source_row", "person_id").collect()


def _latest(frame: pl.DataFrame, keys: tuple[str, ...]) -> pl.DataFrame:
    """One row per key: the latest delivery (then the highest source row) wins.

    Only keys delivered more than once are sorted out (12 M daily readings rarely repeat a key;
    sorting them all would double the step's memory). Row order carries no meaning: publishing
    merges by key."""
    duplicated = pl.struct(list(keys)).is_duplicated()
    repeated = frame.filter(duplicated)
    if repeated.height == 0:
        return frame
    order = [c for c in ("ingested_at", "batch_id", "source_row") if c in frame.columns]
    winners = repeated.sort(order, descending=True, nulls_last=True).unique(list(keys), keep="first")
    return pl.concat([frame.filter(~duplicated), winners])


def _lineage(system: str) -> list[pl.Expr]:
    return [pl.lit(system).alias("source_system"), "batch_id", "source_row"]


# ----------------------------------------------------------------------------- builders
def build_persons(wh: Warehouse, aged_at_least: int | None = None) -> pl.DataFrame:
    """Golden persons with the corrections collected from the nodes applied (field authority, then
    time); ``aged_at_least``: only those of that age or more, once corrected."""
    corrections = _silver(wh, CORRECTIONS, "corrections")
    scan = wh.scan("person", "golden", "persons") if aged_at_least is not None else None
    if scan is None:
        golden = wh.read("person", "golden", "persons")
    else:  # the others are not read: only a correction (of a birth date) can change an age
        corrected = corrections.get_column("person_id", default=pl.Series("person_id", [], pl.String))
        golden = scan.filter((pl.col("age") >= aged_at_least) | pl.col("person_id").is_in(corrected.implode())).collect()
    golden = apply_corrections(golden, corrections).drop("occupants", strict=False)
    if aged_at_least is not None:
        golden = golden.filter(pl.col("age") >= aged_at_least)
    return with_divisions(golden.join(_base_codes(wh).rename({"division_code": "_division"}), on="address_id", how="left"))


def build_households(wh: Warehouse) -> pl.DataFrame:
    homes = wh.read("person", "golden", "households")
    return with_divisions(homes.join(_base_codes(wh).rename({"division_code": "_division"}), on="address_id", how="left"))


def build_addresses(wh: Warehouse) -> pl.DataFrame:
    base = wh.read(LAYER, *BASE_ADDRESSES)
    return with_divisions(base.with_columns(pl.col("division_code").alias("_division"))).drop(
        [c for c in base.columns if c.endswith("_name") and c != "full_text"], strict=False
    )


def build_buildings(wh: Warehouse) -> pl.DataFrame:
    return with_divisions(wh.read(LAYER, *BASE_BUILDINGS).with_columns(pl.col("division_code").alias("_division")))


def build_businesses(wh: Warehouse) -> pl.DataFrame:
    golden = wh.read("business", "golden", "businesses")
    return with_divisions(golden.join(_base_codes(wh).rename({"division_code": "_division"}), on="address_id", how="left"))


def build_inspections(wh: Warehouse) -> pl.DataFrame:
    rows = wh.read("business", "links", "inspections").sort("record_id")
    rows = rows.unique(["business_id", "source", "inspection_date", "inspection_result", "issue_description"], keep="first", maintain_order=True)
    rows = rows.rename({"source": "source_system"})
    return with_divisions(rows.join(_base_codes(wh).rename({"division_code": "_division"}), on="address_id", how="left")).sort("record_id")


def _person_table(wh: Warehouse, system: str, table: str, columns: list[str], keys: tuple[str, ...]) -> pl.DataFrame:
    rows = join_rows(_silver_with_place(wh, system, table), _person_of(wh, system))
    picked = rows.select("person_id", *columns, "address_id", "building_id", "_division", "ingested_at", *_lineage(system))
    return with_divisions(_latest(picked, keys)).drop("ingested_at")


def build_welfare(wh: Warehouse) -> pl.DataFrame:
    return _person_table(wh, "minzheng", "needy_families", ["name", "assistance_type", "family_size", "monthly_amount", "payment_month", "start_date"], GOLD_BY_NAME["welfare"].keys)


def build_disability(wh: Warehouse) -> pl.DataFrame:
    return _person_table(wh, "canlian", "disability_certificates", ["name", "disability_cert_no", "disability_type", "disability_grade", "subsidy_amount"], GOLD_BY_NAME["disability"].keys)


def build_retirees(wh: Warehouse) -> pl.DataFrame:
    return _person_table(wh, "qitui", "enterprise_retirees", ["name", "retirement_date", "monthly_pension", "employer_name"], GOLD_BY_NAME["retirees"].keys)


def build_elderly(wh: Warehouse) -> pl.DataFrame:
    persons = build_persons(wh, aged_at_least=60)
    ageing = _person_table(wh, "laoling", "elderly_residents", ["elderly_allowance"], ("person_id",)).select("person_id", "elderly_allowance")
    keep = ["person_id", "name", "sex", "birth_date", "age", "elderly_80", "living_alone", "gugua", "disabled", "subsidy_recipient",
            "living_status", "phone", "address_id", "building_id", *DIVISION_COLUMNS, "systems", "records"]
    return persons.select(keep).join(ageing, on="person_id", how="left").sort("person_id")


def build_grid_events(wh: Warehouse, batches: list[str] | None = None) -> pl.DataFrame:
    rows = _silver_with_place(wh, "zongzhi", "grid_events", batches)
    # where the location text did not resolve, the grid code still names the community
    rows = rows.with_columns(pl.coalesce("_division", pl.col("grid_code").str.slice(0, 12)).alias("_division"))
    picked = rows.select("event_id", "reported_at", "grid_code", "reporter", "event_category", "description", "address", "address_id", "building_id", "_division", "ingested_at", *_lineage("zongzhi"))
    return with_divisions(_latest(picked, ("event_id",))).drop("ingested_at")


def build_weather_warnings(wh: Warehouse, batches: list[str] | None = None) -> pl.DataFrame:
    rows = _silver(wh, "qixiang", "weather_warnings", batches).with_columns(pl.col("division_code").alias("_division"))
    picked = rows.select("warning_id", "division_code", "warning_type", "warning_level", "issued_at", "starts_at", "ends_at", "description", "_division", "ingested_at", *_lineage("qixiang"))
    return with_divisions(_latest(picked, ("warning_id",))).drop("ingested_at")


def build_power_daily(wh: Warehouse, batches: list[str] | None = None) -> pl.DataFrame:
    rows = _silver_with_place(wh, "dianli", "meter_readings", batches, ["power_account_no", "reading_date", "kwh"])
    picked = rows.select("power_account_no", "reading_date", "kwh", "address_id", "building_id", "_division", "ingested_at", *_lineage("dianli"))
    return with_divisions(_latest(picked, ("power_account_no", "reading_date"))).drop("ingested_at")


# Tables whose rows come straight from one source's rows: given the new batches only, the builder
# returns exactly the rows those batches add or replace (a later delivery wins).
BY_BATCH: dict[str, str] = {"grid_events": "zongzhi", "weather_warnings": "qixiang", "power_daily": "dianli"}

CHUNK_ROWS = 3_000_000
LARGE_BUILD_ROWS = 1_000_000  # new source rows from which a by-batch build is large (one day of 电力 at 1 M residents: 400,000)


def is_large_build(wh: Warehouse, name: str, batches: list[str] | None) -> bool:
    """Whether building by-batch table ``name`` from ``batches`` (``None``: whole) holds more than
    :data:`LARGE_BUILD_ROWS` source rows in memory: a bulk system's whole build, or a backlog of
    its deliveries after an outage (weather warnings built whole are a few thousand rows)."""
    if name not in BY_BATCH:
        return False
    processed = processed_batches(wh, BY_BATCH[name])
    if processed.height and batches is not None:
        processed = processed.filter(pl.col("batch_id").is_in(batches))
    return bool(processed.height) and int(processed["silver_rows"].sum()) > LARGE_BUILD_ROWS


def batch_groups(wh: Warehouse, name: str) -> list[list[str]]:
    """The batches of a by-batch table's system in the order they were standardised, in groups of
    at most :data:`CHUNK_ROWS` rows (a bigger batch alone): a whole table is built and published a
    group at a time (joining 12 M readings at once needs several times the table's own memory),
    and a later group's rows replace an earlier one's of the same key, as a later delivery does."""
    batches = processed_batches(wh, BY_BATCH[name])
    if batches.height == 0:
        return []
    sizes = batches.group_by("batch_id").agg(pl.col("silver_rows").sum(), pl.col("processed_at").max()).sort("processed_at", "batch_id")
    groups: list[list[str]] = [[]]
    total = 0
    for batch_id, rows, _ in sizes.iter_rows():  # one step per batch, not per row
        if groups[-1] and total + rows > CHUNK_ROWS:
            groups.append([])
            total = 0
        groups[-1].append(batch_id)
        total += rows
    return groups


BUILDERS: dict[str, Callable[..., pl.DataFrame]] = {
    "persons": build_persons, "households": build_households, "addresses": build_addresses, "buildings": build_buildings,
    "businesses": build_businesses, "welfare": build_welfare, "disability": build_disability, "elderly": build_elderly,
    "retirees": build_retirees, "inspections": build_inspections, "grid_events": build_grid_events,
    "weather_warnings": build_weather_warnings, "power_daily": build_power_daily,
}
