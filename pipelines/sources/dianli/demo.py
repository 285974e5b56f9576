"""Demo export of this system, in its native shape, with ground truth (see pipelines/demo/kit.py)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from pipelines.demo.kit import ExportContext, ymd
from pipelines.demo.population import REFERENCE_DATE


def export(ctx: ExportContext) -> None:
    """Daily Parquet files, one per day. Truth is per account (rows × days would be huge):
    ``truth/dianli_accounts.parquet`` and ``truth/dianli_missing.parquet``."""
    rng = ctx.rng("dianli")
    heads = ctx.pop.persons.filter(pl.col("relation_to_head") == "户主")
    accounts = heads.select(
        "power_account_no",
        "person_id",
        "address_id",
        "household_size",
        pl.col("age"),
        pl.col("name").alias("cons_name"),
    ).with_columns(pl.Series("elec_addr", ctx.addresses(heads["address_id"], rng)))
    n = accounts.height
    base_kwh = rng.gamma(4.0, 1.2, n) * (0.6 + 0.4 * accounts["household_size"].to_numpy())
    # Some older people living alone stop using power in the last days (the care alert's signal).
    eligible = (accounts["household_size"].to_numpy() == 1) & (accounts["age"].to_numpy() >= 70)
    silent = eligible & (rng.random(n) < 0.05)
    # planted for the power-drop alert with a generator of its own, so that even a small district has some
    extra = ctx.rng("alerts:dianli").choice(np.flatnonzero(eligible), size=min(int(eligible.sum()), 2), replace=False)
    silent[extra] = True
    ctx.plant("power_drop_living_alone", ctx.pop.persons.filter(pl.col("person_id").is_in(accounts.filter(pl.Series(silent))["person_id"].implode()))["id_number"])
    end = REFERENCE_DATE - timedelta(days=1)
    folder = ctx.folder("dianli")
    garbage_rows = []
    for d in range(ctx.power_days):
        day = end - timedelta(days=ctx.power_days - 1 - d)
        kwh = np.round(base_kwh * rng.lognormal(0.0, 0.25, n), 2)
        if d >= ctx.power_days - 3:
            kwh = np.where(silent, np.round(rng.random(n) * 0.05, 2), kwh)
        missing = rng.random(n) < 0.0005
        frame = accounts.select(
            "power_account_no", "cons_name", "elec_addr",
            pl.lit(day).alias("data_date"),
            pl.Series("pap_e", np.where(missing, np.nan, kwh)).fill_nan(None),
        )
        path = folder / f"dianli_rydl_{ymd(day)}.parquet"
        frame.rename({"power_account_no": "cons_no"}).write_parquet(path)
        idx = np.flatnonzero(missing)
        garbage_rows.append(
            pl.DataFrame({"file": [path.name] * len(idx), "source_row": (idx + 1).astype(np.int64)}, schema={"file": pl.String, "source_row": pl.Int64})
        )
    truth_accounts = accounts.select("power_account_no", "person_id", "address_id", pl.Series("silent_last_3_days", silent))
    assert ctx.truth is not None
    truth_accounts.write_parquet(ctx.truth / "dianli_accounts.parquet")
    pl.concat(garbage_rows).write_parquet(ctx.truth / "dianli_missing.parquet")
    ctx.counts["dianli"] = truth_accounts.height * ctx.power_days
    return None
