"""Unit tests for the vectorised normalisers: text, IDs, credit codes, dates."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from pipelines.dates import parse_date_expr, parse_datetime_expr
from pipelines.ids import clean_id_expr, credit_valid_expr, id_to_18_expr, id_valid_expr
from pipelines.text import normalize_compact, normalize_text


def _one(expr_fn, value):
    return pl.DataFrame({"v": [value]}, schema={"v": pl.String}).select(expr_fn(pl.col("v")).alias("out"))["out"][0]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("浙江省杭州市上城區", "浙江省杭州市上城区"),
        ("３幢２单元３０１室", "3幢2单元301室"),
        ("  湖滨街道\u3000东坡路  ", "湖滨街道 东坡路"),
        ("鳳凰花園", "凤凰花园"),
        ("   ", None),
    ],
)
def test_normalize_text(raw, expected):
    assert _one(normalize_text, raw) == expected


def test_normalize_compact_removes_all_spaces():
    assert _one(normalize_compact, "上城区 湖滨街道 1 幢") == "上城区湖滨街道1幢"


@pytest.mark.parametrize(
    "raw, id18, valid",
    [
        ("11010519491231002X", "11010519491231002X", True),  # GB 11643 worked example
        ("11010519491231002x", "11010519491231002X", True),  # lowercase x
        ("110105 19491231 002X", "11010519491231002X", True),  # spaces
        ("110105491231002", "11010519491231002X", True),  # 15-digit legacy → 18
        ("110105194912310021", "110105194912310021", False),  # wrong check digit
        ("110105194913310028", "110105194913310028", False),  # month 13
        ("1101051949123100", "1101051949123100", False),  # too short
    ],
)
def test_id_numbers(raw, id18, valid):
    frame = pl.DataFrame({"v": [raw]}).select(id_to_18_expr(clean_id_expr(pl.col("v"))).alias("id"))
    assert frame["id"][0] == id18
    assert frame.select(id_valid_expr(pl.col("id")).alias("ok"))["ok"][0] is valid


@pytest.mark.parametrize(
    "code, valid",
    [
        ("91330106MA2H2DXXXA", False),
        ("91110000600037341L", True),  # a real, published credit code
        ("91110000600037341M", False),
        ("9111000060003734", False),
        ("91110000600037341I", False),  # I is not in the GB 32100 alphabet
    ],
)
def test_credit_codes(code, valid):
    assert pl.DataFrame({"c": [code]}).select(credit_valid_expr(pl.col("c")).alias("ok"))["ok"][0] is valid


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2021-03-05", date(2021, 3, 5)),
        ("2021/3/5", date(2021, 3, 5)),
        ("2021.03.05", date(2021, 3, 5)),
        ("20210305", date(2021, 3, 5)),
        ("2021年3月5日", date(2021, 3, 5)),
        ("２０２１年３月５日", date(2021, 3, 5)),
        ("2021-03-05 00:00:00", date(2021, 3, 5)),
        ("44260", date(2021, 3, 5)),  # Excel serial day
        ("2026年10月", date(2026, 10, 1)),
        ("2021-02-30", None),
        ("2021年13月45日", None),
        ("待核实", None),
        ("1850-01-01", None),
    ],
)
def test_dates(raw, expected):
    assert _one(parse_date_expr, raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2026-11-01 08:30:15", datetime(2026, 11, 1, 8, 30, 15)),
        ("2026/11/1 8:30", datetime(2026, 11, 1, 8, 30)),
        ("2026-10-04T09:00:00", datetime(2026, 10, 4, 9)),
        ("20261101", datetime(2026, 11, 1)),
        ("刚才", None),
    ],
)
def test_datetimes(raw, expected):
    assert _one(parse_datetime_expr, raw) == expected


def test_work_in_slices_gives_the_whole_frame_in_order():
    from pipelines.text import SLICED_FROM, in_slices

    frame = pl.DataFrame({"text": [f"{i % 977}号 {i}" for i in range(SLICED_FROM * 2 + 7)]})
    seen: list[int] = []

    def work(part: pl.DataFrame) -> pl.DataFrame:
        seen.append(part.height)
        return part.with_columns(pl.col("text").str.replace(r"\s", "").alias("key"))

    assert in_slices(frame, work).equals(work(frame))
    assert sorted(seen[:-1]) == [SLICED_FROM + 3, SLICED_FROM + 4]  # two slices, then the whole frame for the comparison
    small = frame.head(SLICED_FROM - 1)
    seen.clear()
    assert in_slices(small, work).height == small.height and seen == [small.height]
