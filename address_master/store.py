"""Where the address master's tables live in the warehouse."""

from __future__ import annotations

import polars as pl

from pipelines.ingest import processed_batches
from warehouse.storage import Warehouse

from warehouse.tables import ADDRESS_LAYER as LAYER
from warehouse.tables import ADDRESS_LINKS as LINKS
from warehouse.tables import BASE_ADDRESSES, BASE_BUILDINGS, REVIEW_DECISIONS, REVIEW_QUEUE

__all__ = ["LAYER", "LINKS", "BASE_ADDRESSES", "BASE_BUILDINGS", "REVIEW_DECISIONS", "REVIEW_QUEUE", "input_signature", "read_base", "remember_inputs", "unchanged_since_last_run", "write_base"]


def write_base(wh: Warehouse, addresses: pl.DataFrame, buildings: pl.DataFrame, rejected: pl.DataFrame, source: str) -> None:
    """Replace the address base (a new import supersedes the old one; Delta keeps history)."""
    wh.write(addresses.with_columns(pl.lit(source).alias("source_file")), LAYER, *BASE_ADDRESSES, mode="overwrite")
    wh.write(buildings, LAYER, *BASE_BUILDINGS, mode="overwrite")
    wh.write(rejected.with_columns(pl.lit(source).alias("source_file")), "quarantine", "address_base", "rows", mode="overwrite")


def read_base(wh: Warehouse) -> pl.DataFrame:
    return wh.read(LAYER, *BASE_ADDRESSES)


def input_signature(wh: Warehouse, systems: list[str]) -> str:
    """What a master is computed from: the standardised batches of its systems and the address
    links' base and decisions. Equal signatures mean nothing new to resolve."""
    parts = []
    for system in sorted(systems):
        batches = processed_batches(wh, system)
        parts.append(system + ":" + ",".join(sorted(batches["batch_id"].unique().to_list())) if batches.height else system + ":")
    state = wh.read(LAYER, "links", "_state")
    parts.append("links:" + (",".join(f"{k}={v}" for k, v in state.row(0, named=True).items()) if state.height else "none"))
    return "|".join(parts)


def unchanged_since_last_run(wh: Warehouse, master: tuple[str, str], signature: str) -> bool:
    """True when ``master`` (layer, system) was last computed from the same inputs."""
    state = wh.read(*master, "_state")
    return state.height > 0 and state["signature"][0] == signature


def remember_inputs(wh: Warehouse, master: tuple[str, str], signature: str) -> None:
    wh.write(pl.DataFrame({"signature": [signature]}), *master, "_state", mode="overwrite")
