"""Person-bearing silver rows → the records person resolution compares.

Which canonical fields carry a person's name, ID, birth date and sex differs per system (the
births register describes the mother); :data:`PERSON_FIELDS` says so, as data. Places come from
the address links: the linked ``address_id`` is the room, ``building_id`` the building.
"""

from __future__ import annotations

import polars as pl

from address_master.store import LAYER, LINKS
from pipelines.sources.spec import SourceSpec
from warehouse.storage import Warehouse

# system → (name, id_number, birth_date, sex, address column); None where the system has none
PERSON_FIELDS: dict[str, tuple[str, str | None, str | None, str | None, str]] = {
    "gongan": ("name", "id_number", "birth_date", "sex", "address"),
    "minzheng": ("name", "id_number", None, None, "address"),
    "canlian": ("name", "id_number", None, "sex", "address"),
    "laoling": ("name", "id_number", None, "sex", "address"),
    "renshe": ("name", "id_number", "birth_date", "sex", "address"),
    "qitui": ("name", "id_number", None, "sex", "address"),
    "jisheng": ("mother_name", "mother_id_number", None, None, "address"),
}
# Field-level survivorship: who is the authority for what (earlier = more authoritative).
AUTHORITY = ["gongan", "renshe", "qitui", "laoling", "canlian", "minzheng", "jisheng"]
EXTRA = ["phone", "household_no", "relation_to_head", "living_status", "disability_type", "disability_grade", "assistance_type", "retirement_date", "employment_status"]


def record_id_expr(system: str) -> pl.Expr:
    return pl.format("{}:{}:{}", pl.lit(system), pl.col("batch_id"), pl.col("source_row"))


def collect_person_records(wh: Warehouse, specs: dict[str, SourceSpec]) -> pl.DataFrame:
    """One row per person-bearing silver row, with the person fields under common names."""
    links = wh.scan(LAYER, *LINKS)
    frames = []
    for system, (name, id_col, birth, sex, address) in PERSON_FIELDS.items():
        spec = specs.get(system)
        scan = wh.scan("silver", system, spec.table) if spec else None
        if scan is None:
            continue
        available = set(scan.collect_schema().names())
        pick = lambda col, dtype: (pl.col(col) if col and col in available else pl.lit(None, dtype))  # noqa: E731
        frame = scan.select(
            record_id_expr(system).alias("record_id"),
            pl.lit(system).alias("source"),
            "batch_id",
            "source_row",
            "ingested_at",
            pick(name, pl.String).alias("name"),
            pick(id_col, pl.String).alias("id_number"),
            pick(birth, pl.Date).alias("birth_date"),
            pick(sex, pl.String).alias("sex"),
            pick(f"{address}_raw", pl.String).alias("address_text"),
            *[pick(c, pl.String).cast(pl.String).alias(c) for c in EXTRA],
        )
        if links is not None:
            place = links.filter((pl.col("source_system") == system) & (pl.col("source_column") == address)).select(
                "batch_id", "source_row", pl.col("address_id").alias("room_key"), pl.col("building_id").alias("building_key")
            )
            frame = frame.join(place, on=["batch_id", "source_row"], how="left")
        else:
            frame = frame.with_columns(pl.lit(None, pl.String).alias("room_key"), pl.lit(None, pl.String).alias("building_key"))
        frames.append(frame)
    if not frames:
        return pl.DataFrame()
    return pl.concat([f.collect() for f in frames], how="diagonal_relaxed")
