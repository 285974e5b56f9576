"""Demo export of this system, in its native shape, with ground truth (see pipelines/demo/kit.py)."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.demo.kit import ExportContext, truth_rows, with_duplicates, ymd
from pipelines.demo.noise import format_dates, noisy_ids, noisy_names
from pipelines.demo.population import REFERENCE_DATE


def export(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("renshe")
    p = ctx.pop.persons.filter(pl.col("age").is_between(16, 64))
    p = p[rng.choice(p.height, int(p.height * 0.85), replace=False)]
    n = p.height
    employers = ctx.pop.businesses["business_name"].to_numpy()
    df = p.select(
        "person_id",
        "address_id",
        pl.Series("xm", noisy_names(p["name"], rng)),
        pl.Series("sfzh", noisy_ids(p["id_number"], rng)),
        pl.Series("xb", np.where(p["sex"].to_numpy() == "男", "1", "2")),
        pl.Series("csrq", format_dates(p["birth_date"], rng, "compact", 0.0)),
        pl.Series("jyzt", np.asarray(["就业", "灵活就业", "失业", "退休"])[rng.choice(4, n, p=[0.7, 0.15, 0.05, 0.1])]),
        pl.Series("cbzt", np.asarray(["参保缴费", "暂停缴费", "未参保"])[rng.choice(3, n, p=[0.85, 0.1, 0.05])]),
        pl.Series("dwmc", employers[rng.integers(0, len(employers), n)]),
        pl.col("phone").alias("lxdh"),
        pl.Series("jzdz", ctx.addresses(p["address_id"], rng)),
    )
    df = with_duplicates(df, rng, 0.004)
    path = ctx.folder("renshe") / f"renshe_jycb_{ymd(REFERENCE_DATE)}.jsonl"
    lines = df.drop("person_id", "address_id", "_kind").write_ndjson().splitlines()
    # One export interrupted mid-record, the way a timed-out API page looks.
    bad = int(rng.integers(0, len(lines)))
    lines[bad] = lines[bad][: len(lines[bad]) // 2]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    df = df.with_columns(pl.when(pl.int_range(pl.len()) == bad).then(pl.lit("garbage")).otherwise(pl.col("_kind")).alias("_kind"))
    return truth_rows("renshe", path, df, 1)
