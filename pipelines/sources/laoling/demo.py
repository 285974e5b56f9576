"""Demo export of this system, in its native shape, with ground truth (see pipelines/demo/kit.py)."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.demo.kit import ExportContext, truth_rows, with_duplicates, with_garbage, write_xlsx
from pipelines.demo.noise import noisy_ids, noisy_names


def export(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("laoling")
    p = ctx.pop.persons.filter(pl.col("age") >= 60)
    n = p.height
    alone = (p["household_size"] == 1).to_numpy()
    status = np.where(alone, np.where(rng.random(n) < 0.15, "孤寡", "独居"), np.where(rng.random(n) < 0.5, "与子女同住", "与配偶同住"))
    age = p["age"].to_numpy()
    allowance = np.select([age >= 100, age >= 90, age >= 80], ["500", "300", "100"], "0")
    age_text = np.where(rng.random(n) < 0.1, np.char.add(age.astype(str), "岁"), age.astype(str))
    df = p.select(
        "person_id",
        "address_id",
        pl.Series("姓名", noisy_names(p["name"], rng)),
        pl.Series("身份证号码", noisy_ids(p["id_number"], rng, legacy15=0.02, missing=0.01)),
        pl.col("sex").alias("性别"),
        pl.Series("年龄", age_text),
        pl.Series("居住状况", status),
        pl.Series("高龄津贴(元)", allowance),
        pl.Series("居住地址", ctx.addresses(p["address_id"], rng)),
        pl.col("phone").alias("联系电话"),
    )
    df = with_duplicates(df, rng, 0.003)
    df = with_garbage(df, rng, {"姓名": "0", "年龄": "不详"})
    cols = ["姓名", "身份证号码", "性别", "年龄", "居住状况", "高龄津贴(元)", "居住地址", "联系电话"]
    path = ctx.folder("laoling") / "上城区老年人基础信息_202610.xlsx"
    first = write_xlsx(path, ["上城区60周岁以上老年人基础信息表（2026年10月）"], None, cols, df)
    return truth_rows("laoling", path, df, first)
