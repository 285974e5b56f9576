"""The kit every system's demo export uses: context, noise steps, writers, ground-truth rows.

Each system's export lives with its spec (``pipelines/sources/<system>/demo.py``, ``export(ctx)``):
it picks the people, premises or events that system knows about, renders them the way that
system's staff type them (noise), writes the file(s) under ``landing/<system>/`` and returns
ground-truth rows: which file row is which person, address and business, and whether the row is
expected to pass (``silver``) or be quarantined. The pipelines never read the truth; tests and
benchmarks do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import xlsxwriter

from pipelines.demo.noise import render_addresses
from pipelines.demo.population import Population, planted_cases

TRUTH_SCHEMA = {
    "system": pl.String,
    "file": pl.String,
    "source_row": pl.Int64,
    "person_id": pl.String,
    "address_id": pl.String,
    "business_id": pl.String,
    "child_person_id": pl.String,  # births: the baby (person_id is the mother)
    "expect": pl.String,  # silver | quarantine
    "kind": pl.String,  # original | duplicate | correction | garbage
}
ADDRESS_PARTS = ["address_id", "province_name", "city_name", "district_name", "street_name", "community_name", "road", "road_no", "compound", "building", "unit", "room"]


@dataclass
class ExportContext:
    pop: Population
    landing: Path
    seed: int
    noise: float = 1.0
    power_days: int = 30
    truth: Path | None = None  # where an export may write ground truth of its own (beyond record rows)
    counts: dict[str, int] = field(default_factory=dict)  # records written, for exports without record rows
    planted: list[pl.DataFrame] = field(default_factory=list)  # alert cases an export planted (see plant)

    def rng(self, system: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, sum(system.encode())])

    def plant(self, rule_id: str, keys: list[str] | pl.Series, action: str | None = None) -> None:
        """Record cases the proactive alert rule ``rule_id`` must find (written to truth/alerts_planted.parquet)."""
        self.planted.append(planted_cases(rule_id, keys, action))

    def folder(self, system: str) -> Path:
        path = self.landing / system
        path.mkdir(parents=True, exist_ok=True)
        return path

    def addresses(self, address_ids: pl.Series, rng: np.random.Generator, free_text: bool = False) -> pl.Series:
        parts = pl.DataFrame({"address_id": address_ids}).join(
            self.pop.addresses.select(ADDRESS_PARTS), on="address_id", how="left", maintain_order="left"
        )
        return render_addresses(parts, rng, self.noise, free_text)


# ------------------------------------------------------------------------------ shared steps
def with_duplicates(df: pl.DataFrame, rng: np.random.Generator, share: float) -> pl.DataFrame:
    """Repeat a share of rows (the same record delivered twice), at random positions."""
    n_dup = int(df.height * share)
    df = df.with_columns(pl.lit("original").alias("_kind"))
    if n_dup:
        dups = df[rng.choice(df.height, n_dup, replace=False)].with_columns(pl.lit("duplicate").alias("_kind"))
        df = pl.concat([df, dups])
    return df[rng.permutation(df.height)]


def with_garbage(df: pl.DataFrame, rng: np.random.Generator, columns: dict[str, str], per: int = 4000) -> pl.DataFrame:
    """Overwrite a few rows with unusable values (e.g. ``#REF!`` in a name) — quarantine expected."""
    n = max(1, df.height // per)
    idx = rng.choice(df.height, n, replace=False)
    flag = np.zeros(df.height, dtype=bool)
    flag[idx] = True
    f = pl.Series(flag)
    return df.with_columns(
        *[pl.when(f).then(pl.lit(v)).otherwise(pl.col(c)).alias(c) for c, v in columns.items()],
        pl.when(f).then(pl.lit("garbage")).otherwise(pl.col("_kind")).alias("_kind"),
    )


def truth_rows(system: str, file: Path, df: pl.DataFrame, first_row: int) -> pl.DataFrame:
    cols = {c: (pl.col(c) if c in df.columns else pl.lit(None, pl.String)) for c in ("person_id", "address_id", "business_id", "child_person_id")}
    return df.select(
        pl.lit(system).alias("system"),
        pl.lit(file.name).alias("file"),
        pl.int_range(first_row, first_row + df.height, dtype=pl.Int64).alias("source_row"),
        *[e.alias(c) for c, e in cols.items()],
        pl.when(pl.col("_kind") == "garbage").then(pl.lit("quarantine")).otherwise(pl.lit("silver")).alias("expect"),
        pl.col("_kind").alias("kind"),
    )


def write_csv(df: pl.DataFrame, path: Path, encoding: str) -> None:
    text = df.write_csv(null_value="")
    path.write_bytes(text.encode(encoding))


def write_xlsx(path: Path, titles: list[str], groups: list[tuple[str, int]] | None, columns: list[str], df: pl.DataFrame, date_cols: tuple[str, ...] = ()) -> int:
    """A report-style workbook: merged title rows, optional merged group header, then data.

    Returns the Excel row number of the first data row (1-based) for ground truth.
    """
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    wb.set_properties({"created": datetime(2026, 11, 1)})  # fixed, so output is deterministic per seed
    ws = wb.add_worksheet("Sheet1")
    bold = wb.add_format({"bold": True, "align": "center"})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    width = len(columns)
    row = 0
    for title in titles:
        ws.merge_range(row, 0, row, width - 1, title, bold)
        row += 1
    if groups:
        col = 0
        for label, span in groups:
            if span == 1:
                ws.merge_range(row, col, row + 1, col, label, bold)
            else:
                ws.merge_range(row, col, row, col + span - 1, label, bold)
                ws.write_row(row + 1, col, columns[col : col + span], bold)
            col += span
        row += 2
    else:
        ws.write_row(row, 0, columns, bold)
        row += 1
    first = row + 1
    date_idx = {columns.index(c) for c in date_cols}
    for values in df.select(columns).iter_rows():
        for j, value in enumerate(values):
            if value is None:
                continue
            if j in date_idx and isinstance(value, date):
                ws.write_datetime(row, j, datetime(value.year, value.month, value.day), date_fmt)
            else:
                ws.write(row, j, value)
        row += 1
    wb.close()
    return first


def ymd(d: date) -> str:
    return d.strftime("%Y%m%d")




def business_frame(ctx: ExportContext, b: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    return b.with_columns(pl.Series("_address", ctx.addresses(b["address_id"], rng)))




