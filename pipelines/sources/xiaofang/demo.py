"""Demo export of this system, in its native shape, with ground truth (see pipelines/demo/kit.py)."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.demo.kit import ExportContext, business_frame, truth_rows, with_duplicates, with_garbage, write_csv
from pipelines.demo.noise import format_dates


def export(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("xiaofang")
    b = ctx.pop.businesses
    b = business_frame(ctx, b[rng.choice(b.height, max(3, b.height // 3), replace=False)], rng)
    n = b.height
    hazards = rng.choice([0, 0, 0, 1, 2, 3], n)
    df = b.select(
        "business_id",
        "address_id",
        pl.col("business_name").alias("单位名称"),
        pl.Series("社会信用代码", np.where(rng.random(n) < 0.7, b["credit_code"].to_numpy(), "")),
        pl.col("_address").alias("场所地址"),
        pl.Series("检查日期", format_dates(pl.Series((np.datetime64("2026-10-01") + rng.integers(0, 31, n).astype("timedelta64[D]")).astype("datetime64[D]")).cast(pl.Date), rng, "iso", 0.03)),
        pl.Series("检查结论", np.where(hazards > 0, "不合格", "合格")),
        pl.Series("隐患数量", np.where(rng.random(n) < 0.3, np.char.add(hazards.astype(str), "处"), hazards.astype(str))),
        pl.col("legal_representative").alias("负责人"),
    )
    df = with_duplicates(df, rng, 0.005)
    df = with_garbage(df, rng, {"检查日期": "——"}, per=1500)
    path = ctx.folder("xiaofang") / "xiaofang_jcjl_202610.csv"
    write_csv(df.drop("business_id", "address_id", "_kind"), path, "utf-8")
    return truth_rows("xiaofang", path, df, 2)
