"""Demo export of this system, in its native shape, with ground truth (see pipelines/demo/kit.py)."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.demo.kit import ExportContext, truth_rows, with_duplicates, with_garbage, write_xlsx
from pipelines.demo.noise import noisy_ids


def export(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("minzheng")
    heads = ctx.pop.persons.filter(pl.col("relation_to_head") == "户主")
    heads = heads[rng.choice(heads.height, max(3, heads.height // 60), replace=False)]
    n = heads.height
    kind = np.asarray(["低保", "低边", "特困"])[rng.choice(3, n, p=[0.6, 0.3, 0.1])]
    per_head = np.select([kind == "低保", kind == "低边"], [1182.0, 591.0], 1537.0)
    start = (np.datetime64("2026-10-01") - rng.integers(30, 3000, n).astype("timedelta64[D]")).astype("datetime64[D]")
    df = heads.select(
        "person_id",
        "address_id",
        pl.col("name").alias("姓名"),
        pl.Series("身份证号", noisy_ids(heads["id_number"], rng)),
        pl.col("phone").alias("联系电话"),
        pl.col("household_size").alias("家庭人口"),
        pl.Series("家庭住址", ctx.addresses(heads["address_id"], rng)),
        pl.Series("救助类别", kind),
        pl.Series("月救助金额(元)", np.round(per_head * heads["household_size"].to_numpy(), 2)),
        pl.lit("2026年10月").alias("发放月份"),
        pl.Series("起始日期", start).cast(pl.Date),
    )
    df = with_duplicates(df, rng, 0.005)
    df = with_garbage(df, rng, {"姓名": "合计", "身份证号": "", "救助类别": ""}, per=10**9)
    df = df.with_row_index("序号", offset=1).with_columns(pl.col("序号").cast(pl.Int64))
    cols = ["序号", "姓名", "身份证号", "联系电话", "家庭人口", "家庭住址", "救助类别", "月救助金额(元)", "发放月份", "起始日期"]
    path = ctx.folder("minzheng") / "上城区社会救助发放花名册_202610.xlsx"
    first = write_xlsx(
        path,
        ["上城区2026年10月城乡低保、低边、特困人员救助金发放花名册"],
        [("序号", 1), ("户主信息", 3), ("家庭信息", 2), ("救助信息", 4)],
        cols,
        df,
        date_cols=("起始日期",),
    )
    return truth_rows("minzheng", path, df, first)
