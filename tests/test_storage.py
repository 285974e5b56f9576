"""The warehouse's writer: a large frame reaches Delta a slice at a time, with every row and type."""

from __future__ import annotations

import polars as pl

from warehouse import storage
from warehouse.storage import Warehouse


def test_a_frame_larger_than_a_slice_is_written_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(storage, "STREAM_ROWS", 10)
    frame = pl.DataFrame({
        "key": [f"k{i:03d}" for i in range(95)],
        "kwh": [float(i) / 3 for i in range(95)],
        "day": pl.date_range(pl.date(2026, 1, 1), pl.date(2026, 4, 5), eager=True),
        "empty": pl.Series([None] * 95, dtype=pl.Null),  # Delta has no null type: written as text
    })
    wh = Warehouse(str(tmp_path / "wh"))
    wh.write(frame, "gold", "curated", "t", mode="overwrite")
    back = wh.read("gold", "curated", "t").sort("key")
    assert back.schema["empty"] == pl.String and back.height == 95
    assert back.drop("empty").equals(frame.drop("empty"))
    assert wh.table("gold", "curated", "t").version() == 0  # one commit, not one per slice
