"""Date and datetime parsing for every format the departmental systems use, as polars expressions.

Handled: 2021-03-05, 2021/3/5, 2021.03.05, 20210305, 2021年3月5日, the same followed by a time,
year-month alone (2026年10月 → the 1st),
full-width digits, and Excel serial day numbers (a date cell read as text). Unreadable or
impossible dates (2021-02-30) give null; the caller decides whether that quarantines the row.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from pipelines.text import full_to_half_width

_EXCEL_EPOCH = pl.date(1899, 12, 30)
_YMD = r"^(\d{4})\s*[-/.年]?\s*(\d{1,2})\s*[-/.月]?\s*(\d{1,2})\s*日?"
_TIME = r"(?:[\sT]*(\d{1,2})[:时](\d{1,2})(?:[:分](\d{1,2}))?秒?)?"


def _clean(expr: pl.Expr) -> pl.Expr:
    return full_to_half_width(expr.cast(pl.String)).str.strip_chars()


def _ymd_string(text: pl.Expr) -> pl.Expr:
    parts = text.str.extract_groups(_YMD + r"(?:[\sT].*)?$")
    return pl.format(
        "{}-{}-{}",
        parts.struct.field("1"),
        parts.struct.field("2").str.zfill(2),
        parts.struct.field("3").str.zfill(2),
    )


def parse_date_expr(expr: pl.Expr) -> pl.Expr:
    """Any supported date text → ``pl.Date`` (null when unreadable or out of 1900–2100)."""
    text = _clean(expr)
    from_text = _ymd_string(text).str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    # A month on its own (发放月份 2026年10月, 2026-10) means its first day.
    month = text.str.extract_groups(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$")
    from_month = pl.format("{}-{}-01", month.struct.field("1"), month.struct.field("2").str.zfill(2)).str.strptime(
        pl.Date, "%Y-%m-%d", strict=False
    )
    serial = text.str.extract(r"^(\d{5})(?:\.0+)?$", 1).cast(pl.Int64, strict=False)
    from_serial = _EXCEL_EPOCH + pl.duration(days=serial)
    parsed = pl.coalesce(from_text, from_month, pl.when(serial.is_between(1, 73050)).then(from_serial))
    return pl.when(parsed.dt.year().is_between(1900, 2100)).then(parsed)


def parse_datetime_expr(expr: pl.Expr) -> pl.Expr:
    """Any supported date-time text → ``pl.Datetime`` (a bare date means midnight)."""
    text = _clean(expr)
    parts = text.str.extract_groups(_YMD + _TIME + r"\s*$")
    formatted = pl.format(
        "{}-{}-{} {}:{}:{}",
        parts.struct.field("1"),
        parts.struct.field("2").str.zfill(2),
        parts.struct.field("3").str.zfill(2),
        parts.struct.field("4").fill_null("0").str.zfill(2),
        parts.struct.field("5").fill_null("0").str.zfill(2),
        parts.struct.field("6").fill_null("0").str.zfill(2),
    )
    parsed = formatted.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False)
    return pl.when(parsed.dt.year().is_between(1900, 2100)).then(parsed)


def age_expr(birth: pl.Expr, as_of: date) -> pl.Expr:
    """Age in whole years on ``as_of``: a year is complete on the birthday, compared as
    (month, day) — not day of the year, which shifts by one after 29 February in leap years.
    Born on 29 February: a year older on 1 March in other years."""
    not_yet = (as_of.month * 100 + as_of.day) < (birth.dt.month().cast(pl.Int32) * 100 + birth.dt.day().cast(pl.Int32))
    return (pl.lit(as_of.year, pl.Int32) - birth.dt.year().cast(pl.Int32)) - not_yet.cast(pl.Int32)
