"""Demo export of this system, in its native shape, with ground truth (see pipelines/demo/kit.py)."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.demo.kit import ExportContext, truth_rows, with_duplicates, with_garbage, ymd
from pipelines.demo.population import REFERENCE_DATE

EVENT_CATEGORIES = ["矛盾纠纷", "安全隐患", "环境卫生", "违章搭建", "消防通道占用", "独居老人关爱", "设施损坏"]


def export(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("zongzhi")
    base = ctx.pop.addresses
    n = max(10, ctx.pop.persons.height // 50)
    where = base[rng.integers(0, base.height, n)]
    t0 = np.datetime64("2026-10-01T00:00:00")
    when = t0 + rng.integers(0, 31 * 86400, n).astype("timedelta64[s]")
    cat = np.asarray(EVENT_CATEGORIES)[rng.integers(0, len(EVENT_CATEGORIES), n)]
    ts = pl.Series(when.astype("datetime64[ms]")).cast(pl.Datetime("us"))
    fmt = rng.random(n) < 0.8
    reporters = ctx.pop.persons["name"].to_numpy()[rng.integers(0, ctx.pop.persons.height, 40)]
    df = where.select(
        "address_id",
        pl.format("SJ{}", pl.int_range(0, n).cast(pl.String).str.zfill(7)).alias("event_no"),
        pl.Series("report_time", np.where(fmt, ts.dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy(), ts.dt.strftime("%Y/%-m/%-d %H:%M").to_numpy())),
        pl.format("{}{}", pl.col("community_code"), pl.Series(rng.integers(1, 20, n)).cast(pl.String).str.zfill(3)).alias("grid_code"),
        pl.Series("reporter", reporters[rng.integers(0, 40, n)]),
        pl.Series("category", cat),
        pl.Series("content", np.char.add(cat.astype(str), "，网格员巡查发现，已拍照上报。")),
        pl.Series("location", ctx.addresses(where["address_id"], rng, free_text=True)),
    )
    df = with_duplicates(df, rng, 0.01)
    df = with_garbage(df, rng, {"report_time": "刚才"}, per=1000)
    path = ctx.folder("zongzhi") / f"zongzhi_wgsj_{ymd(REFERENCE_DATE)}.jsonl"
    path.write_text(df.drop("address_id", "_kind").write_ndjson(), encoding="utf-8")
    return truth_rows("zongzhi", path, df, 1)
