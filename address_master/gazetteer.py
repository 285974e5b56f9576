"""The whole country's divisions as a gazetteer: every name a division goes by, and the resolution
of the division names an address mentions to one code.

Names: the official name (浙江省, 慈溪市, 景宁畲族自治县, 街道 and 镇 names), the short name people
write (浙江, 慈溪, 景宁, 柯桥, 张家港), and the legacy names of divisions abolished or renamed
since 2000 (江干区, 绍兴县, 萧山市 …; ``pipelines/reference/legacy_divisions.csv``), which resolve
to today's successor. Levels 1–4 cover the country; level 5 (community) Zhejiang's table.

Resolution (:meth:`Gazetteer.resolve`) takes the names an address mentions with the level each was
written at, and returns the deepest division all of them agree on. A name that is not a division
of a compatible level, or that contradicts the others, is not reported as one. Where several
divisions fit equally (鼓楼区 is in five cities), the one nearest the hub (``home``, a division
code prefix) wins; otherwise only what they share is kept.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines import reference
from pipelines.reference import (
    CEDED_CSV, CODE_LENGTHS, COUNTRY_CSV, DIVISIONS_CSV, LEGACY_CSV, LEVEL_NAMES, LEVEL_OF_LENGTH, built_once, ceded_divisions,
    country_divisions, legacy_divisions,
)

# Suffixes that may be left out when writing a division's name, by level; the longest first.
SUFFIXES = {
    1: ("壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "特别行政区", "省", "市"),
    2: ("自治州", "地区", "盟", "市"),
    3: ("自治县", "自治旗", "新区", "林区", "特区", "区", "县", "市", "旗"),
    4: ("街道办事处", "街道", "民族乡", "镇", "乡", "苏木"),
    5: ("社区居民委员会", "社区居委会", "居民委员会", "村民委员会", "社区", "居委会", "村委会", "村"),
}
# Ways of writing the same kind of division (X社区 = X社区居委会 = X社区居民委员会): a name
# written with any of them is written in full, as much as the table's own
SAME_SUFFIX = {
    4: (("街道", "街道办事处"),),
    5: (("社区", "社区居委会", "社区居民委员会"), ("村", "村委会", "村民委员会"), ("居委会", "居民委员会")),
}


def full_names(name: str, level: int) -> set[str]:
    """``name`` and its equivalents with the other ways of writing its suffix."""
    for family in SAME_SUFFIX.get(level, ()):
        for suffix in sorted(family, key=len, reverse=True):
            if name.endswith(suffix) and len(name) > len(suffix):
                core = name[: -len(suffix)]
                return {core + other for other in family}
    return {name}


# An autonomous prefecture/county/banner goes by its place name before the people(s): 恩施土家族苗族自治州 → 恩施.
_AUTONOMOUS = re.compile(r"^(.{2,}?)(?:.{1,4}?族)+自治[州县旗]$")
# Level-2 rows that are not cities (municipalities' 市辖区/县, 省直辖县级行政区划): never named in an address.
_NOT_A_PLACE = re.compile(r"^(?:市辖区|县|省直辖县级行政区划|自治区直辖县级行政区划)$")
# The level a tagged span may name: a county-level city is often written where a city goes, and so on.
COMPATIBLE = {"province": (1,), "city": (2, 3), "district": (3, 2), "street": (4,), "community": (5,)}


def short_names(name: str, level: int) -> set[str]:
    """The names ``name`` goes by without its suffix (two characters at least)."""
    autonomous = _AUTONOMOUS.match(name)
    if autonomous:
        return {autonomous.group(1)}
    names = set()
    for suffix in SUFFIXES[level]:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            names.add(name[: -len(suffix)])
    return names


@dataclass(frozen=True, eq=False)  # hashed by identity: one per process, resolutions cached
class Gazetteer:
    by_name: dict[str, tuple[str, ...]]  # any name (official, short, legacy) → codes
    official: frozenset[tuple[str, str]]  # (name, code) where the name is written in full (official or legacy)
    names: dict[str, str]  # code → the name to report (a municipality's city is the municipality)
    longest: int  # characters in the longest name
    # a district's names (余杭区, 余杭, 余杭市) → (the code they name, a district that took part of it since 2000)
    ceded: dict[str, tuple[tuple[str, str], ...]]

    def candidates(self, text: str, levels: Iterable[int]) -> list[str]:
        """Codes of the divisions at ``levels`` that ``text`` names."""
        wanted = set(levels)
        codes = set(self.by_name.get(text, ()))
        # and by its name without the suffix: written with another suffix than today's (高桥镇 for 高桥街道)
        for core in {text[: -len(x)] for lv in wanted for x in SUFFIXES[lv] if text.endswith(x) and len(text) - len(x) >= 2}:
            codes.update(self.by_name.get(core, ()))
        return sorted(c for c in codes if LEVEL_OF_CODE.get(len(c)) in wanted)

    def resolve(self, mentions: tuple[tuple[str, str], ...], home: str = "") -> tuple[str | None, tuple[bool, ...]]:
        """The deepest division the ``mentions`` ((level name, text) pairs, in address order) agree on,
        and for each mention whether it named that division or one of its parents."""
        return _resolve(self, mentions, home)

    def named_within(self, code: str, text: str, lengths: tuple[int, ...] = (9, 12)) -> tuple[str, str] | None:
        """The division under ``code`` whose name ``text`` starts with, the longest name first, among
        divisions whose code has one of ``lengths`` (default: streets and communities): (level name,
        name as written), or None."""
        for end in range(min(len(text), self.longest), 1, -1):  # each prefix of the text, the longest first
            name = text[:end]
            child = next((c for c in self.by_name.get(name, ()) if len(c) in lengths and len(c) > len(code) and c.startswith(code)), None)
            if child is not None:
                return LEVEL_OF_LENGTH[len(child)], name
        return None

    def chain(self, code: str | None) -> dict[str, str | None]:
        """Names of ``code`` and its parents by level (province … community)."""
        out: dict[str, str | None] = {name: None for name in LEVEL_NAMES.values()}
        if code:
            for length, level in LEVEL_OF_LENGTH.items():
                if len(code) >= length:
                    out[level] = self.names.get(code[:length])
        return out


# A name written without its suffix counts less: a little at the top (温州, 嘉兴 are clear), much
# lower down (慈东 may be a village, a compound or nothing at all). Keyed by code length.
SHORT_WEIGHT = {2: 0.9, 4: 0.9, 6: 0.8, 9: 0.6, 12: 0.6}
HOME_BONUS = 0.5
CEDED_WEIGHT = 0.99
LEVEL_OF_CODE = {length: level for level, length in CODE_LENGTHS.items()}  # code length → level 1–5


# what the gazetteer is built from: the division tables and the code that reads them
INPUTS = [Path(__file__), Path(reference.__file__), COUNTRY_CSV, DIVISIONS_CSV, LEGACY_CSV, CEDED_CSV]


@functools.cache
def gazetteer() -> Gazetteer:
    """The gazetteer of the shipped division tables (built once, then loaded: :func:`built_once`)."""
    return built_once("gazetteer", _build_gazetteer, INPUTS)


def _build_gazetteer() -> Gazetteer:
    table = country_divisions()
    rows = table.select("code", "name", "level").to_dicts()
    by_name: dict[str, set[str]] = {}
    official: set[tuple[str, str]] = set()
    names: dict[str, str] = {}
    provinces = {r["code"]: r["name"] for r in rows if r["level"] == 1}
    for r in rows:
        code, name, level = r["code"], r["name"], r["level"]
        if level == 2 and _NOT_A_PLACE.match(name):
            if name in ("市辖区", "县"):  # a municipality is its own city: 北京市's city is 北京市
                names[code] = provinces[code[:2]]
                official.add((names[code], code))
                for alias in {names[code], *short_names(names[code], 1)}:
                    by_name.setdefault(alias, set()).add(code)
            continue
        names[code] = name
        for full in full_names(name, level):
            official.add((full, code))
            by_name.setdefault(full, set()).add(code)
        for alias in short_names(name, level):
            by_name.setdefault(alias, set()).add(code)
    legacy = legacy_divisions()
    for r in legacy.to_dicts():
        level = LEVEL_OF_CODE[len(r["new_code"])]
        official.add((r["old_name"], r["new_code"]))
        for alias in {r["old_name"], *short_names(r["old_name"], level)}:
            by_name.setdefault(alias, set()).add(r["new_code"])
    # a ceded district's names: its own, and those it had before a rename (余杭市 → 余杭区); a legacy
    # district (abolished since) names the code it resolves to today
    successor = dict(zip(legacy["old_code"], legacy["new_code"]))
    ceded: dict[str, set[tuple[str, str]]] = {}
    for r in ceded_divisions().to_dicts():
        current = r["from_code"] if r["from_code"] in names else successor[r["from_code"]]
        renamed = legacy.filter((pl.col("new_code") == r["from_code"]) & (pl.col("old_code") != r["from_code"]))["old_name"]
        for written in (r["from_name"], *renamed):
            for alias in {written, *short_names(written, 3)}:
                ceded.setdefault(alias, set()).add((current, r["to_code"]))
    return Gazetteer({k: tuple(sorted(v)) for k, v in by_name.items()}, frozenset(official), names, max(map(len, by_name)),
                     {k: tuple(sorted(v)) for k, v in ceded.items()})


@functools.lru_cache(maxsize=200_000)
def _resolve(gaz: Gazetteer, mentions: tuple[tuple[str, str], ...], home: str) -> tuple[str | None, tuple[bool, ...]]:
    options = [gaz.candidates(text, COMPATIBLE[level]) for level, text in mentions]
    # a name written in full (慈溪市, 龙山镇) counts more than a short one (慈东), which may be a place
    # that is no division at all
    weights = [{c: (1.0 if (text, c) in gaz.official else SHORT_WEIGHT[len(c)]) for c in codes} for (_, text), codes in zip(mentions, options)]
    # a district that gave part of its land to another (余杭区 → 临平区) names that one too, a little
    # less: 余杭区 alone stays 余杭区, 余杭区临平街道 is 临平区's street
    for (_, text), codes, ws in zip(mentions, options, weights):
        for current, part in gaz.ceded.get(text, ()):
            if current in ws and part not in ws:
                ws[part] = round(ws[current] * CEDED_WEIGHT, 3)
                codes.append(part)
    best: tuple | None = None
    for codes in options:
        for code in codes:
            # the mentions that name this division or one of its parents, then depth, then nearness to the hub
            # (a mention counts with its weight for the deepest division it may name on the way to this
            # one: 金华 names 金华市 in full and 金华县, now 金东区, only by a legacy short name)
            support = sum(_deepest_weight(code, ws) for ws in weights)
            near = len(_common_prefix(code, home))
            # the hub's own province is the likelier one where a name is ambiguous (龙港镇 … or 温州's)
            support = round(support + (HOME_BONUS if home and near >= 2 else 0.0), 3)
            key = (support, len(code), near)
            if best is None or key > best[0]:
                best = (key, {code})
            elif key == best[0]:
                best[1].add(code)
    if best is None:
        return None, tuple(False for _ in mentions)
    found = sorted(best[1])
    code: str | None = found[0] if len(found) == 1 else _shared_division(found)
    if code is None:
        return None, tuple(False for _ in mentions)
    agree = tuple(any(code.startswith(c) for c in codes) for codes in options)
    return code, agree


_DEEPEST_FIRST = sorted(CODE_LENGTHS.values(), reverse=True)


def _deepest_weight(code: str, weights: dict[str, float]) -> float:
    """The weight of the deepest of ``weights``' divisions that is ``code`` or one of its parents
    (0 if none): a lookup per level, not a scan of every candidate (城关镇 has 129)."""
    for length in _DEEPEST_FIRST:
        if len(code) >= length and (weight := weights.get(code[:length])) is not None:
            return weight
    return 0.0


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _shared_division(codes: list[str]) -> str | None:
    """The deepest division containing every code (None when they share no province)."""
    prefix = functools.reduce(_common_prefix, codes)
    for length in (12, 9, 6, 4, 2):
        if len(prefix) >= length:
            return prefix[:length]
    return None
