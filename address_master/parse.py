"""Address parsing: free-text Chinese addresses → five levels + road, number, compound, building,
unit, floor, room, and the deepest division code resolved against the shipped Zhejiang table.

Vectorised: :func:`parse_frame` runs every step as polars expressions over a whole column, and
:func:`parse_address` is the same path for one string. Steps, in order:

1. normalise — full-width → half-width, traditional → simplified, spaces and stray punctuation
   out, noise words (中国, 地址:) out, dashes unified, Chinese numerals before 幢/栋/单元/层/室 → digits;
2. strip administrative tokens from the left — province, city, district, street, community —
   each accepted only when it resolves in the division table (suffix variants 街道办事处 /
   社区居委会 / 村委会 and the pre-2021 names 江干区/下城区 fold onto today's divisions);
3. road + number, then building / unit / floor / room in every common form (3幢2单元301室,
   3栋2单元301, 3号楼, 3座, 3-2-301, 3幢2-301, 3幢301), the compound being what lies between;
4. infer missing higher levels from lower ones when that is unique.

That path is fast and exact on clean standard addresses of the hub's province. Every other
address (another province, short names, junk around it, compounds and floors written any way)
goes the learned path, once per distinct text: the character CRF of :mod:`address_master.tagger`
tags its parts, the division names it found are resolved together against the whole country's
gazetteer (:mod:`address_master.gazetteer`; a span that is no real division is not reported as one)
and numbers are made canonical (:mod:`address_master.numbers`).
"""

from __future__ import annotations

import functools
import multiprocessing
import re
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import polars as pl

from address_master.gazetteer import gazetteer, short_names
from address_master.numbers import canonical_number, numerals_to_digits
from address_master.tagger import FIELD_OF_LABEL, LETTER_DIGIT_RUN, tag_many
from address_master.tagger import warm_up as warm_tagger
from pipelines.reference import CODE_LENGTHS, division_names, divisions, five_level_province, legacy_divisions
from pipelines.text import char_fold_table, empty_to_null

FIELDS = [
    "province", "city", "district", "street", "community", "road", "road_no",
    "compound", "building", "unit", "floor", "room", "division_code",
]
_STREET_SUFFIX = r"(?:街道办事处|街道办|街道|镇人民政府|镇|乡)"
_COMMUNITY_SUFFIX = r"(?:社区居民委员会|社区居委会|社区|居民委员会|居委会|村民委员会|村委会|村)"
_DISTRICT_SUFFIX = r"(?:区|县|市)"
_BUILDING_MARK = r"(?:幢|栋|号楼|座|#)"  # written after a building number
_BUILDING_WORD = r"(?:幢|栋|号楼|座|#|号)"  # … or 号 where a unit follows
_PLACE_WORDS = r"[镇乡村]|.[区县市]|工业|开发区|园区"  # in a "road" the deterministic path found: a place before the road
_NOISE = r"^(?:中国|中华人民共和国)|(?:地址|住址|现住址|居住地|地点)[:：]?|附近|旁边|对面|门口"


@functools.cache
def _char_table() -> dict[str, str]:
    """The character fold of :func:`pipelines.text.char_fold_table`, spaces out and dashes unified."""
    return {**char_fold_table(), "\u3000": "", "—": "-", "–": "-", "－": "-", "~": "-", "～": "-", "_": "-"}


def normalize_address(expr: pl.Expr) -> pl.Expr:
    """Step 1: a comparable address string (see module docstring)."""
    table = _char_table()
    out = expr.cast(pl.String).str.replace_many(list(table), list(table.values()))
    out = out.str.replace_all(r"[\s\u00a0,，。.、;；:：()（）\[\]【】<>《》\"'“”‘’!！?？*]+", "")
    out = out.str.replace_all(_NOISE, "")
    return empty_to_null(numerals_to_digits(out))


# ------------------------------------------------------------------------ division lookups
def _core(expr: pl.Expr, suffix: str) -> pl.Expr:
    return expr.str.replace(suffix + "$", "")


@functools.cache
def lookups() -> dict[str, pl.DataFrame]:
    """Division names by core name (suffix stripped) for each level, incl. legacy districts."""
    d = divisions()
    cities = d.filter(pl.col("level") == 2).select(
        pl.col("code").alias("city_code"), pl.col("name").alias("city_name"), _core(pl.col("name"), "市").alias("core")
    )
    districts = d.filter(pl.col("level") == 3).select(
        pl.col("code").alias("district_code"), pl.col("name").alias("district_name"),
        _core(pl.col("name"), _DISTRICT_SUFFIX).alias("core"),
    )
    # a legacy name is matched with the suffix it had (金华县, not 金华市: that is the city written again)
    legacy = legacy_divisions().select(
        pl.col("new_code").alias("district_code"), _core(pl.col("old_name"), _DISTRICT_SUFFIX).alias("core"),
        pl.col("old_name").str.extract(f"({_DISTRICT_SUFFIX})$", 1).alias("legacy_suffix"),
    ).join(districts.select("district_code", "district_name"), on="district_code")
    districts = pl.concat([districts.with_columns(pl.lit(None, pl.String).alias("legacy_suffix")), legacy.select(*districts.columns, "legacy_suffix")])
    streets = d.filter(pl.col("level") == 4).select(
        pl.col("code").alias("street_code"), pl.col("name").alias("street_name"),
        _core(pl.col("name"), _STREET_SUFFIX).alias("core"),
    )
    communities = d.filter(pl.col("level") == 5).select(
        pl.col("code").alias("community_code"), pl.col("name").alias("community_name"),
        _core(pl.col("name"), _COMMUNITY_SUFFIX).alias("core"),
    )
    return {"city": cities, "district": districts, "street": streets, "community": communities}


# ----------------------------------------------------------------------------- parsing
def _take(df: pl.DataFrame, name: str, pattern: str) -> pl.DataFrame:
    """Extract a leading token into ``name`` and strip it from ``rest``."""
    token = pl.col("rest").str.extract(pattern, 1)
    return df.with_columns(token.alias(name)).with_columns(
        pl.when(pl.col(name).is_not_null()).then(pl.col("rest").str.slice(pl.col(name).str.len_chars())).otherwise(pl.col("rest")).alias("rest")
    )


def _resolve_level(df: pl.DataFrame, level: str, suffix: str, max_len: int) -> pl.DataFrame:
    """Strip a leading ``level`` token from ``rest`` when it resolves in the division table.

    Candidates are the shortest and the longest leading runs ending in a level suffix
    ("三村" / "三村村委会"); the first that names exactly one division of that level under
    ``_parent`` (the codes resolved so far) wins. An unresolved token stays in ``rest``.
    """
    table = lookups()[level]
    code_col = f"{level}_code"
    lazy = rf"^([^\d\-]{{1,{max_len}}}?{suffix})"
    greedy = rf"^([^\d\-]{{1,{max_len}}}{suffix})"
    first = df.select("_i", "_parent", pl.col("rest").str.extract(lazy, 1).alias("_tok"), pl.lit(0).alias("_try"))
    second = df.select("_i", "_parent", pl.col("rest").str.extract(greedy, 1).alias("_tok"), pl.lit(1).alias("_try"))
    # the longest run is only worth a look where it differs from the shortest one
    second = second.filter(pl.col("_tok") != first["_tok"])
    cands = pl.concat([first, second]).filter(pl.col("_tok").is_not_null())
    # Resolve each distinct (token, parent) once — there are few — then spread to the rows.
    combos = cands.select("_parent", "_tok").unique()
    combos = combos.with_columns(_core(pl.col("_tok"), suffix).alias("core")).join(table, on="core", how="inner")
    if "legacy_suffix" in combos.columns:
        combos = combos.filter(pl.col("legacy_suffix").is_null() | pl.col("_tok").str.ends_with(pl.col("legacy_suffix")))
    # Prefer divisions under what is already resolved; a name that exists only elsewhere (a
    # community written under the wrong street) is still stripped as that level's token.
    combos = combos.with_columns((pl.col("_parent").is_null() | pl.col(code_col).str.starts_with(pl.col("_parent"))).alias("_inside"))
    combos = combos.filter(pl.col("_inside") | ~pl.col("_inside").any().over("_parent", "_tok"))
    combos = combos.group_by("_parent", "_tok").agg(pl.col(code_col).unique().alias("_codes"), pl.col("_inside").any())
    # A unique division wins over an ambiguous one; an ambiguous name ("景新社区" exists in
    # several streets) is still that level's token, only its code stays open.
    combos = combos.with_columns(((pl.col("_codes").list.len() > 1) | ~pl.col("_inside")).alias("_ambiguous"))
    cands = cands.join(combos, on=["_parent", "_tok"], how="inner", nulls_equal=True)
    cands = cands.sort("_i", "_ambiguous", "_try").unique("_i", keep="first")
    hits = cands.select(
        "_i",
        pl.col("_tok").alias(level),
        pl.when(~pl.col("_ambiguous")).then(pl.col("_codes").list.first()).alias(code_col),
        (~pl.col("_inside")).alias(f"_{level}_elsewhere"),  # a division of that name exists, only not there
    )
    df = df.join(hits, on="_i", how="left", maintain_order="left")
    return df.with_columns(
        pl.when(pl.col(level).is_not_null()).then(pl.col("rest").str.slice(pl.col(level).str.len_chars())).otherwise(pl.col("rest")).alias("rest"),
        pl.coalesce(code_col, "_parent").alias("_parent"),
    )


def home_of(base: pl.DataFrame) -> str:
    """The division every base address lies in (the hub: a district's code for one district's base):
    where a name fits several divisions (a community name used in two districts), the one nearest it wins."""
    codes = base["division_code"].drop_nulls()
    if codes.len() == 0:
        return ""
    low, high = codes.min(), codes.max()
    n = next((i for i, (a, b) in enumerate(zip(low, high)) if a != b), min(len(low), len(high)))
    return low[: max((length for length in CODE_LENGTHS.values() if length <= n), default=0)]


LearnedPath = Callable[[list[str], str], Callable[[], pl.DataFrame]]
"""Starts the learned path on distinct texts (and the hub's code); what it returns gives their
parses (:func:`parse_learned`'s rows, in the texts' order) when called."""


def _learned_here(texts: list[str], home: str) -> Callable[[], pl.DataFrame]:
    return lambda: parse_learned(texts, home)


def parse_frame(df: pl.DataFrame, column: str, home: str = "", base: pl.DataFrame | None = None,
                learned: LearnedPath = _learned_here) -> pl.DataFrame:
    """Parse ``df[column]``; returns one row per input row (same order) with :data:`FIELDS`.

    Clean standard addresses take the deterministic path; the others the learned one (see the
    module docstring). ``home`` is the hub's division code: where a name fits several divisions
    equally, the one nearest the hub wins (default with a ``base``: :func:`home_of` it). ``base``:
    the prepared address base the texts will be matched against — a text whose deterministic parse finds a road of the base with its number
    ("…巷79号…", no division written), or a compound of the base with its building ("…小区9幢…"),
    is clean too: a name the base knows is not a place name that merely ends like a road.
    ``learned``: what runs the learned path (default: here, in this process; see :class:`TextParsers`)."""
    work = _standard_tail(_standard_head(df, column))
    text = df[column].cast(pl.String).alias("_text")
    # clean: a division of the hub's province resolved from the left, then a road and its number
    # right after it, a road name with no place word in it (what precedes a road that no division
    # table holds — 龙港镇松阳路, 东洲工业园东望路 — is read by the learned path), and a tail read to its end
    plain_road = ~pl.col("road").str.contains(_PLACE_WORDS)
    # and no street written under a district that does not hold it (余杭区乔司镇: 乔司 is 临平区's
    # now; the learned path resolves the names together. A community under the wrong street stays:
    # it is still reported, the code at the street)
    clean = ((pl.col("division_code").str.len_chars().fill_null(0) >= 6) & pl.col("road").is_not_null() & pl.col("road_no").is_not_null() & plain_road
             & ~pl.col("_street_elsewhere").fill_null(False))
    if base is not None:
        home = home or home_of(base)
        known = lambda field: pl.col(field).is_in(base[field].drop_nulls().unique().implode())  # noqa: E731
        clean = clean | (pl.col("road_no").is_not_null() & known("road")) | (pl.col("road").is_null() & pl.col("building").is_not_null() & known("compound"))
    flags, todo, pending = _start_learned(work, text, clean & pl.col("_tail_read"), home, learned)
    fast = work.select(FIELDS)
    if pending is None:
        return fast
    parsed = pending().with_columns(todo.alias("_text"))
    both = fast.with_columns(text, flags).join(parsed.rename({f: f"_l_{f}" for f in FIELDS}), on="_text", how="left", maintain_order="left")
    return both.select([pl.when(pl.col("_clean") | pl.col("_text").is_null()).then(pl.col(f)).otherwise(pl.col(f"_l_{f}")).alias(f) for f in FIELDS])


def _start_learned(parsed: pl.DataFrame, text: pl.Series, clean: pl.Expr, home: str,
                   learned: LearnedPath) -> tuple[pl.Series, pl.Series, Callable[[], pl.DataFrame] | None]:
    """Which texts are clean, the distinct others, and the learned path started on them (if any)."""
    flags = parsed.select(clean.alias("_clean"))["_clean"]
    todo = text.filter(~flags & text.is_not_null()).unique()
    return flags, todo, (learned(todo.to_list(), home) if todo.len() else None)


LEARNED_FLOOR = 1_000  # fewer texts for the learned path than this are parsed here: handing them over costs more
CHUNKS = 24  # pieces those texts are shared out in (small: a worker holds up to three it cannot give back)


def warm_up() -> None:
    """Load what parsing needs, once per process (gazetteer, division tables, the tagger and its
    name automaton): about 0.5 s once the gazetteer and the automaton are cached."""
    gazetteer()
    lookups()
    warm_tagger()


class TextParsers:
    """This process and ``workers - 1`` spawned ones parsing address texts together (:meth:`parse`).

    The deterministic path is polars, which uses every core already; the learned path is Python and
    holds the GIL, so its texts are shared out between the processes. Processes are spawned
    (polars' threads do not survive a fork) and warm up from the start, so the caller can read its
    input meanwhile. Use as a context manager."""

    def __init__(self, workers: int = 1, eager: bool = True) -> None:
        """``eager``: spawn the workers now, to warm up while the caller reads; else only when a
        batch brings enough distinct texts (:data:`LEARNED_FLOOR`) — a few lines then cost no
        process start."""
        self.workers = max(workers, 1)
        self.pieces_here = self.pieces_by_workers = 0  # of the learned path's texts, for the curious
        self._pool: ProcessPoolExecutor | None = None
        self._warming = threading.Thread(target=warm_up, name="parse-warm-up", daemon=True)
        self._warming.start()
        if eager:
            self._start_pool()

    def _start_pool(self) -> ProcessPoolExecutor | None:
        if self._pool is None and self.workers > 1:
            self._pool = ProcessPoolExecutor(self.workers - 1, mp_context=multiprocessing.get_context("spawn"))
            for _ in range(self.workers - 1):
                self._pool.submit(warm_up)
        return self._pool

    def __enter__(self) -> TextParsers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)  # workers exit while the caller goes on

    def parse(self, texts: pl.Series, home: str = "") -> pl.DataFrame:
        """:func:`parse_frame` of the distinct ``texts``: one row per text, ``text`` and :data:`FIELDS`."""
        texts = texts.cast(pl.String).drop_nulls().unique().rename("text")
        if texts.len() >= LEARNED_FLOOR:  # enough to be worth sharing: the workers warm up while this process starts
            self._start_pool()
        self._warming.join()
        return parse_frame(texts.to_frame(), "text", home, learned=self._learned).with_columns(texts).select("text", *FIELDS)

    def _learned(self, texts: list[str], home: str) -> Callable[[], pl.DataFrame]:
        """Starts :func:`parse_learned` of ``texts`` shared out in pieces (a :data:`LearnedPath`)."""
        if len(texts) < LEARNED_FLOOR or self._start_pool() is None:
            return _learned_here(texts, home)
        frame = pl.DataFrame({"text": texts}, schema={"text": pl.String}).with_row_index("_k")
        # texts alike but for their numbers go to one piece, whose process tags their shape once
        piece = pl.col("text").str.replace_all(LETTER_DIGIT_RUN.pattern, "").hash(seed=0) % CHUNKS
        pieces = frame.with_columns(piece.alias("_piece")).partition_by("_piece", maintain_order=True, include_key=False)
        pool = self._pool
        futures = [pool.submit(parse_learned, part["text"].to_list(), home) for part in pieces]

        def finish() -> pl.DataFrame:
            # this process takes pieces from the back that no worker has started: whoever is less
            # busy (this one may be running other work in threads) parses more
            done: dict[int, pl.DataFrame] = {}
            for i in reversed(range(len(pieces))):
                if not futures[i].cancel():
                    break
                done[i] = parse_learned(pieces[i]["text"].to_list(), home)
            self.pieces_here += len(done)
            self.pieces_by_workers += len(pieces) - len(done)
            parts = [(done[i] if i in done else futures[i].result()).with_columns(pieces[i]["_k"]) for i in range(len(pieces))]
            return pl.concat(parts).sort("_k").drop("_k")

        return finish


DIVISION_FIELDS = ("province", "city", "district", "street", "community")
NUMBER_FIELDS = ("road_no", "building", "unit", "floor", "room")


def parse_learned(texts: list[str], home: str = "") -> pl.DataFrame:
    """The learned path for distinct ``texts``: tag, resolve the division names together, canonical numbers."""
    gaz = gazetteer()
    number = functools.cache(canonical_number)  # building, unit and room numbers repeat
    rows = []
    for spans in tag_many(texts):
        first: dict[str, str] = {}
        mentions = []
        others = []
        for span in spans:
            field = FIELD_OF_LABEL.get(span.label)
            if field in DIVISION_FIELDS:
                mentions.append((field, span.text))
            elif field is not None:
                first.setdefault(field, span.text)
            if field not in DIVISION_FIELDS and field != "road":  # roads are named after places (北京路, 西湖大道)
                others.append(span.text)
        code, agree = gaz.resolve(tuple(mentions), home)
        # Division names the tagger took for the start of another span (柯桥联合市场, 钟管镇工业园区,
        # 佛堂恒安里小区) or wrote unreadably (永康五), looked for under what the address resolved to, so
        # they cannot come from elsewhere: first a county (under the city or province resolved, else the
        # hub's province), then a street and a community. A name found is cut from its span.
        unread = [text for (_, text), agreed in zip(mentions, agree) if not agreed]
        left = unread + others  # span texts still to search, a name found cut from the front
        for lengths in ((6,), (9, 12), (9, 12)):
            within = code or (home[:2] if lengths == (6,) else None)
            if not within or len(within) >= 12 or (lengths == (6,) and len(within) >= 6):
                continue
            searched = range(len(left)) if lengths == (6,) else range(len(unread), len(left))  # a street: in other spans only
            hit = next(((i, found) for i in searched if (found := gaz.named_within(within, left[i], lengths))), None)
            if hit is None:
                continue
            deeper, _ = gaz.resolve((*mentions, hit[1]), home)
            if deeper is None or len(deeper) <= len(within):
                continue
            mentions.append(hit[1])
            left[hit[0]] = left[hit[0]][len(hit[1][1]):]
            code = deeper
        row = {**gaz.chain(code), "division_code": code}
        row.update({f: (number(first.get(f)) if f in NUMBER_FIELDS else first.get(f)) for f in ("road", "compound", *NUMBER_FIELDS)})
        rows.append(row)
    return pl.DataFrame(rows, schema={f: pl.String for f in FIELDS}).select(FIELDS)


def parse_standard(df: pl.DataFrame, column: str) -> pl.DataFrame:
    """The deterministic path alone (see the module docstring)."""
    return _standard_tail(_standard_head(df, column)).select(FIELDS)


def _standard_head(df: pl.DataFrame, column: str) -> pl.DataFrame:
    """Normalised text, its divisions (and ``division_code`` as resolved so far), road and number;
    ``rest``: what follows them. Rows in input order."""
    work = df.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_i"), normalize_address(pl.col(column)).alias("rest"))
    # Division names hold no digit or dash, so the divisions come from the text's leading run
    # without them ("杭州市上城区解放路" of "…解放路138号3幢"): resolved once per distinct run (a
    # million addresses have a few ten thousand), then the rest of each text is put back behind.
    work = work.with_columns(pl.col("rest").str.extract(r"^([^\d\-]*)", 1).alias("_lead"))
    leads = work.select(pl.col("_lead").unique()).select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_i"), "_lead", pl.col("_lead").alias("rest"))
    leads = _strip_divisions(leads).drop("_i").rename({"rest": "_lead_rest"})
    work = work.join(leads, on="_lead", how="left", maintain_order="left")
    work = work.with_columns(pl.concat_str([pl.col("_lead_rest"), pl.col("rest").str.slice(pl.col("_lead").str.len_chars())]).alias("rest"))

    # road + number ("东坡路1号", "清盛弄20号", "解放路东段8号")
    road = pl.col("rest").str.extract_groups(r"^([^\d\-]{1,12}?(?:大道|路|街|巷|弄|道))(\d+)(?:号|弄)?")
    work = work.with_columns(road.struct.field("1").alias("road"), road.struct.field("2").alias("road_no"))
    work = work.with_columns(
        pl.when(pl.col("road").is_not_null())
        .then(pl.col("rest").str.replace(r"^([^\d\-]{1,12}?(?:大道|路|街|巷|弄|道))(\d+)(?:号|弄)?", ""))
        .otherwise(pl.col("rest")).alias("rest"),
        _DIVISION_CODE.alias("division_code"),
    )
    return work.sort("_i")


def _standard_tail(work: pl.DataFrame) -> pl.DataFrame:
    """Building, unit, floor and room from the rest, higher divisions inferred: :data:`FIELDS`
    and the working columns (``_tail_read``: the tail was read to its end)."""
    return _infer_divisions(_parse_unit_block(work))


def _strip_divisions(work: pl.DataFrame) -> pl.DataFrame:
    """Province, city, district, street and community tokens stripped from the left of ``rest``."""
    city_names = lookups()["city"]
    # the province of the five-level table, in full or short (the cities matched next are its own)
    province = five_level_province()
    written = sorted({division_names()[province], *short_names(division_names()[province], 1)}, key=len, reverse=True)
    work = _take(work, "province", "^(" + "|".join(map(re.escape, written)) + ")")
    alternation = "|".join(sorted(set(city_names["city_name"].to_list()) | set(city_names["core"].to_list()), key=len, reverse=True))
    work = _take(work, "_city_tok", rf"^({alternation})")
    work = work.join(
        pl.concat([city_names.select("city_code", pl.col("city_name").alias("_city_tok")), city_names.select("city_code", pl.col("core").alias("_city_tok"))]),
        on="_city_tok", how="left", maintain_order="left",
    ).rename({"_city_tok": "city"})
    work = work.with_columns(pl.when(pl.col("province").is_not_null() | pl.col("city_code").is_not_null()).then(pl.lit(province)).alias("_prov_code"))
    work = work.with_columns(pl.coalesce("city_code", "_prov_code").alias("_parent"))
    work = _resolve_level(work, "district", _DISTRICT_SUFFIX, 7)
    work = _resolve_level(work, "street", _STREET_SUFFIX, 10)
    return _resolve_level(work, "community", _COMMUNITY_SUFFIX, 12)


_BLOCK_PATTERNS = [
    # (regex on the tail, group → field)
    (rf"(\d+){_BUILDING_WORD}(\d+)单元(?:(\d+)[层楼])?(\d+)室?$", ("building", "unit", "floor", "room")),
    (r"(\d+)-(\d+)-(\d+)室?$", ("building", "unit", "room")),
    (rf"(\d+){_BUILDING_WORD}(\d+)-(\d+)室?$", ("building", "unit", "room")),
    (rf"(\d+){_BUILDING_MARK}(?:(\d+)[层楼])?(\d+)室?$", ("building", "floor", "room")),
    (rf"(\d+){_BUILDING_WORD}(\d+)单元$", ("building", "unit")),
    (rf"(\d+){_BUILDING_MARK}(\d+)[层楼]$", ("building", "floor")),
    (r"(\d+)-(\d+)室?$", ("building", "room")),
    (rf"(\d+){_BUILDING_MARK}$", ("building",)),
    (r"(?:(\d+)[层楼])?(\d+)室$", ("floor", "room")),
    (r"(\d+)[层楼]$", ("floor",)),
]


def _parse_unit_block(work: pl.DataFrame) -> pl.DataFrame:
    """Building / unit / floor / room from the tail; what precedes them is the compound."""
    # The first pattern (in list order) that matches wins: build from the list end backwards.
    # One pass of each pattern, kept as a column: group 1 is the whole block (null where the
    # pattern does not match).
    passes = [f"_block{i}" for i in range(len(_BLOCK_PATTERNS))]
    work = work.with_columns(pl.col("rest").str.extract_groups(f"({pattern})").alias(name) for name, (pattern, _) in zip(passes, _BLOCK_PATTERNS))
    exprs = {f: pl.lit(None, pl.String) for f in ("building", "unit", "floor", "room")}
    chosen = pl.lit(None, pl.String)
    for name, (_, fields) in reversed(list(zip(passes, _BLOCK_PATTERNS))):
        groups = pl.col(name)
        block = groups.struct.field("1")
        hit = block.is_not_null()
        for f in exprs:
            value = groups.struct.field(str(fields.index(f) + 2)) if f in fields else pl.lit(None, pl.String)
            exprs[f] = pl.when(hit).then(value).otherwise(exprs[f])
        chosen = pl.when(hit).then(block).otherwise(chosen)
    work = work.with_columns(chosen.alias("_block"), *[e.alias(f) for f, e in exprs.items()]).drop(passes)
    compound = pl.when(pl.col("_block").is_not_null()).then(
        pl.col("rest").str.slice(0, pl.col("rest").str.len_chars() - pl.col("_block").str.len_chars())
    ).otherwise(pl.col("rest"))
    # read to its end: no number or letter is left outside the block (气象局7楼1029, 美都广场C座1391 are not)
    tail_read = ~compound.fill_null("").str.contains(r"[0-9A-Za-z]")
    compound = compound.str.replace_all(r"^[\-号#]+|[\-#]+$", "")
    has_words = compound.str.contains(r"[\p{Han}A-Z]")
    work = work.with_columns(pl.when(has_words).then(compound).alias("compound"), tail_read.alias("_tail_read"))
    # Numbers as canonical text without leading zeros. A floor is reported only where it is written
    # (null where absent): 301室 is on the third floor by custom, not by what the address says.
    work = work.with_columns(
        [pl.col(f).cast(pl.Int64, strict=False).cast(pl.String).alias(f) for f in ("building", "unit", "floor", "room", "road_no")]
    )
    return work.drop("_block")


_DIVISION_CODE = pl.coalesce("community_code", "street_code", "district_code", "city_code", "_prov_code")  # the deepest resolved


def _infer_divisions(work: pl.DataFrame) -> pl.DataFrame:
    """Names of every level the division code (the deepest level resolved) lies in."""
    names = division_names()
    levels = {"province": 2, "city": 4, "district": 6, "street": 9, "community": 12}
    exprs = []
    for level, length in levels.items():
        prefix = pl.when(pl.col("division_code").str.len_chars() >= length).then(pl.col("division_code").str.slice(0, length))
        exprs.append(pl.coalesce(prefix.replace_strict(names, default=None), pl.col(level)).alias(level))
    return work.with_columns(exprs)


def parse_address(text: str | None) -> dict[str, str | None]:
    """Parse one address; the same vectorised path as :func:`parse_frame`."""
    return parse_frame(pl.DataFrame({"a": [text]}, schema={"a": pl.String}), "a").row(0, named=True)
