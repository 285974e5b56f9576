"""The per-run quality report for data officers: one self-contained HTML file (no external assets)."""

from __future__ import annotations

import html
import os
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from pipelines.pii import scrub
from pipelines.summary import address_summary, warehouse_summary
from quality.freshness import freshness
from quality.gate import outcomes_of
from quality.gx_run import RESULTS
from warehouse.masking import mask_examples
from warehouse.storage import Warehouse

CSS = """body{font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}
th{background:#f0f3f7}.bad{color:#b00020;font-weight:600}.ok{color:#1b7f3b}h2{border-bottom:2px solid #dde;padding-bottom:3px}
.note{color:#666;font-size:12px}"""


def _table(df: pl.DataFrame, limit: int = 200) -> str:
    if df.height == 0:
        return "<p class=note>none</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if v is None else scrub(str(v)))}</td>" for v in row) + "</tr>" for row in df.head(limit).iter_rows()
    )
    more = f"<p class=note>{df.height - limit} more rows not shown</p>" if df.height > limit else ""
    return f"<table><tr>{head}</tr>{body}</table>{more}"


def _bars(labels: list[str], values: list[float], title: str, percent: bool = True) -> str:
    """A horizontal bar chart as inline SVG."""
    if not labels:
        return ""
    width, row = 520, 22
    top = max(max(values), 1e-9)
    bars = []
    for i, (label, value) in enumerate(zip(labels, values)):
        w = 0 if top == 0 else (value / top) * (width - 200)
        shown = f"{value:.1%}" if percent else f"{value:,.0f}"
        bars.append(
            f'<text x="0" y="{i * row + 15}" font-size="12">{html.escape(label)}</text>'
            f'<rect x="110" y="{i * row + 4}" width="{w:.1f}" height="14" fill="#4a78b5"/>'
            f'<text x="{115 + w:.1f}" y="{i * row + 15}" font-size="12">{shown}</text>'
        )
    return f'<h3>{html.escape(title)}</h3><svg width="{width}" height="{len(labels) * row + 6}" role="img">{"".join(bars)}</svg>'


def write_report(wh: Warehouse, run_id: str, folder: Path) -> Path:
    """Write ``quality_<run_id>.html`` into ``folder`` from the run's stored gate outcomes and
    results (so writing it again gives the same facts) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    outcomes = outcomes_of(wh, run_id)
    stored = wh.scan(*RESULTS)
    results = stored.filter(pl.col("run_id") == run_id).collect() if stored is not None else pl.DataFrame()
    tables, reasons, rejected = warehouse_summary(wh)
    per_system = tables.filter(pl.col("system") != "TOTAL")
    addresses = address_summary(wh)
    queue = wh.scan("address", "review", "queue")
    queue_size = 0 if queue is None else queue.select(pl.len()).collect().item()
    person_links = wh.scan("person", "links", "person_links")
    persons = None if person_links is None else person_links.group_by("rule").len().sort("len", descending=True).collect()
    gates = pl.DataFrame(
        [{"table": f"gold/curated/{o.table}", "rows": o.rows, "gate": "passed" if o.passed else "FAILED", "published": o.published, "version": o.version,
          **o.changes.as_dict(), "why": "; ".join(o.reasons[:3])} for o in outcomes]
    ) if outcomes else pl.DataFrame()
    failed = results.filter(~pl.col("success")).select("suite", "expectation", "column", "rule", "unexpected_count", "unexpected_percent", "observed_value", "examples") if results.height else pl.DataFrame()
    if failed.height:  # a data officer sees which value broke a rule, masked by its field's policy
        failed = failed.with_columns(pl.Series("examples", [mask_examples(e, c) for e, c in zip(failed["examples"].to_list(), failed["column"].to_list())], dtype=pl.String))
    quarantine_share = per_system.with_columns((pl.col("quarantine") / pl.col("bronze").clip(lower_bound=1)).alias("share"))
    parts = [
        f"<h1>EnterOnce 数据质量报告 · quality report</h1><p>run <code>{html.escape(run_id)}</code> · {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}</p>",
        "<h2>发布闸门 · publishing gates</h2>", _table(gates),
        "<h2>未通过的规则 · failed expectations (with examples)</h2>", _table(failed),
        "<h2>各系统入库 · rows in / standardised / quarantined</h2>", _table(tables),
        _bars(quarantine_share["system"].to_list(), quarantine_share["share"].to_list(), "quarantined share of rows received, by system"),
        "<h3>quarantined rows by reason</h3>", _table(reasons),
        "<h3>files not ingested</h3>", _table(rejected),
        "<h2>数据鲜活度 · freshness</h2>", _table(freshness(wh)),
        "<h2>地址匹配 · address match rates</h2>",
        _table(addresses) if addresses is not None else "<p class=note>addresses not linked yet</p>",
        _bars(addresses["source_system"].to_list(), addresses["match_rate"].to_list(), "address match rate by system") if addresses is not None else "",
        f"<p>address texts waiting for review: <b>{queue_size}</b></p>",
        "<h2>人员匹配 · person resolution</h2>", _table(persons) if persons is not None else "<p class=note>persons not resolved yet</p>",
    ]
    page = f"<!doctype html><html lang=zh><meta charset=utf-8><title>EnterOnce quality {html.escape(run_id)}</title><style>{CSS}</style><body>{''.join(parts)}</body></html>"
    path = folder / f"quality_{run_id}.html"
    for target in (path, folder / "latest.html"):  # steps of one run write it in turn: replace atomically
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, target)
    return path
