"""``enteronce demo next-day``: the deliveries of a realistic next day for a generated district.

- 公安: an incremental register file with ``share`` of the residents changed — half of them moved
  to another standard address, half with a new phone — plus newborns registered to existing
  households (one per ten changes);
- 电力: one more day of meter readings for every account.

Written next to the existing exports in ``landing/``; the truth folder is not touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.ids import id_check_chars

ID_COLUMN, ADDRESS_COLUMN, PHONE_COLUMN = "公民身份号码", "现住址", "联系电话"


@dataclass
class NextDay:
    gongan_file: Path
    moved: int
    new_phone: int
    births: int
    dianli_file: Path
    readings: int


def read_register(landing: Path) -> pl.DataFrame:
    biggest = max((landing / "gongan").glob("*.csv"), key=lambda p: p.stat().st_size)
    return pl.read_csv(biggest, encoding="gb18030", infer_schema=False)


def next_day(data: Path, share: float = 0.01, seed: int = 1) -> NextDay:
    """Write the next day's 公安 and 电力 deliveries into ``data/landing`` and say what they hold."""
    landing = Path(data) / "landing"
    rng = np.random.default_rng(seed)
    register = read_register(landing).filter(pl.col(ID_COLUMN).str.len_chars() == 18)
    changed = register.sample(fraction=share, seed=seed, shuffle=True)
    half = changed.height // 2
    elsewhere = register.sample(n=half, seed=seed + 1)[ADDRESS_COLUMN]
    moved = changed.head(half).with_columns(elsewhere.alias(ADDRESS_COLUMN))
    phones = pl.Series(PHONE_COLUMN, [f"13{d:09d}" for d in rng.integers(0, 10**9, changed.height - half)])
    rephoned = changed.tail(changed.height - half).with_columns(phones)
    parents = changed.head(max(changed.height // 10, 1))
    day = _next_reading_date(landing)
    # 6-digit area of the parent's own ID, the birth date, a serial unique within the day
    first17 = [f"{area}{day:%Y%m%d}{n:03d}" for area, n in zip(parents[ID_COLUMN].str.slice(0, 6), range(parents.height))]
    checks = id_check_chars(np.array([[int(c) for c in f] for f in first17]))
    babies = parents.with_columns(
        pl.Series(ID_COLUMN, [f + c for f, c in zip(first17, checks)]),
        (pl.col("姓名").str.slice(0, 1) + pl.lit("小宝")).alias("姓名"),
        pl.lit(day.strftime("%Y%m%d")).alias("出生日期"),
        pl.lit("子").alias("与户主关系"),
        # the sex the ID encodes (17th digit odd: male), as the register writes it
        pl.Series("性别", ["男" if int(f[-1]) % 2 else "女" for f in first17]),
    )
    delivery = pl.concat([moved, rephoned, babies])
    gongan_file = landing / "gongan" / f"gongan_hjrk_{day + timedelta(days=1):%Y%m%d}_增量.csv"
    gongan_file.write_bytes(delivery.write_csv().encode("gbk", errors="replace"))
    dianli_file, readings = _next_power_day(landing, day, rng)
    return NextDay(gongan_file, moved.height, rephoned.height, babies.height, dianli_file, readings)


def _next_reading_date(landing: Path):
    last = max((landing / "dianli").glob("*.parquet"))
    return pl.read_parquet(last, columns=["data_date"])["data_date"].max() + timedelta(days=1)


def _next_power_day(landing: Path, day, rng) -> tuple[Path, int]:
    files = sorted((landing / "dianli").glob("*.parquet"))
    last = pl.read_parquet(files[-1])
    # each day ±20 % of the day before, kept inside the range of the first delivery: a plain
    # random walk drifts past the 500 kWh rule after a few weeks of next days
    ceiling = pl.read_parquet(files[0], columns=["pap_e"])["pap_e"].max()
    factor = pl.Series(rng.uniform(0.8, 1.2, last.height))
    readings = last.with_columns(pl.lit(day).alias("data_date"), (pl.col("pap_e") * factor).clip(upper_bound=ceiling).round(2).alias("pap_e"))
    path = landing / "dianli" / f"dianli_rydl_{day:%Y%m%d}.parquet"
    readings.write_parquet(path)
    return path, readings.height
