"""Demo export of this system, in its native shape, with ground truth (see pipelines/demo/kit.py)."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.demo.kit import ExportContext, truth_rows, with_duplicates, with_garbage, write_csv
from pipelines.demo.noise import format_dates, noisy_ids, noisy_names


def export(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("jisheng")
    persons = ctx.pop.persons
    kids = persons.filter((pl.col("age") <= 3) & pl.col("relation_to_head").is_in(["子", "女"]))
    mothers = persons.filter(pl.col("relation_to_head").is_in(["户主", "配偶"]) & (pl.col("sex") == "女")).select(
        "household_idx", pl.col("person_id").alias("mother_person_id"), pl.col("name").alias("m_name"), pl.col("id_number").alias("m_id")
    ).unique("household_idx", keep="first", maintain_order=True)
    b = kids.join(mothers, on="household_idx", how="inner", maintain_order="left")
    n = b.height
    named = rng.random(n) < 0.9
    df = b.select(
        pl.col("mother_person_id").alias("person_id"),
        pl.col("person_id").alias("child_person_id"),
        "address_id",
        pl.Series("母亲姓名", noisy_names(b["m_name"], rng)),
        pl.Series("母亲身份证号", noisy_ids(b["m_id"], rng)),
        pl.Series("婴儿姓名", np.where(named, b["name"].to_numpy(), "")),
        pl.col("sex").alias("婴儿性别"),
        pl.Series("出生日期", format_dates(b["birth_date"], rng, "cn", 0.05)),
        pl.Series("出生医院", np.asarray(["浙江大学医学院附属妇产科医院", "杭州市妇产科医院", "浙江省人民医院", "杭州市第一人民医院"])[rng.integers(0, 4, n)]),
        pl.Series("家庭住址", ctx.addresses(b["address_id"], rng)),
        pl.col("phone").alias("联系电话"),
    )
    if df.height == 0:
        raise ValueError("no births in this population; generate more persons")
    df = with_duplicates(df, rng, 0.005)
    df = with_garbage(df, rng, {"出生日期": "2026年13月45日"})
    path = ctx.folder("jisheng") / "jisheng_csdj_2026W44.csv"
    write_csv(df.drop("person_id", "child_person_id", "address_id", "_kind"), path, "utf-8")
    return truth_rows("jisheng", path, df, 2)
