"""The Zhejiang division table shipped with the project (see pipelines/reference/README.md)."""

from __future__ import annotations

import functools
from pathlib import Path

import polars as pl

DIVISIONS_CSV = Path(__file__).parent / "reference" / "zhejiang_divisions.csv"
LEVEL_NAMES = {1: "province", 2: "city", 3: "district", 4: "street", 5: "community"}
CODE_LENGTHS = {1: 2, 2: 4, 3: 6, 4: 9, 5: 12}

# Districts merged or renamed in Hangzhou's 2021 reorganisation: old name → (old code, new code).
LEGACY_DISTRICTS = {
    "江干区": ("330104", "330102"),  # merged into 上城区
    "下城区": ("330103", "330105"),  # merged into 拱墅区
}
# Streets of today's 上城区 that belonged to 江干区 before 2021 (their old addresses say 江干区).
FORMER_JIANGGAN_STREETS = {"凯旋街道", "采荷街道", "闸弄口街道", "四季青街道", "彭埠街道", "笕桥街道", "丁兰街道", "九堡街道"}


@functools.cache
def divisions() -> pl.DataFrame:
    """All 27,036 divisions: code (str), name, level (1-5), parent_code."""
    return pl.read_csv(
        DIVISIONS_CSV, schema_overrides={"code": pl.String, "parent_code": pl.String, "level": pl.Int8}
    )


@functools.cache
def division_names() -> dict[str, str]:
    """Code → Chinese name of every division (built once per process)."""
    d = divisions()
    return dict(zip(d["code"].to_list(), d["name"].to_list()))


LEVEL_OF_LENGTH = {CODE_LENGTHS[n]: name for n, name in LEVEL_NAMES.items()}  # 2 province … 12 community
LENGTH_OF_LEVEL = {name: CODE_LENGTHS[n] for n, name in LEVEL_NAMES.items()}


def district_communities(district_code: str) -> pl.DataFrame:
    """Communities of one district with every level's code and name (five-level rows)."""
    d = divisions()
    if d.filter((pl.col("code") == district_code) & (pl.col("level") == 3)).height == 0:
        raise ValueError(f"{district_code} is not a district code in the Zhejiang division table")
    names = division_names()
    communities = d.filter((pl.col("level") == 5) & pl.col("code").str.starts_with(district_code))
    return communities.select(
        pl.col("code").str.slice(0, 2).alias("province_code"),
        pl.col("code").str.slice(0, 4).alias("city_code"),
        pl.col("code").str.slice(0, 6).alias("district_code"),
        pl.col("code").str.slice(0, 9).alias("street_code"),
        pl.col("code").alias("community_code"),
    ).with_columns(
        pl.col(f"{level}_code").replace_strict(names, default=None).alias(f"{level}_name")
        for level in ("province", "city", "district", "street", "community")
    ).sort("community_code")
