"""Column drift: a delivery whose columns no longer match the system's catalogue mapping.

A renamed optional column (联系电话 → 手机) would otherwise pass quietly: the mapped field comes out
empty for the whole file and the new column sits unread in bronze. Each drift is named with the
column, the catalogue field it feeds and the place to fix the mapping; a missing *required*
column rejects the file earlier (:func:`pipelines.ingest._check_required_columns`).
"""

from __future__ import annotations

import polars as pl

from pipelines.sources.spec import SourceSpec
from warehouse.catalog import field as catalog_field


def _has_data(series: pl.Series) -> pl.Expr:
    values = pl.col(series.name)
    if series.dtype == pl.String:
        return values.str.strip_chars().str.len_chars().fill_null(0) > 0
    return values.is_not_null()


def column_drift(raw: pl.DataFrame, spec: SourceSpec, file_name: str, unmapped: list[str]) -> list[str]:
    """One message per catalogued column missing from ``raw`` and per ``unmapped`` column of
    ``raw`` (:func:`pipelines.standardize.unmapped_columns`) that carries data.

    A catalogued field counts as missing when none of its source names is delivered; an unmapped
    column counts only when at least one row has a value (an empty trailing column is no drift).
    When exactly one field is missing and one new column appears, the messages suggest the rename.
    """
    missing = [f for f in spec.canonical_fields() if f not in spec.required and not any(s in raw.columns for s in spec.sources_of(f))]
    counts = raw.select(_has_data(raw[c]).sum().alias(c) for c in unmapped).row(0, named=True) if unmapped else {}
    new = [c for c in unmapped if counts[c]]
    where = f"the column mapping of {spec.system} (pipelines/sources/{spec.system}/__init__.py, SourceSpec.columns)"
    rename = len(missing) == 1 and len(new) == 1
    messages = []
    for f in missing:
        expected = "/".join(spec.sources_of(f))
        hint = f"; renamed to {new[0]}?" if rename else ""
        messages.append(f"{file_name}: column {expected} is missing — catalogue field {f} ({catalog_field(f).label}) will be empty for this file{hint}")
    for c in new:
        hint = f" (renamed from {'/'.join(spec.sources_of(missing[0]))}? map it to {missing[0]})" if rename else ""
        messages.append(f"{file_name}: column {c} carries data in {counts[c]} rows but is not in {where}{hint}; kept in bronze only")
    return messages


__all__ = ["column_drift"]
