"""Demo export of this system, in its native shape, with ground truth (see pipelines/demo/kit.py)."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.demo.kit import ExportContext, truth_rows, with_duplicates, with_garbage, write_csv, ymd
from pipelines.demo.noise import noisy_ids, noisy_names
from pipelines.demo.population import REFERENCE_DATE

DISABILITY_TYPES = ["视力残疾", "听力残疾", "言语残疾", "肢体残疾", "智力残疾", "精神残疾", "多重残疾"]
GRADES = ["一级", "二级", "三级", "四级"]


def export(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("canlian")
    p = ctx.pop.persons
    p = p[rng.choice(p.height, max(3, p.height // 35), replace=False)]
    n = p.height
    t = rng.integers(0, 7, n)
    g = rng.choice(4, n, p=[0.15, 0.25, 0.3, 0.3])
    cert = pl.Series(p["id_number"]) + pl.Series((t + 1).astype(str)) + pl.Series((g + 1).astype(str))
    df = p.select(
        "person_id",
        "address_id",
        pl.Series("姓名", noisy_names(p["name"], rng)),
        pl.Series("身份证号", noisy_ids(p["id_number"], rng)),
        pl.col("sex").alias("性别"),
        pl.Series("残疾证号", cert),
        pl.Series("残疾类别", np.asarray(DISABILITY_TYPES)[t]),
        pl.Series("残疾等级", np.asarray(GRADES)[g]),
        pl.Series("补贴金额", np.where(g < 2, "320", "160")),
        pl.Series("居住地址", ctx.addresses(p["address_id"], rng)),
        pl.col("phone").alias("联系电话"),
    )
    df = with_duplicates(df, rng, 0.005)
    df = with_garbage(df, rng, {"残疾证号": "", "姓名": "***"})
    path = ctx.folder("canlian") / f"canlian_cjr_{ymd(REFERENCE_DATE)}.csv"
    write_csv(df.drop("person_id", "address_id", "_kind"), path, "utf-8-sig")
    return truth_rows("canlian", path, df, 2)
