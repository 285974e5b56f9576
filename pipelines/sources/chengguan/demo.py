"""Demo export of this system, in its native shape, with ground truth (see pipelines/demo/kit.py)."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.demo.kit import ExportContext, business_frame, truth_rows, with_duplicates, with_garbage, write_xlsx
from pipelines.demo.noise import format_dates


def export(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("chengguan")
    shops = ctx.pop.businesses.filter(pl.col("individual") & (pl.col("business_status") != "注销"))
    visits = shops[np.repeat(np.arange(shops.height), rng.integers(1, 4, shops.height))]
    visits = business_frame(ctx, visits, rng)
    n = visits.height
    day = (np.datetime64("2026-10-01") + rng.integers(0, 31, n).astype("timedelta64[D]")).astype("datetime64[D]")
    result = np.asarray(["合格", "责令整改", "已整改"])[rng.choice(3, n, p=[0.75, 0.15, 0.1])]
    issue = np.where(result == "合格", "", np.asarray(["占道经营", "门前三包不到位", "店招破损", "乱堆放"])[rng.integers(0, 4, n)])
    df = visits.select(
        "business_id",
        "address_id",
        pl.col("business_name").str.replace("^上城区", "").alias("店铺名称"),
        pl.Series("统一社会信用代码", np.where(rng.random(n) < 0.6, visits["credit_code"].to_numpy(), "")),
        pl.col("legal_representative").alias("经营者"),
        pl.col("_address").alias("经营地址"),
        pl.Series("巡查日期", format_dates(pl.Series(day).cast(pl.Date), rng, "slash", 0.05)),
        pl.Series("巡查结果", result),
        pl.Series("问题描述", issue),
        pl.col("phone").alias("联系电话"),
    )
    df = with_duplicates(df, rng, 0.005)
    df = with_garbage(df, rng, {"店铺名称": "", "巡查日期": "见上"}, per=2000)
    cols = ["店铺名称", "统一社会信用代码", "经营者", "经营地址", "巡查日期", "巡查结果", "问题描述", "联系电话"]
    path = ctx.folder("chengguan") / "城管沿街商铺巡查记录_202610.xlsx"
    first = write_xlsx(path, ["上城区沿街商铺巡查记录表", "填报单位：上城区城市管理局    统计周期：2026年10月"], None, cols, df)
    return truth_rows("chengguan", path, df, first)
