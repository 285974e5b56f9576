"""Text normalisation as polars expressions: full-width → half-width, traditional → simplified,
whitespace. Every function takes and returns a ``pl.Expr`` so it runs vectorised over a column.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

# Full-width ASCII block U+FF01..U+FF5E maps to U+0021..U+007E; U+3000 is the ideographic space.
_FULL_WIDTH = [chr(c) for c in range(0xFF01, 0xFF5F)] + ["\u3000"]
_HALF_WIDTH = [chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)] + [" "]


SLICE_WORKERS = 2  # slices of a frame worked on at once by :func:`in_slices`
SLICED_FROM = 50_000  # rows from which a frame is split at all


def in_slices(frame: pl.DataFrame, work: Callable[[pl.DataFrame], pl.DataFrame], workers: int = SLICE_WORKERS) -> pl.DataFrame:
    """``work`` done on ``frame`` a slice at a time, ``workers`` slices at once, results in order.

    For row-wise work only (each output row depends on its input row alone). A chain of string
    expressions over one column keeps one core busy; polars works outside the GIL, so threads
    give the others (403 k addresses normalised: 0.39 -> 0.25 s on two cores)."""
    if frame.height < SLICED_FROM or workers < 2:
        return work(frame)
    size = -(-frame.height // workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return pl.concat(pool.map(work, [frame.slice(start, size) for start in range(0, frame.height, size)]))


@functools.cache
def traditional_to_simplified_table() -> tuple[list[str], list[str]]:
    """Single-character traditional → simplified pairs from OpenCC's TSCharacters table.

    Where OpenCC lists several simplified candidates we take the first (its preferred one).
    """
    import opencc  # opencc-python-reimplemented ships the OpenCC dictionaries as text files

    path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    sources: list[str] = []
    targets: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) != 2 or len(parts[0]) != 1:
            continue
        target = parts[1].split(" ")[0]
        if target and target != parts[0]:
            sources.append(parts[0])
            targets.append(target)
    return sources, targets


@functools.cache
def char_fold_table() -> dict[str, str]:
    """One character for one character, so offsets into a text stay valid: full-width → half-width,
    traditional → simplified, a-z → A-Z, the ideographic space → a space."""
    table = dict(zip(*traditional_to_simplified_table()))
    table.update({chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)})
    table.update({chr(c): chr(c - 32) for c in range(ord("a"), ord("z") + 1)})
    table.update({chr(c): chr(c - 0xFEE0 - 32) for c in range(0xFF41, 0xFF5B)})  # full-width a-z
    table["\u3000"] = " "
    return table


def full_to_half_width(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_many(_FULL_WIDTH, _HALF_WIDTH)


def traditional_to_simplified(expr: pl.Expr) -> pl.Expr:
    sources, targets = traditional_to_simplified_table()
    return expr.str.replace_many(sources, targets)


def empty_to_null(expr: pl.Expr) -> pl.Expr:
    """``expr`` with empty strings as null. Not ``when(expr == "").then(None).otherwise(expr)``:
    on a DataFrame (eager) polars does not share common subexpressions, so that evaluates a
    whole normalising chain twice (twice the time of address normalisation on 3.4 M texts)."""
    return expr.replace("", None)


def normalize_text(expr: pl.Expr) -> pl.Expr:
    """Canonical free text: half-width, simplified, single spaces, trimmed; empty → null."""
    out = traditional_to_simplified(full_to_half_width(expr.cast(pl.String)))
    return empty_to_null(out.str.replace_all(r"\s+", " ").str.strip_chars())


def normalize_compact(expr: pl.Expr) -> pl.Expr:
    """Like :func:`normalize_text` but with every space removed (names, addresses, codes). No empty
    string can come out: normalize_text left none, and a text it kept has a non-space character."""
    return normalize_text(expr).str.replace_all(r"\s", "")
