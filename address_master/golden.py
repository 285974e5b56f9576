"""Golden persons, households and person–room links (人房关联), with the flags downstream needs.

Survivorship is field by field: identity fields (name, ID, birth date, sex) come from the most
authoritative system that has them (each spec's ``identity_rank``, police register first); contact and
living fields (phone, room, living status) from the most recently delivered record. Every golden
field carries the system it came from in ``<field>_source``.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from address_master.person_records import authority
from address_master.persons import prepare_records
from pipelines.dates import age_expr
from pipelines.flags import person_flags
from pipelines.sources import all_specs

IDENTITY_FIELDS = {"name": "name", "id_number": "id18", "birth_date": "birth", "sex": "sex_norm"}
RECENT_FIELDS = {"phone": "phone", "address_id": "room_key", "building_id": "building_key", "living_status": "living_status"}
FACT_FIELDS = ["household_no", "relation_to_head", "disability_type", "disability_grade", "assistance_type"]
# what survivorship reads of a prepared record; the rest (address texts, name and pinyin keys …)
# served the resolution and is not carried through its joins and sorts
SURVIVOR_INPUTS = {"record_id", "source", "ingested_at", "id_valid", *IDENTITY_FIELDS.values(), *RECENT_FIELDS.values(), *FACT_FIELDS}


def _rank(order: list[str]) -> pl.Expr:
    return pl.col("source").replace_strict(order, list(range(len(order))), default=len(order), return_dtype=pl.Int32)


def _survivors(frame: pl.DataFrame, fields: dict[str, str], by: list[pl.Expr], descending: list[bool]) -> pl.DataFrame:
    """Per person, each field's first non-null value in the given order, and the system it came from.

    One sort for all the fields; record_id last: two records equal on every criterion still give
    one answer every run."""
    fields = {out: col for out, col in fields.items() if col in frame.columns}
    frame = frame.select("person_id", "record_id", "source", *[e.meta.output_name() for e in by], *dict.fromkeys(fields.values()))
    ordered = frame.sort([pl.col("person_id"), *by, pl.col("record_id")], descending=[False, *descending, False], nulls_last=True)
    return ordered.group_by("person_id", maintain_order=True).agg(
        expr
        for out, col in fields.items()
        for expr in (pl.col(col).drop_nulls().first().alias(out), pl.col("source").filter(pl.col(col).is_not_null()).first().alias(f"{out}_source"))
    )


def golden_persons(
    records: pl.DataFrame, links: pl.DataFrame, as_of: date | None = None, order: list[str] | None = None, prepared: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One row per person: surviving fields with their sources, and derived flags.

    ``order``: systems by authority for identity fields (default: the specs' ``identity_rank``);
    ``prepared``: ``prepare_records(records)`` when the caller has it already."""
    return derive_flags(survivors(prepared if prepared is not None else prepare_records(records), links, order), as_of)


def survivors(prepared: pl.DataFrame, links: pl.DataFrame, order: list[str] | None = None) -> pl.DataFrame:
    """Per person, what only that person's own records decide: surviving fields, their sources,
    the facts the records carry. ``prepared`` must hold every record of each person in ``links``."""
    order = order if order is not None else authority(all_specs())
    rec = prepared.select([c for c in prepared.columns if c in SURVIVOR_INPUTS])
    rec = rec.join(links.select("record_id", "person_id", "rule"), on="record_id").sort("record_id")
    rec = rec.with_columns(
        _rank(order).alias("_rank"),
        # only IDs that placed their record count: a valid ID the resolver set aside (someone
        # else's number typed into this row) is not this person's
        pl.when(pl.col("id_valid") & (pl.col("rule") == "id")).then(pl.col("id18")).alias("id18"),
        pl.col("ingested_at").cast(pl.Datetime("us", "UTC")) if "ingested_at" in rec.columns else pl.lit(None, pl.Datetime("us", "UTC")).alias("ingested_at"),
    )
    golden = rec.group_by("person_id").agg(
        pl.len().alias("records"),
        pl.col("source").unique().sort().str.join(",").alias("systems"),
        pl.col("id18").drop_nulls().n_unique().alias("valid_ids"),
    )
    golden = golden.join(_survivors(rec, IDENTITY_FIELDS, [pl.col("_rank"), pl.col("ingested_at")], [False, True]), on="person_id", how="left")
    golden = golden.join(_survivors(rec, RECENT_FIELDS, [pl.col("ingested_at"), pl.col("_rank")], [True, False]), on="person_id", how="left")
    register, retirees = _establishing("registered"), _establishing("retiree")
    facts = rec.group_by("person_id").agg(
        pl.col("source").is_in(register).any().alias("registered"),
        pl.col("household_no").filter(pl.col("source").is_in(register)).first().alias("household_no"),
        pl.col("relation_to_head").filter(pl.col("source").is_in(register)).first().alias("relation_to_head"),
        pl.col("disability_type").drop_nulls().first().alias("disability_type"),
        pl.col("disability_grade").drop_nulls().first().alias("disability_grade"),
        pl.col("assistance_type").drop_nulls().first().alias("assistance_type"),
        pl.col("source").is_in(retirees).any().alias("retiree"),
    )
    return golden.join(facts, on="person_id", how="left")


def _establishing(fact: str) -> list[str]:
    """The systems whose records establish ``fact`` for a person (``SourceSpec.person_facts``)."""
    return sorted(s.system for s in all_specs().values() if fact in s.person_facts)


DERIVED = ["occupants", "age", "elderly_60", "elderly_80", "living_alone", "gugua", "disabled", "subsidy_recipient", "floating_population"]


def derive_flags(golden: pl.DataFrame, as_of: date | None = None) -> pl.DataFrame:
    """The columns that depend on the day or on other people (:data:`DERIVED`): age, occupants of
    the room, and the flags built on them. Whole-table and cheap; recomputed on every update."""
    as_of = as_of or date.today()
    golden = golden.drop([c for c in DERIVED if c in golden.columns])
    age = age_expr(pl.col("birth_date"), as_of)
    occupants = golden.filter(pl.col("address_id").is_not_null()).group_by("address_id").len("occupants")
    golden = golden.join(occupants, on="address_id", how="left").with_columns(age.alias("age"))
    return golden.with_columns(person_flags()).sort("person_id")


def households(golden: pl.DataFrame) -> pl.DataFrame:
    """Households: the police register's 户号, else the people sharing a room; who lives where."""
    key = pl.coalesce(pl.col("household_no"), pl.concat_str([pl.lit("ROOM:"), pl.col("address_id")]))
    needed = ["person_id", "household_no", "address_id", "building_id", "relation_to_head", "elderly_80", "disabled", "subsidy_recipient"]
    members = golden.select(needed).filter(key.is_not_null()).with_columns(key.alias("household_key")).sort("person_id")
    # the room most members live in (the smallest id among equals), from one count per room: a
    # mode per group took most of the step (0.85 of 1.9 s at 425,000 households)
    per_room = members.filter(pl.col("address_id").is_not_null()).group_by("household_key", "address_id").len()
    rooms = per_room.sort("household_key", "len", "address_id", descending=[False, True, False]).group_by("household_key").agg(
        pl.col("address_id").first(), pl.len().alias("rooms").cast(pl.UInt32)
    )
    homes = members.group_by("household_key").agg(
        pl.col("household_no").drop_nulls().first(),
        pl.col("building_id").drop_nulls().first(),
        pl.len().alias("members"),
        pl.col("person_id").filter(pl.col("relation_to_head") == "户主").first().alias("head_person_id"),
        pl.col("person_id").sort().alias("member_ids"),
        pl.col("relation_to_head").drop_nulls().sort().alias("relations"),
        pl.col("elderly_80").any().alias("has_elderly_80"),
        pl.col("disabled").any().alias("has_disabled"),
        pl.col("subsidy_recipient").any().alias("receives_subsidy"),
    )
    homes = homes.join(rooms, on="household_key", how="left").with_columns(pl.col("rooms").fill_null(0))
    columns = ["household_key", "household_no", "address_id", "rooms", "building_id", "members", "head_person_id", "member_ids", "relations", "has_elderly_80", "has_disabled", "receives_subsidy"]
    return homes.select(columns).sort("household_key")
