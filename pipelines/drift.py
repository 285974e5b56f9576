"""Column drift: a delivery whose columns no longer match the system's catalogue mapping.

A renamed optional column (联系电话 → 手机) would otherwise pass quietly: the mapped field comes out
empty for the whole file and the new column sits unread in bronze. Each drift is named with the
column, the catalogue field it feeds and the place to fix the mapping; a missing *required*
column rejects the file earlier (:func:`pipelines.ingest._check_required_columns`).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipelines.sources.spec import SourceSpec
from pipelines.standardize import unmapped_columns
from warehouse.catalog import field as catalog_field


@dataclass(frozen=True)
class Drift:
    kind: str  # "missing": a catalogued column is absent; "new": an unmapped column carries data
    column: str  # the delivered (or expected) column name
    field: str | None  # the catalogue field it feeds (missing) or would feed if renamed (new)
    rows_with_data: int  # rows of the file with a value in that column (new columns)
    message: str


def _has_data(series: pl.Series) -> pl.Expr:
    values = pl.col(series.name)
    if series.dtype == pl.String:
        return values.str.strip_chars().str.len_chars().fill_null(0) > 0
    return values.is_not_null()


def column_drift(raw: pl.DataFrame, spec: SourceSpec, file_name: str) -> list[Drift]:
    """Catalogued columns missing from ``raw`` and unmapped columns of ``raw`` that carry data.

    A catalogued field counts as missing when none of its source names is delivered; an unmapped
    column counts only when at least one row has a value (an empty trailing column is no drift).
    When exactly one field is missing and one new column appears, the message suggests the rename.
    """
    missing = [f for f in spec.canonical_fields() if f not in spec.required and not any(s in raw.columns for s in spec.sources_of(f))]
    extra = unmapped_columns(raw.columns, spec)
    counts = raw.select(_has_data(raw[c]).sum().alias(c) for c in extra).row(0, named=True) if extra else {}
    new = [c for c in extra if counts[c]]
    where = f"the column mapping of {spec.system} (pipelines/sources/{spec.system}/__init__.py, SourceSpec.columns)"
    rename = len(missing) == 1 and len(new) == 1
    found: list[Drift] = []
    for f in missing:
        entry = catalog_field(f)
        expected = "/".join(spec.sources_of(f))
        hint = f"; renamed to {new[0]}?" if rename else ""
        found.append(Drift("missing", expected, f, 0, f"{file_name}: column {expected} is missing — catalogue field {f} ({entry.label}) will be empty for this file{hint}"))
    for c in new:
        hint = f" (renamed from {'/'.join(spec.sources_of(missing[0]))}? map it to {missing[0]})" if rename else ""
        found.append(Drift("new", c, missing[0] if rename else None, int(counts[c]),
                           f"{file_name}: column {c} carries data in {counts[c]} rows but is not in {where}{hint}; kept in bronze only"))
    return found


__all__ = ["Drift", "column_drift"]
