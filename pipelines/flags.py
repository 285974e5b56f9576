"""The person flags downstream needs, as polars expressions over a golden person's columns.

One definition for the person master (which derives them for everyone) and for gold (which
derives them again for persons whose living status or birth date a correction changed)."""

from __future__ import annotations

import polars as pl


def person_flags() -> list[pl.Expr]:
    """Flags from ``age``, ``occupants`` (people in the same room), ``living_status``,
    ``disability_type``, ``assistance_type`` and ``registered``."""
    return [
        (pl.col("age") >= 60).fill_null(False).alias("elderly_60"),
        (pl.col("age") >= 80).fill_null(False).alias("elderly_80"),
        ((pl.col("occupants") == 1) & (pl.col("age") >= 60) | pl.col("living_status").is_in(["独居", "孤寡"])).fill_null(False).alias("living_alone"),
        (pl.col("living_status") == "孤寡").fill_null(False).alias("gugua"),
        pl.col("disability_type").is_not_null().alias("disabled"),
        pl.col("assistance_type").is_not_null().alias("subsidy_recipient"),
        (~pl.col("registered").fill_null(False)).alias("floating_population"),  # 流动人口: a key group for the grid
    ]
