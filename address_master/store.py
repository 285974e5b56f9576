"""Where the address master's tables live in the warehouse."""

from __future__ import annotations

import polars as pl

from warehouse.storage import Warehouse

LAYER = "address"
BASE_ADDRESSES = ("base", "addresses")
BASE_BUILDINGS = ("base", "buildings")
LINKS = ("links", "address_links")
REVIEW_QUEUE = ("review", "queue")
REVIEW_DECISIONS = ("review", "decisions")


def write_base(wh: Warehouse, addresses: pl.DataFrame, buildings: pl.DataFrame, rejected: pl.DataFrame, source: str) -> None:
    """Replace the address base (a new import supersedes the old one; Delta keeps history)."""
    wh.write(addresses.with_columns(pl.lit(source).alias("source_file")), LAYER, *BASE_ADDRESSES, mode="overwrite")
    wh.write(buildings, LAYER, *BASE_BUILDINGS, mode="overwrite")
    wh.write(rejected.with_columns(pl.lit(source).alias("source_file")), "quarantine", "address_base", "rows", mode="overwrite")


def read_base(wh: Warehouse) -> pl.DataFrame:
    return wh.read(LAYER, *BASE_ADDRESSES)
