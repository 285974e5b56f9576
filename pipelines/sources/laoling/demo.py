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
    allowance = np.select([age >= 100, age >= 90, age >= 80], ["500", "300", "100"], "0").astype(object)
    # planted for the allowance policy with a generator of its own: aged 80+ and not yet granted (0 → 主动办)
    # or not known (blank → 提前告知)
    eighty = np.flatnonzero(age >= 80)
    chosen = ctx.rng("alerts:laoling").choice(eighty, size=min(len(eighty), max(4, len(eighty) // 40)), replace=False)
    granted_none, unknown = chosen[: (len(chosen) + 1) // 2], chosen[(len(chosen) + 1) // 2:]
    allowance[granted_none], allowance[unknown] = "0", ""
    ctx.plant("elderly_allowance_policy", p["id_number"].gather(granted_none), "主动办")
    ctx.plant("elderly_allowance_policy", p["id_number"].gather(unknown), "提前告知")
    age_text = np.where(rng.random(n) < 0.1, np.char.add(age.astype(str), "岁"), age.astype(str))
    df = p.select(
        "person_id",
        "address_id",
        pl.Series("姓名", noisy_names(p["name"], rng)),
        pl.Series("身份证号码", noisy_ids(p["id_number"], rng, legacy15=0.02, missing=0.01)),
        pl.col("sex").alias("性别"),
        pl.Series("年龄", age_text),
        pl.Series("居住状况", status),
        pl.Series("高龄津贴(元)", allowance.astype(str)),
        pl.Series("居住地址", ctx.addresses(p["address_id"], rng)),
        pl.col("phone").alias("联系电话"),
    )
    df = with_duplicates(df, rng, 0.003)
    df = with_garbage(df, rng, {"姓名": "0", "年龄": "不详"})
    cols = ["姓名", "身份证号码", "性别", "年龄", "居住状况", "高龄津贴(元)", "居住地址", "联系电话"]
    path = ctx.folder("laoling") / "上城区老年人基础信息_202610.xlsx"
    first = write_xlsx(path, ["上城区60周岁以上老年人基础信息表（2026年10月）"], None, cols, df)
    return truth_rows("laoling", path, df, first)
