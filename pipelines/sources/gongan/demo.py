"""Demo export of this system, in its native shape, with ground truth (see pipelines/demo/kit.py)."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from pipelines.demo.kit import ExportContext, truth_rows, with_duplicates, with_garbage, write_csv, ymd
from pipelines.demo.noise import format_dates, full_width, noisy_ids, noisy_names
from pipelines.demo.population import REFERENCE_DATE


def export(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("gongan")
    p = ctx.pop.persons.filter(pl.col("registered"))
    df = p.select(
        "person_id",
        "address_id",
        pl.col("household_no").alias("户号"),
        pl.Series("姓名", noisy_names(p["name"], rng, 0.004, 0.0)),
        pl.Series("公民身份号码", noisy_ids(p["id_number"], rng, bad_check=0.002, missing=0.0)),
        pl.col("sex").alias("性别"),
        pl.col("ethnicity").alias("民族"),
        pl.Series("出生日期", format_dates(p["birth_date"], rng, "compact", 0.02)),
        pl.col("relation_to_head").alias("与户主关系"),
        pl.Series("户籍地址", ctx.addresses(p["registered_address_id"], rng)),
        pl.Series("现住址", ctx.addresses(p["address_id"], rng)),
        pl.Series("联系电话", full_width(p["phone"], rng, 0.01)),
    )
    df = with_duplicates(df, rng, 0.004)
    df = with_garbage(df, rng, {"姓名": "#REF!", "公民身份号码": "作废"})
    cols = ["户号", "姓名", "公民身份号码", "性别", "民族", "出生日期", "与户主关系", "户籍地址", "现住址", "联系电话"]
    path = ctx.folder("gongan") / f"gongan_hjrk_{ymd(REFERENCE_DATE)}.csv"
    write_csv(df.select(cols), path, "gbk")
    truth = [truth_rows("gongan", path, df, 2)]
    # A late correction batch: the register fixes phone numbers and current addresses.
    fix = p.sample(max(1, p.height // 200), seed=ctx.seed)
    corr = fix.select(
        "person_id",
        "address_id",
        pl.col("household_no").alias("户号"),
        pl.col("name").alias("姓名"),
        pl.col("id_number").alias("公民身份号码"),
        pl.col("sex").alias("性别"),
        pl.col("ethnicity").alias("民族"),
        pl.col("birth_date").dt.strftime("%Y%m%d").alias("出生日期"),
        pl.col("relation_to_head").alias("与户主关系"),
        pl.Series("户籍地址", ctx.addresses(fix["registered_address_id"], rng)),
        pl.Series("现住址", ctx.addresses(fix["address_id"], rng, free_text=False)),
        pl.col("phone").alias("联系电话"),
    ).with_columns(pl.lit("correction").alias("_kind"))
    cpath = ctx.folder("gongan") / f"gongan_hjrk_{ymd(REFERENCE_DATE + timedelta(days=1))}_更正.csv"
    write_csv(corr.select(cols), cpath, "gbk")
    truth.append(truth_rows("gongan", cpath, corr, 2))
    return pl.concat(truth)
