"""Where the address master's tables live in the warehouse."""

from __future__ import annotations

import polars as pl

from warehouse.storage import Warehouse

from warehouse.tables import ADDRESS_LAYER as LAYER
from warehouse.tables import ADDRESS_LINKS as LINKS
from warehouse.tables import BASE_ADDRESSES, BASE_BUILDINGS, REVIEW_DECISIONS, REVIEW_QUEUE

__all__ = ["LAYER", "LINKS", "BASE_ADDRESSES", "BASE_BUILDINGS", "REVIEW_DECISIONS", "REVIEW_QUEUE", "read_base", "write_base"]


def write_base(wh: Warehouse, addresses: pl.DataFrame, buildings: pl.DataFrame, rejected: pl.DataFrame, source: str) -> None:
    """Replace the address base (a new import supersedes the old one; Delta keeps history)."""
    wh.write(addresses.with_columns(pl.lit(source).alias("source_file")), LAYER, *BASE_ADDRESSES, mode="overwrite")
    wh.write(buildings, LAYER, *BASE_BUILDINGS, mode="overwrite")
    wh.write(rejected.with_columns(pl.lit(source).alias("source_file")), "quarantine", "address_base", "rows", mode="overwrite")


def read_base(wh: Warehouse) -> pl.DataFrame:
    return wh.read(LAYER, *BASE_ADDRESSES)
