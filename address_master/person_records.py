"""Person-bearing silver rows → the records person resolution compares.

Which canonical fields carry a person's name, ID, birth date and sex differs per system, and one
row may describe two people (a birth record names the mother and the baby); each spec's
``persons`` says so, as data: one entry per (system, role). Places come from the address links: the linked
``address_id`` is the room, ``building_id`` the building.
"""

from __future__ import annotations

import polars as pl

from address_master.store import LAYER, LINKS
from pipelines.sources.spec import PersonRole, SourceSpec
from warehouse.storage import Warehouse



def person_fields(specs: dict[str, SourceSpec]) -> dict[tuple[str, str], PersonRole]:
    """(system, role) → the fields naming that person, from every person-bearing spec."""
    return {(system, p.role): p for system, spec in specs.items() for p in spec.persons}


def person_systems(specs: dict[str, SourceSpec]) -> list[str]:
    return [system for system, spec in specs.items() if spec.persons]


def authority(specs: dict[str, SourceSpec]) -> list[str]:
    """Person-bearing systems, most authoritative for identity fields first (field-level survivorship)."""
    return sorted(person_systems(specs), key=lambda s: (specs[s].identity_rank, s))


EXTRA = ["phone", "household_no", "relation_to_head", "living_status", "disability_type", "disability_grade", "assistance_type", "retirement_date", "employment_status"]

RECORD_SCHEMA = {
    "record_id": pl.String, "source": pl.String, "role": pl.String, "batch_id": pl.String, "source_row": pl.Int64, "ingested_at": pl.Datetime("us", "UTC"),
    "name": pl.String, "id_number": pl.String, "birth_date": pl.Date, "sex": pl.String, "address_text": pl.String,
    **{c: pl.String for c in EXTRA}, "room_key": pl.String, "building_key": pl.String,
}


def record_id_expr(system: str, role: str = "person") -> pl.Expr:
    suffix = "" if role == "person" else f":{role}"
    return pl.format("{}:{}:{}" + suffix, pl.lit(system), pl.col("batch_id"), pl.col("source_row"))


def collect_person_records(wh: Warehouse, specs: dict[str, SourceSpec], batches: dict[str, list[str]] | None = None) -> pl.DataFrame:
    """One row per person-bearing silver row, with the person fields under common names.

    ``batches``: only these batches of each system (system → batch ids; a system not named is skipped)."""
    links = wh.scan(LAYER, *LINKS)
    frames = []
    for (system, role), person in person_fields(specs).items():
        name, id_col, birth, sex, address = person.name, person.id_number, person.birth_date, person.sex, person.address
        spec = specs.get(system)
        scan = wh.scan("silver", system, spec.table) if spec else None
        if scan is None or (batches is not None and not batches.get(system)):
            continue
        if batches is not None:
            scan = scan.filter(pl.col("batch_id").is_in(batches[system]))
        available = set(scan.collect_schema().names())
        pick = lambda col, dtype: (pl.col(col) if col and col in available else pl.lit(None, dtype))  # noqa: E731
        frame = scan.select(
            record_id_expr(system, role).alias("record_id"),
            pl.lit(system).alias("source"),
            pl.lit(role).alias("role"),
            "batch_id",
            "source_row",
            "ingested_at",
            pick(name, pl.String).alias("name"),
            pick(id_col, pl.String).alias("id_number"),
            pick(birth, pl.Date).alias("birth_date"),
            pick(sex, pl.String).alias("sex"),
            pick(f"{address}_raw", pl.String).alias("address_text"),
            *[(pick(c, pl.String) if role == "person" else pl.lit(None, pl.String)).cast(pl.String).alias(c) for c in EXTRA],
        )
        if links is not None:
            place = links.filter((pl.col("source_system") == system) & (pl.col("source_column") == address))
            if batches is not None:
                place = place.filter(pl.col("batch_id").is_in(batches[system]))
            place = place.select(
                "batch_id", "source_row", pl.col("address_id").alias("room_key"), pl.col("building_id").alias("building_key")
            )
            frame = frame.join(place, on=["batch_id", "source_row"], how="left")
        else:
            frame = frame.with_columns(pl.lit(None, pl.String).alias("room_key"), pl.lit(None, pl.String).alias("building_key"))
        frames.append(frame)
    if not frames:
        return pl.DataFrame(schema=RECORD_SCHEMA)
    # a fixed order: every "first" downstream is then the same in every run
    return pl.concat([f.collect() for f in frames], how="diagonal_relaxed").sort("record_id")


def count_person_records(wh: Warehouse, specs: dict[str, SourceSpec]) -> int:
    """How many person records the silver tables hold (one per row and role)."""
    total = 0
    for system, _role in person_fields(specs):
        spec = specs.get(system)
        scan = wh.scan("silver", system, spec.table) if spec else None
        if scan is not None:
            total += int(scan.select(pl.len()).collect().item())
    return total
