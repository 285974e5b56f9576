"""Demo export of this system, in its native shape, with ground truth (see pipelines/demo/kit.py)."""

from __future__ import annotations

import json

import numpy as np
import polars as pl

from pipelines.demo.kit import ExportContext, business_frame, truth_rows, with_duplicates, with_garbage, ymd
from pipelines.demo.population import REFERENCE_DATE


def export(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("shichang")
    b = business_frame(ctx, ctx.pop.businesses, rng)
    n = b.height
    forever = rng.random(n) < 0.2
    df = b.select(
        "business_id",
        "address_id",
        pl.col("business_name").alias("entName"),
        pl.Series("uniscid", np.where(rng.random(n) < 0.01, np.char.lower(b["credit_code"].to_numpy().astype(str)), b["credit_code"].to_numpy())),
        pl.col("legal_representative").alias("legalRep"),
        pl.col("registered_capital").alias("regCap"),
        pl.col("established_date").dt.strftime("%Y-%m-%d").alias("estDate"),
        pl.Series("opTo", np.where(forever, "长期", b["licence_expiry"].dt.strftime("%Y-%m-%d").to_numpy())),
        pl.col("business_status").alias("regState"),
        pl.col("_address").alias("dom"),
        pl.col("phone").alias("tel"),
    )
    df = with_duplicates(df, rng, 0.003)
    df = with_garbage(df, rng, {"uniscid": "待补录"}, per=1500)
    records = df.drop("business_id", "address_id", "_kind").to_dicts()
    path = ctx.folder("shichang") / f"scjg_scztdj_{ymd(REFERENCE_DATE)}.json"
    path.write_text(json.dumps({"total": len(records), "data": records}, ensure_ascii=False, indent=1), encoding="utf-8")
    return truth_rows("shichang", path, df, 1)
