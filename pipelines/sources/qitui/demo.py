"""Demo export of this system, in its native shape, with ground truth (see pipelines/demo/kit.py)."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.demo.kit import ExportContext, truth_rows, with_duplicates, with_garbage, write_csv
from pipelines.demo.noise import format_dates, noisy_ids, noisy_names


def export(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("qitui")
    p = ctx.pop.persons.filter(pl.col("age") >= pl.when(pl.col("sex") == "男").then(60).otherwise(55))
    p = p[rng.choice(p.height, int(p.height * 0.6), replace=False)]
    n = p.height
    retire_age = np.where(p["sex"].to_numpy() == "男", 60, 55)
    retired = (p["birth_date"].to_numpy().astype("datetime64[D]") + (retire_age * 365.25).astype("timedelta64[D]")).astype("datetime64[D]")
    pension = np.round(rng.normal(3600, 900, n).clip(1800, 12000), 2)
    pension_text = np.where(rng.random(n) < 0.2, np.char.add(np.char.mod("%.2f", pension), "元"), np.char.mod("%.2f", pension))
    df = p.select(
        "person_id",
        "address_id",
        pl.Series("姓名", noisy_names(p["name"], rng)),
        pl.Series("身份证号", noisy_ids(p["id_number"], rng, legacy15=0.3)),
        pl.col("sex").alias("性别"),
        pl.Series("退休日期", format_dates(pl.Series(retired).cast(pl.Date), rng, "dot", 0.05)),
        pl.Series("月养老金", pension_text),
        pl.Series("原工作单位", np.asarray(["杭州钢铁厂", "杭州丝绸印染厂", "浙江麻纺织厂", "杭州制氧机厂", "杭州第一棉纺厂", "杭州汽车发动机厂"])[rng.integers(0, 6, n)]),
        pl.Series("居住地址", ctx.addresses(p["address_id"], rng)),
        pl.col("phone").alias("联系电话"),
    )
    df = with_duplicates(df, rng, 0.004)
    df = with_garbage(df, rng, {"退休日期": "待核实", "月养老金": "见附表"})
    path = ctx.folder("qitui") / "qitui_txry_202610.csv"
    write_csv(df.drop("person_id", "address_id", "_kind"), path, "gbk")
    return truth_rows("qitui", path, df, 2)
