"""Identity numbers: resident ID (GB 11643-1999) and unified social credit code (GB 32100-2015).

Validation and normalisation are polars expressions (vectorised over a column); generation
helpers work on numpy digit arrays for the demo generator.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.text import empty_to_null

ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ID_CHECK_CHARS = "10X98765432"

CREDIT_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
# GB 11714 organisation code (characters 9-17 of the credit code) has its own check digit.
ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]


# ---------------------------------------------------------------- resident ID numbers
def _id_check_char(first17: pl.Expr) -> pl.Expr:
    total = pl.sum_horizontal(
        [first17.str.slice(i, 1).cast(pl.Int32, strict=False) * w for i, w in enumerate(ID_WEIGHTS)]
    )
    return (total % 11).replace_strict(list(range(11)), list(ID_CHECK_CHARS), return_dtype=pl.String)


def clean_id_expr(expr: pl.Expr) -> pl.Expr:
    """Strip separators and upper-case the check character (lowercase x is common)."""
    return empty_to_null(expr.cast(pl.String).str.replace_all(r"[\s\-_.']", "").str.to_uppercase())


def id_to_18_expr(cleaned: pl.Expr) -> pl.Expr:
    """15-digit legacy IDs → 18 digits (insert century 19, append the check character)."""
    first17 = cleaned.str.slice(0, 6) + pl.lit("19") + cleaned.str.slice(6, 9)
    upgraded = first17 + _id_check_char(first17)
    return pl.when(cleaned.str.contains(r"^\d{15}$")).then(upgraded).otherwise(cleaned)


def id_valid_expr(id18: pl.Expr) -> pl.Expr:
    """True when the ID has 18 characters, a real calendar birth date and a correct checksum."""
    shape_ok = id18.str.contains(r"^\d{17}[\dX]$")
    birth = id18.str.slice(6, 8).str.strptime(pl.Date, "%Y%m%d", strict=False)
    check_ok = id18.str.slice(17, 1) == _id_check_char(id18.str.slice(0, 17))
    return (shape_ok & birth.is_not_null() & check_ok).fill_null(False)


def id_birth_date_expr(id18: pl.Expr) -> pl.Expr:
    return id18.str.slice(6, 8).str.strptime(pl.Date, "%Y%m%d", strict=False)


def id_sex_expr(id18: pl.Expr) -> pl.Expr:
    """男 for an odd 17th digit, 女 for an even one."""
    digit = id18.str.slice(16, 1).cast(pl.Int32, strict=False)
    return pl.when(digit.is_null()).then(None).when(digit % 2 == 1).then(pl.lit("男")).otherwise(pl.lit("女"))


def id_check_chars(first17: np.ndarray) -> np.ndarray:
    """Check characters for an ``(n, 17)`` integer digit array (generation side)."""
    total = (first17 * np.asarray(ID_WEIGHTS)).sum(axis=1) % 11
    return np.asarray(list(ID_CHECK_CHARS))[total]


# ---------------------------------------------------------------- unified social credit codes
def credit_valid_expr(code: pl.Expr) -> pl.Expr:
    """True when an 18-character credit code uses the GB 32100 alphabet and its checksum holds."""
    shape_ok = code.str.contains(r"^[0-9A-HJ-NPQRTUWXY]{18}$")
    values = [
        code.str.slice(i, 1).replace_strict(
            list(CREDIT_CHARSET), list(range(31)), default=None, return_dtype=pl.Int32
        )
        for i in range(18)
    ]
    total = pl.sum_horizontal([v * w for v, w in zip(values[:17], CREDIT_WEIGHTS)])
    expected = (31 - total % 31) % 31
    return (shape_ok & (values[17] == expected)).fill_null(False)


def credit_check_chars(first17: np.ndarray) -> np.ndarray:
    """Check characters for an ``(n, 17)`` array of credit-code character values (0-30)."""
    total = (first17 * np.asarray(CREDIT_WEIGHTS)).sum(axis=1) % 31
    return np.asarray(list(CREDIT_CHARSET))[(31 - total) % 31]


def org_check_values(first8: np.ndarray) -> np.ndarray:
    """GB 11714 check values (0-10, 10 rendered as X) for an ``(n, 8)`` array of digit values."""
    total = (first8 * np.asarray(ORG_WEIGHTS)).sum(axis=1) % 11
    return (11 - total) % 11
