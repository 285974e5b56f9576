"""docs/reading.md, executed: the curated tables read directly with polars, pandas (via
deltalake) and DuckDB's delta_scan with the delta extension loaded offline from its wheel."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from warehouse.publish import diff_by_key, merge_changes
from warehouse.storage import Warehouse

DOC = Path(__file__).parent.parent / "docs" / "reading.md"


def _snippets() -> dict[str, str]:
    """The doc's python blocks, by the name in their first comment line (``# polars`` …)."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    return {block.splitlines()[0].lstrip("# ").strip(): block for block in blocks}


def test_the_documented_reads_agree(tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    first = pl.DataFrame({"person_id": ["P1", "P2", "P3"], "community_code": ["330102001001", "330102001001", "330102002001"], "age": [81, 45, 67]})
    wh.write(first, "gold", "curated", "persons")
    second = first.with_columns(pl.when(pl.col("person_id") == "P2").then(46).otherwise(pl.col("age")).alias("age"))
    merge_changes(wh.uri("gold", "curated", "persons"), diff_by_key(wh.read("gold", "curated", "persons"), second, ["person_id"])[0], ["person_id"])
    snippets = _snippets()
    assert {"polars", "pandas", "duckdb", "change feed"} <= set(snippets)
    results = {}
    for name, code in snippets.items():
        scope = {"WAREHOUSE": wh.root}
        exec(compile(code, f"docs/reading.md:{name}", "exec"), scope)  # noqa: S102 - our own documentation
        results[name] = scope["result"]
    expected = second.sort("person_id")
    assert pl.from_pandas(results["pandas"]).sort("person_id").equals(expected)
    assert results["polars"].sort("person_id").equals(expected)
    assert results["duckdb"] == [("330102001001", 2), ("330102002001", 1)]
    assert sorted(results["change feed"]["_change_type"].to_list()) == ["update_postimage", "update_preimage"]
