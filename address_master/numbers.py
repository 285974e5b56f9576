"""Numbers in an address however they are written, as one canonical text for matching.

``三百四十九号`` (counting), ``三四九号`` and ``二〇一室`` (digit by digit), ``５0１`` (full-width
mixed in), ``附2号``, ``101-8``, ``甲``/``乙``, ``A座``/``B幢``, ``负一层``/``地下一层``: the
words around a number (号, 幢, 栋, 号楼, 单元, 层, 楼, 室 …) are dropped, Chinese numerals become
digits, leading zeros go, letters are upper-case, a basement floor is negative, and words after
the number that are none of it go too (1892窒, 6499房间, 146店). What is not a number at all
(商铺, 底商) is kept as written. Values repeat, so columns are converted per
distinct value (:func:`canonical_numbers`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import polars as pl

DIGIT = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "○": 0, "Ｏ": 0, "两": 2}
UNIT = {"十": 10, "百": 100, "千": 1000}
NUMERAL = "零〇○一二两三四五六七八九十百千"
_FULL = {c: chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}
# words written around a number, the longest first
_AROUND = re.compile(r"^(?:第|NO\.?|№)|(?:号楼|号院|号房|单元|号|幢|栋|座|楼|层|室|房|户|弄|排|组|门)+$")
_CHINESE = re.compile(f"[{NUMERAL}]+")
_BASEMENT = re.compile(r"^(?:负|地下)")
_INNER_HAO = re.compile(r"(?<=\d)号(?=[甲乙丙丁附A-Z])")  # 12号甲 → 12甲, 100号附2 → 100附2
# words after the number that are no part of it (1892窒, 6499房间, 146店, 982阿J甜品 cut to 982阿):
# a run of Chinese characters at the end, unless it starts with a numbering character (12甲)
_TRAILING_WORDS = re.compile(r"(?<=[0-9A-Z])(?![甲乙丙丁戊己庚辛壬癸附])[\u4e00-\u9fff]+$")


def chinese_to_digits(numeral: str) -> str:
    """``三百四十九`` → ``349``; ``三四九`` / ``二〇一`` → ``349`` / ``201`` (digit by digit when no 十/百/千)."""
    if not any(c in UNIT for c in numeral):
        return "".join(str(DIGIT[c]) for c in numeral)
    total, current = 0, 0
    for c in numeral:
        if c in DIGIT:
            current = DIGIT[c]
        else:
            total += (current or 1) * UNIT[c]  # 十一 is 11: a bare 十 counts one ten
            current = 0
    return str(total + current)


def canonical_number(value: str | None) -> str | None:
    """The canonical text of one house/building/unit/floor/room value (None for an empty one)."""
    if value is None:
        return None
    text = value.translate(_FULL).strip().upper().replace(" ", "").replace("－", "-").replace("—", "-")
    negative = bool(_BASEMENT.match(text))
    text = _BASEMENT.sub("", text)
    previous = None
    while text and text != previous:  # 3号楼 → 3; 第3幢 → 3
        previous = text
        text = _AROUND.sub("", text)
    if not text:
        return None
    text = _TRAILING_WORDS.sub("", _INNER_HAO.sub("", _CHINESE.sub(lambda m: chinese_to_digits(m.group(0)), text)))
    text = re.sub(r"\d+", lambda m: str(int(m.group(0))), text)  # leading zeros out: 0301 → 301
    return f"-{text}" if negative and text.isdigit() else text


def canonical_numbers(expr: pl.Expr) -> pl.Expr:
    """:func:`canonical_number` over a column, computed once per distinct value."""
    return expr.map_batches(lambda values: _per_distinct(values, canonical_number), return_dtype=pl.String)


def _per_distinct(values: pl.Series, convert: Callable[[str], str | None]) -> pl.Series:
    """``convert`` applied once per distinct value of ``values``."""
    mapping = {v: convert(v) for v in values.drop_nulls().unique().to_list()}
    return values.replace_strict(mapping, default=None, return_dtype=pl.String)


# a run of Chinese numerals written before a word that counts something in an address
_NUMERAL_BEFORE_WORD = f"([{NUMERAL}]+)(号楼|号|幢|栋|单元|层|楼|室|座|弄)"
_NUMERAL_BEFORE_WORD_RE = re.compile(_NUMERAL_BEFORE_WORD)


def numerals_to_digits(expr: pl.Expr) -> pl.Expr:
    """Chinese numerals before 号/幢/栋/单元/层/楼/室/座/弄 → digits, in both the counting and the
    digit-by-digit form (三百四十九号, 三四九号, 二〇一室 → 349号, 349号, 201室). Only texts that have
    such a run are touched, once per distinct text."""
    convert = lambda text: _NUMERAL_BEFORE_WORD_RE.sub(lambda m: chinese_to_digits(m.group(1)) + m.group(2), text)  # noqa: E731

    def touched(values: pl.Series) -> pl.Series:
        # select the texts first: a when/then would still run the conversion over every text
        having = values.filter(values.str.contains(_NUMERAL_BEFORE_WORD)).unique().to_list()
        return values.replace({text: convert(text) for text in having}) if having else values

    return expr.map_batches(touched, return_dtype=pl.String)
