"""Realistic noise for the departmental exports, applied to whole columns with random masks.

Addresses are rendered from their standard components in the many ways people write them
(omitted levels, legacy district names, 街道办事处/社区居委会 suffixes, ``3-2-301`` shorthand,
Chinese numerals, full-width digits, traditional characters, typos); IDs, dates and names get the
errors the seeds report. Every function takes a seeded ``numpy`` generator so output is
deterministic per seed.
"""

from __future__ import annotations

import numpy as np
import polars as pl

# Streets of today's 上城区 that belonged to 江干区 before 2021 (old addresses of theirs say 江干区).
FORMER_JIANGGAN_STREETS = {"凯旋街道", "采荷街道", "闸弄口街道", "四季青街道", "彭埠街道", "笕桥街道", "丁兰街道", "九堡街道"}


CN_DIGITS = "零一二三四五六七八九"
# Simplified → traditional pairs that occur in addresses and names and fold back unambiguously.
TRADITIONAL = {
    "区": "區", "东": "東", "门": "門", "华": "華", "园": "園", "楼": "樓", "单": "單", "号": "號",
    "庆": "慶", "兴": "興", "宁": "寧", "阳": "陽", "凤": "鳳", "丰": "豐", "荣": "榮", "云": "雲",
    "桥": "橋", "丽": "麗", "伟": "偉", "红": "紅", "国": "國", "兰": "蘭", "龙": "龍", "刚": "剛",
    "长": "長", "杨": "楊", "陈": "陳", "张": "張", "刘": "劉", "赵": "趙", "吴": "吳", "孙": "孫",
    "湾": "灣", "锦": "錦", "苏": "蘇", "镇": "鎮", "乡": "鄉", "县": "縣", "街道": "街道",
}
FULL_WIDTH_DIGITS = {str(d): chr(0xFF10 + d) for d in range(10)}
TYPO_CHARS = list("园圆苑院源元华化花新心欣景京金锦")
ROAD_TYPO_CHARS = list("安案兴星河和山珊华化阳杨宁凝春纯")


def chinese_numeral(n: pl.Expr) -> pl.Expr:
    """1..99 → 一..九十九 (the way building and unit numbers are often written)."""
    table = {i: _cn(i) for i in range(1, 100)}
    return n.replace_strict(list(table), list(table.values()), default=None, return_dtype=pl.String)


def _cn(i: int) -> str:
    tens, ones = divmod(i, 10)
    if tens == 0:
        return CN_DIGITS[ones]
    head = "" if tens == 1 else CN_DIGITS[tens]
    return head + "十" + (CN_DIGITS[ones] if ones else "")


def _choice(rng: np.random.Generator, n: int, p: list[float]) -> pl.Series:
    p_arr = np.asarray(p, dtype=float)
    return pl.Series(rng.choice(len(p), size=n, p=p_arr / p_arr.sum()))


def _mask(rng: np.random.Generator, n: int, p: float) -> pl.Series:
    return pl.Series(rng.random(n) < p)


def render_addresses(df: pl.DataFrame, rng: np.random.Generator, noise: float = 1.0, free_text: bool = False) -> pl.Series:
    """Render each row's standard address components as a person would type them.

    ``df`` carries the address-base columns (level names, road, road_no, compound, building,
    unit, room). ``noise`` scales every error probability; ``free_text`` favours the sloppy,
    abbreviated style of grid workers' reports.
    """
    n = df.height
    k = noise
    r = pl.DataFrame(
        {
            "prefix": _choice(rng, n, [0.25, 0.3, 0.3, 0.15] if not free_text else [0.05, 0.15, 0.3, 0.5]),
            "legacy": _mask(rng, n, 0.35),
            "street": _choice(rng, n, [0.55, 0.15 * k, 0.3] if not free_text else [0.3, 0.05, 0.65]),
            "community": _choice(rng, n, [0.5, 0.15 * k, 0.35] if not free_text else [0.2, 0.05, 0.75]),
            "keep_compound": _mask(rng, n, 0.92),
            "bur": _choice(rng, n, [0.5, 0.12, 0.08, 0.15 * k, 0.08 * k, 0.07 * k]),
            "full_width": _mask(rng, n, 0.04 * k),
            "traditional": _mask(rng, n, 0.03 * k),
            "typo": _mask(rng, n, 0.02 * k),
            "space": _mask(rng, n, 0.05 * k),
            "typo_pos": pl.Series(rng.random(n)),
            "typo_char": pl.Series(np.asarray(TYPO_CHARS)[rng.integers(0, len(TYPO_CHARS), n)]),
            "road_typo": _mask(rng, n, 0.01 * k),
            "road_char": pl.Series(np.asarray(ROAD_TYPO_CHARS)[rng.integers(0, len(ROAD_TYPO_CHARS), n)]),
            "no_road": _mask(rng, n, (0.10 if free_text else 0.02) * k),
        }
    )
    d = pl.concat([df.select("province_name", "city_name", "district_name", "street_name", "community_name", "road", "road_no", "compound", "building", "unit", "room"), r], how="horizontal")
    district = (
        pl.when(pl.col("legacy") & pl.col("street_name").is_in(list(FORMER_JIANGGAN_STREETS)))
        .then(pl.lit("江干区"))
        .otherwise(pl.col("district_name"))
    )
    prefix = (
        pl.when(pl.col("prefix") == 0).then(pl.concat_str([pl.col("province_name"), pl.col("city_name"), district]))
        .when(pl.col("prefix") == 1).then(pl.concat_str([pl.col("city_name"), district]))
        .when(pl.col("prefix") == 2).then(district)
        .otherwise(pl.lit(""))
    )
    street = (
        pl.when(pl.col("street") == 0).then(pl.col("street_name"))
        .when(pl.col("street") == 1).then(pl.col("street_name").str.replace(r"街道$", "街道办事处"))
        .otherwise(pl.lit(""))
    )
    community = (
        pl.when(pl.col("community") == 0).then(pl.col("community_name"))
        .when(pl.col("community") == 1).then(pl.col("community_name").str.replace(r"社区$", "社区居委会"))
        .otherwise(pl.lit(""))
    )
    pos = (pl.col("typo_pos") * pl.col("compound").str.len_chars().fill_null(1)).cast(pl.Int64)
    compound_typo = pl.concat_str([pl.col("compound").str.slice(0, pos), pl.col("typo_char"), pl.col("compound").str.slice(pos + 1)])
    compound = (
        pl.when(pl.col("compound").is_null() | ~pl.col("keep_compound")).then(pl.lit(""))
        .when(pl.col("typo")).then(compound_typo)
        .otherwise(pl.col("compound"))
    )
    b, u, room = pl.col("building").cast(pl.String), pl.col("unit").cast(pl.String), pl.col("room")
    bur = (
        pl.when(pl.col("building").is_null()).then(pl.lit(""))
        .when(pl.col("bur") == 0).then(pl.format("{}幢{}单元{}室", b, u, room))
        .when(pl.col("bur") == 1).then(pl.format("{}栋{}单元{}", b, u, room))
        .when(pl.col("bur") == 2).then(pl.format("{}号楼{}单元{}室", b, u, room))
        .when(pl.col("bur") == 3).then(pl.format("{}-{}-{}", b, u, room))
        .when(pl.col("bur") == 4).then(pl.format("{}幢{}-{}", b, u, room))
        .otherwise(pl.format("{}幢{}单元{}室", chinese_numeral(pl.col("building")), chinese_numeral(pl.col("unit")), room))
    )
    # A misspelt road (one character swapped), or the road and number left out when the
    # compound is named ("紫金花园3幢…" is how neighbours write it).
    road = (
        pl.when(pl.col("road_typo"))
        .then(pl.concat_str([pl.col("road").str.slice(0, 1), pl.col("road_char"), pl.col("road").str.slice(2)]))
        .otherwise(pl.col("road"))
    )
    road_part = pl.concat_str([road, pl.col("road_no").cast(pl.String), pl.lit("号")])
    drop_road = pl.col("no_road") & (compound != "") & pl.col("building").is_not_null()
    road_part = pl.when(drop_road).then(pl.lit("")).otherwise(road_part)
    text = pl.concat_str([prefix, street, community, road_part, compound, bur])
    text = pl.when(pl.col("full_width")).then(text.str.replace_many(FULL_WIDTH_DIGITS)).otherwise(text)
    text = pl.when(pl.col("traditional")).then(text.str.replace_many(TRADITIONAL)).otherwise(text)
    text = pl.when(pl.col("space")).then(text.str.replace(r"号", "号 ")).otherwise(text)
    return d.select(text.alias("address"))["address"]


def noisy_ids(ids: pl.Series, rng: np.random.Generator, legacy15: float = 0.0, bad_check: float = 0.004, lower_x: float = 0.5, missing: float = 0.003, spaced: float = 0.01, someone_else: float = 0.0005) -> pl.Series:
    """ID numbers as typed: lowercase x, 15-digit legacy form, wrong check digit, gaps, blanks,
    and now and then another resident's (valid) ID copied into the wrong row."""
    n = ids.len()
    other = ids.gather(rng.integers(0, max(n, 1), n)) if n else ids
    f = pl.DataFrame({"id": pl.Series(np.where(rng.random(n) < someone_else, other.to_numpy(), ids.to_numpy()), dtype=pl.String), "m15": _mask(rng, n, legacy15), "bad": _mask(rng, n, bad_check), "lx": _mask(rng, n, lower_x), "miss": _mask(rng, n, missing), "sp": _mask(rng, n, spaced), "alt": pl.Series(rng.integers(0, 10, n)).cast(pl.String)})
    idc = pl.col("id")
    born_19xx = idc.str.slice(6, 2) == "19"
    wrong_check = pl.when(idc.str.slice(17, 1) == pl.col("alt")).then(pl.lit("X")).otherwise(pl.col("alt"))
    out = (
        pl.when(pl.col("miss")).then(pl.lit(None, pl.String))
        .when(pl.col("m15") & born_19xx).then(idc.str.slice(0, 6) + idc.str.slice(8, 9))
        .when(pl.col("bad")).then(idc.str.slice(0, 17) + wrong_check)
        .otherwise(idc)
    )
    out = pl.when(pl.col("lx")).then(out.str.replace("X", "x")).otherwise(out)
    out = pl.when(pl.col("sp")).then(pl.concat_str([out.str.slice(0, 6), pl.lit(" "), out.str.slice(6)])).otherwise(out)
    return f.select(out.alias("id"))["id"]


def format_dates(dates: pl.Series, rng: np.random.Generator, main: str, variants: float = 0.05) -> pl.Series:
    """Dates in a system's native style, with a share written in other common styles."""
    styles = {
        "iso": "%Y-%m-%d",
        "compact": "%Y%m%d",
        "slash": "%Y/%-m/%-d",
        "cn": "%Y年%-m月%-d日",
        "dot": "%Y.%m.%d",
    }
    n = dates.len()
    other = np.asarray(list(styles))[rng.integers(0, len(styles), n)]
    chosen = np.where(rng.random(n) < variants, other, main)
    f = pl.DataFrame({"d": dates, "style": chosen})
    expr = pl.lit(None, pl.String)
    for style, fmt in styles.items():
        expr = pl.when(pl.col("style") == style).then(pl.col("d").dt.strftime(fmt)).otherwise(expr)
    return f.select(expr.alias("d"))["d"]


# Surnames and the homophones clerks type for them (same toneless pinyin).
HOMOPHONE_SURNAMES = {"张": "章", "王": "汪", "刘": "柳", "杨": "阳", "黄": "皇", "吴": "武", "周": "州", "徐": "许", "林": "琳", "何": "河", "郭": "国", "胡": "湖", "朱": "珠", "陈": "晨", "李": "理"}


def noisy_names(names: pl.Series, rng: np.random.Generator, traditional: float = 0.01, spaced: float = 0.01, homophone: float = 0.003, separator: float = 0.4) -> pl.Series:
    """Names as typed: traditional characters, a space inside, a homophone surname, and the
    minority-name separator (·) written as '.', '•' or left out."""
    n = names.len()
    f = pl.DataFrame({"n": names, "t": _mask(rng, n, traditional), "s": _mask(rng, n, spaced), "h": _mask(rng, n, homophone), "sep": _mask(rng, n, separator), "which": pl.Series(rng.integers(0, 3, n))})
    out = pl.when(pl.col("t")).then(pl.col("n").str.replace_many(TRADITIONAL)).otherwise(pl.col("n"))
    first = out.str.slice(0, 1)
    swapped = pl.concat_str([first.replace(HOMOPHONE_SURNAMES), out.str.slice(1)])
    out = pl.when(pl.col("h") & first.is_in(list(HOMOPHONE_SURNAMES))).then(swapped).otherwise(out)
    separator_variant = pl.when(pl.col("which") == 0).then(pl.lit(".")).when(pl.col("which") == 1).then(pl.lit("．")).otherwise(pl.lit(""))
    out = pl.when(pl.col("sep") & out.str.contains("·")).then(out.str.replace("·", separator_variant, literal=True)).otherwise(out)
    out = pl.when(pl.col("s") & (pl.col("n").str.len_chars() == 2)).then(pl.concat_str([out.str.slice(0, 1), pl.lit(" "), out.str.slice(1)])).otherwise(out)
    return f.select(out.alias("n"))["n"]


def full_width(values: pl.Series, rng: np.random.Generator, p: float) -> pl.Series:
    f = pl.DataFrame({"v": values, "m": _mask(rng, values.len(), p)})
    return f.select(pl.when(pl.col("m")).then(pl.col("v").str.replace_many(FULL_WIDTH_DIGITS)).otherwise(pl.col("v")).alias("v"))["v"]
