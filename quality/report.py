"""The per-run quality report for data officers: what failed, where, and what to fix — in Chinese.

The facts of a run are collected once by the run itself (:func:`collect_facts`), kept in
``quality/results/reports`` and rendered from there: ``enteronce quality report`` and the
workbench show a run's report as the run wrote it, never with facts of another moment. Output:
one self-contained HTML file (no external assets, works offline) and an XLSX workbook with
Chinese headers (:func:`write_xlsx`).
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
from deltalake.exceptions import CommitFailedError

from pipelines.pii import scrub
from pipelines.quarantine import REPLAYED_TABLE, QUARANTINE_TABLE, open_rows
from pipelines.sources import all_specs
from pipelines.summary import address_summary, warehouse_summary
from quality.freshness import freshness
from quality.gate import PUBLISHES
from quality.gx_run import RESULTS
from quality.labels import ADDRESS_DECISIONS, beijing, rule_label, short_run, yes_no, yes_no_expr
from warehouse.catalog import CATALOG
from warehouse.masking import POLICY, kind_of, mask_expr
from warehouse.registry import GOLD_BY_NAME
from warehouse.storage import Warehouse
from warehouse.tables import ADDRESS_LAYER, ADDRESS_LINKS, ADDRESS_TEXTS, BASE_ADDRESSES, PERSON_LINKS, PERSON_REVIEW_QUEUE, REVIEW_QUEUE

PLACES = ("quality", "results", "places")  # the places section last counted, with the state of the lake it counted
REPORTS = ("quality", "results", "reports")  # run_id, written_at, facts (JSON): what each run's report says
TREND_RUNS = 10
UNPLACED = "未定位"
# raw address text → address_id, for texts the address master already knows (injected by the
# callers above this layer: address_master.links.locate_texts)
Locate = Callable[[Warehouse, pl.Series], pl.DataFrame]

STYLE = """body{font-family:'Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left;vertical-align:top}
th{background:#f0f3f7}.bad{color:#b00020;font-weight:600}.ok{color:#1b7f3b}h2{border-bottom:2px solid #dde;padding-bottom:3px;margin-top:1.6em}
.note{color:#666;font-size:12px}code{font-size:12px}"""

SECTIONS: dict[str, str] = {
    "gates": "发布闸门", "failed": "未通过的规则（问题值及其来源文件、行号）", "trend": f"闸门趋势（最近 {TREND_RUNS} 次运行）",
    "systems": "各系统入库情况", "reasons": "隔离原因", "rejected": "未入库的文件", "freshness": "数据鲜活度",
    "address_by_system": "地址匹配（按系统）", "places": "地址匹配率与隔离率（按街道、社区）", "persons": "人员匹配（按规则）",
}


@dataclass
class ReportFacts:
    run_id: str
    run_time: str  # Beijing time of the run's first gate decision
    collected_at: str  # Beijing time the facts were collected
    sections: dict[str, pl.DataFrame]  # Chinese headers, in SECTIONS' order
    review_queue: int
    person_queue: int = 0  # records waiting for a same/different decision (0 in reports stored before it was counted)

    @property
    def title(self) -> str:
        return f"数据质量报告 · {self.run_time[:10]} · 运行 {short_run(self.run_id)}"

    def to_json(self) -> str:
        return json.dumps({"run_id": self.run_id, "run_time": self.run_time, "collected_at": self.collected_at, "review_queue": self.review_queue,
                           "person_queue": self.person_queue, "sections": {k: {"columns": v.columns, "rows": v.rows()} for k, v in self.sections.items()}},
                          ensure_ascii=False, default=str)

    @classmethod
    def from_json(cls, text: str) -> "ReportFacts":
        data = json.loads(text)
        sections = {k: pl.DataFrame(v["rows"], schema=v["columns"], orient="row", infer_schema_length=None) for k, v in data["sections"].items()}
        return cls(data["run_id"], data["run_time"], data["collected_at"], sections, data["review_queue"], data.get("person_queue", 0))


# ------------------------------------------------------------------------------- facts
def _system_label(system: str) -> str:
    spec = all_specs().get(system)
    return spec.label if spec else system


def _system_label_expr(column: str) -> pl.Expr:
    """A column of system names as their Chinese labels."""
    return pl.col(column).replace_strict({s: spec.label for s, spec in all_specs().items()}, default=pl.col(column))


def _table_label_expr(column: str = "table") -> pl.Expr:
    """A column of curated-table names as their Chinese labels."""
    return pl.col(column).replace_strict({n: s.label for n, s in GOLD_BY_NAME.items()}, default=pl.col(column))


def _field_of(column: str) -> str:
    """The catalogue field a rule's column checks (``_id_number_valid`` → id_number)."""
    return column.strip("_").removesuffix("_known").removesuffix("_valid")


def _suite_label(suite: str) -> str:
    layer, _, name = suite.partition(".")
    if layer == "silver":
        return f"来源 · {_system_label(name)}"
    spec = GOLD_BY_NAME.get(name)
    return f"发布表 · {spec.label if spec else name}"


def _field_label(column: str | None) -> str:
    if not column:
        return "（整表）"
    names = [_field_of(c) for c in column.split(",")]
    return "、".join(CATALOG[n].label if n in CATALOG else n for n in names)


def _where(row: dict) -> str:
    """'值 · 系统 · 文件 · 第 n 行' (or the key of a curated row), the value masked by its kind."""
    value = row.pop("value", None)
    parts = [f"值 {value if value is not None else '（空）'}"]
    if "source_system" in row:
        parts.append(_system_label(row.pop("source_system") or ""))
    if row.get("source_file"):
        # officials know a delivery by its file name; the landing folder is ours
        parts.append(f"文件 {Path(row.pop('source_file')).name}")
    if row.get("source_row") is not None:
        parts.append(f"第 {row.pop('source_row')} 行")
    row.pop("batch_id", None)
    parts += [f"{k}={v}" for k, v in row.items() if v is not None]
    return " · ".join(parts)


def _masked_rows(offending: str | None, column: str | None) -> list[dict]:
    rows = json.loads(offending) if offending else []
    if not rows:
        return []
    value_kind = kind_of(_field_of(column or ""))
    frame = pl.DataFrame(rows, infer_schema_length=None).with_columns(pl.all().cast(pl.String))
    rule = POLICY.get(value_kind or "")
    if rule is not None and "value" in frame.columns:
        frame = frame.with_columns(mask_expr("value", rule))
    frame = frame.with_columns(mask_expr(c) for c in frame.columns if c != "value" and kind_of(c) in POLICY)
    return frame.to_dicts()


def failed_rules(results: pl.DataFrame) -> pl.DataFrame:
    """Failed rules of a run, one row each, with the offending values and where they are."""
    failed = results.filter(~pl.col("success")) if results.height else results
    rows = []
    for r in failed.iter_rows(named=True):
        located = [_where(dict(x)) for x in _masked_rows(r.get("offending"), r["column"])]
        if not located and r["examples"] not in (None, "[]"):  # rules over a whole column: GX's example values
            located = [f"值 {v}" for v in json.loads(scrub(r["examples"]))]
        system, batch = (r["suite"].split(".", 1)[1], r["batch_id"]) if r["suite"].startswith("silver.") else (None, None)
        rows.append({"检查对象": _suite_label(r["suite"]), "批次": batch or "", "规则": rule_label(r["rule"], r["expectation"]), "字段": _field_label(r["column"]),
                     "不符合数": r["unexpected_count"], "不符合比例": None if r["unexpected_percent"] is None else round(r["unexpected_percent"], 2),
                     "问题值及位置": "\n".join(scrub(x) for x in located), "_system": system})
    schema = {"检查对象": pl.String, "批次": pl.String, "规则": pl.String, "字段": pl.String, "不符合数": pl.Int64, "不符合比例": pl.Float64,
              "问题值及位置": pl.String, "_system": pl.String}
    return pl.DataFrame(rows, schema=schema)


def _gates(decided: pl.DataFrame, run_id: str) -> pl.DataFrame:
    if decided.height == 0:
        return pl.DataFrame()
    run = decided.filter(pl.col("run_id") == run_id).sort("decided_at").unique("table", keep="last").sort("table")
    return run.select(
        _table_label_expr().alias("表"),
        pl.col("rows").alias("行数"),
        pl.when(pl.col("passed")).then(pl.lit("通过")).otherwise(pl.lit("未通过")).alias("闸门"),
        yes_no_expr("published").alias("已发布"),
        pl.col("version").alias("版本"), pl.col("inserted").alias("新增"), pl.col("updated").alias("更新"), pl.col("deleted").alias("删除"),
        pl.col("reasons").fill_null("").str.split("\n").list.head(3).list.join("；").alias("原因"),
    )


def gate_trend(decided: pl.DataFrame, runs: int = TREND_RUNS, until: str | None = None) -> pl.DataFrame:
    """表 × the last ``runs`` runs (up to and including ``until``) of the gate decisions ``decided``
    (``quality/results/publishes``): 通过 / 未通过 / 未变 (inputs unchanged, not built)."""
    if decided.height == 0:
        return pl.DataFrame()
    last = decided.sort("decided_at").unique(["run_id", "table"], keep="last")
    order = last.group_by("run_id").agg(pl.col("decided_at").min().alias("at")).sort("at", "run_id")
    if until is not None and until in order["run_id"].to_list():
        order = order.filter(pl.col("at") <= order.filter(pl.col("run_id") == until)["at"][0])
    order = order.tail(runs)
    headers = {r: f"{beijing(a)[5:]} {short_run(r)}" for r, a in order.iter_rows()}
    labels = list(headers.values())
    # two runs in one minute whose ids begin alike would share a column: those show the whole id
    headers = {r: h if labels.count(h) == 1 else f"{h[:-len(short_run(r))]}{r}" for r, h in headers.items()}
    state = pl.when(~pl.col("passed")).then(pl.lit("未通过")).when(pl.col("built").fill_null(True)).then(pl.lit("通过")).otherwise(pl.lit("未变"))
    cells = last.join(order.select("run_id"), on="run_id").with_columns(state.alias("state"), pl.col("run_id").replace_strict(headers).alias("run"))
    grid = cells.pivot(on="run", index="table", values="state", aggregate_function="first", sort_columns=False)
    columns = [h for h in headers.values() if h in grid.columns]
    return grid.select(_table_label_expr().alias("表"), *columns).sort("表")


def _places_state(wh: Warehouse, locate: Locate | None) -> str:
    """The versions of every table the places section is counted from."""
    paths = [(ADDRESS_LAYER, *p) for p in (ADDRESS_LINKS, BASE_ADDRESSES, REVIEW_QUEUE, ADDRESS_TEXTS)]
    paths += [("quarantine", system, t) for system in all_specs() for t in (QUARANTINE_TABLE, REPLAYED_TABLE)]
    versions = [f"{'/'.join(p)}={wh.table(*p).version() if wh.exists(*p) else -1}" for p in paths]
    return ";".join([*versions, f"located={locate is not None}"])


def places(wh: Warehouse, locate: Locate | None) -> pl.DataFrame:
    """Per street and community: address values, matched share, in review, unmatched, and
    quarantined rows with their share. A value is placed by its matched address, else its best
    review candidate; a quarantined row by its raw address text when the address master knows it.

    Counting reads every address link (30 M at a million residents) and most runs change none of
    its inputs: the count is kept with the versions it came from and reused until one moves."""
    state = _places_state(wh, locate)
    kept = wh.read(*PLACES)
    if kept.height and kept["_state"][0] == state:
        return kept.drop("_state")
    counted = _count_places(wh, locate)
    if counted.width:
        try:
            wh.write(counted.with_columns(pl.lit(state).alias("_state")), *PLACES, mode="overwrite", schema_mode="overwrite")
        except CommitFailedError:  # two reports counted at once and the other kept its count: the same one
            pass
    return counted


def _count_places(wh: Warehouse, locate: Locate | None) -> pl.DataFrame:
    links = wh.scan(ADDRESS_LAYER, *ADDRESS_LINKS)
    base = wh.read(ADDRESS_LAYER, *BASE_ADDRESSES, columns=["address_id", "street_code", "street_name", "community_code", "community_name"])
    if links is None or base.height == 0:
        return pl.DataFrame()
    queue = wh.read(ADDRESS_LAYER, *REVIEW_QUEUE)
    best = (queue.select("address_key", pl.col("candidates").list.first().struct.field("address_id").alias("candidate_id"))
            if queue.height and "candidates" in queue.columns else pl.DataFrame(schema={"address_key": pl.String, "candidate_id": pl.String}))
    # a value is placed by its address, else by its best candidate: only the values without an
    # address (a few percent) are joined to the queue (13.5 M links at 1M residents: 3.4 -> 2.1 s)
    counts = [pl.len().alias("values"), (pl.col("decision") == "accept").sum().alias("accepted"), (pl.col("decision") == "review").sum().alias("review")]
    matched = links.filter(pl.col("address_id").is_not_null()).group_by(pl.col("address_id").alias("_placed")).agg(counts)
    unmatched = (links.filter(pl.col("address_id").is_null()).join(best.lazy(), on="address_key", how="left")
                 .group_by(pl.col("candidate_id").alias("_placed")).agg(counts))
    counted = pl.concat([matched, unmatched]).group_by("_placed").agg(pl.col("values", "accepted", "review").sum()).collect()
    quarantined = _quarantined_places(wh, locate)
    frame = (counted.rename({"_placed": "address_id"}).join(quarantined, on="address_id", how="full", coalesce=True)
             .with_columns(pl.col("values", "accepted", "review", "quarantined").fill_null(0))
             .join(base, on="address_id", how="left"))
    by = frame.group_by("street_code", "street_name", "community_code", "community_name").agg(pl.col("values", "accepted", "review", "quarantined").sum())
    return by.with_columns(
        pl.col("street_name").fill_null(UNPLACED), pl.col("community_name").fill_null(UNPLACED),
    ).select(
        pl.col("street_name").alias("街道"), pl.col("community_name").alias("社区"), pl.col("values").alias("地址值"),
        (pl.col("accepted") / pl.col("values").clip(lower_bound=1)).round(4).alias("匹配率"), pl.col("review").alias("待复核"),
        (pl.col("values") - pl.col("accepted") - pl.col("review")).alias("未匹配"), pl.col("quarantined").alias("隔离行"),
        (pl.col("quarantined") / (pl.col("values") + pl.col("quarantined")).clip(lower_bound=1)).round(4).alias("隔离率"),
        pl.col("street_code").alias("_street_code"), pl.col("community_code").alias("_community_code"),
    ).sort("_community_code", nulls_last=True)


def _quarantined_places(wh: Warehouse, locate: Locate | None) -> pl.DataFrame:
    """address_id → quarantined rows whose raw address text is known to the address master."""
    empty = pl.DataFrame(schema={"address_id": pl.String, "quarantined": pl.UInt32})
    if locate is None:
        return empty
    texts = []
    for spec in all_specs().values():
        sources = [s for f in spec.canonical_fields() if CATALOG[f].kind == "address" for s in spec.sources_of(f)]
        rows = open_rows(wh, spec.system)
        if not sources or rows.height == 0:
            continue
        text = pl.coalesce([pl.col("raw_values").str.json_path_match(f'$["{s}"]') for s in sources])
        texts.append(rows.select(text.alias("address_text")))
    if not texts:
        return empty
    raw = pl.concat(texts)
    located = raw.join(locate(wh, raw["address_text"]), on="address_text", how="left")
    return located.group_by("address_id").agg(pl.len().alias("quarantined"))


def collect_facts(wh: Warehouse, run_id: str, locate: Locate | None = None) -> ReportFacts:
    """Everything a run's report says, from the stored results of the run and the lake as it is now."""
    stored = wh.scan(*RESULTS)
    results = stored.filter(pl.col("run_id") == run_id).collect() if stored is not None else pl.DataFrame()
    tables, reasons, rejected = warehouse_summary(wh)
    per_system = tables.filter(pl.col("system") != "TOTAL")
    decided = wh.read(*PUBLISHES)
    started = decided.filter(pl.col("run_id") == run_id)["decided_at"].min() if decided.height else None
    systems = per_system.select(
        pl.col("label").alias("系统"), pl.col("bronze").alias("收到"), pl.col("silver").alias("入库"), pl.col("quarantine").alias("隔离"),
        (pl.col("quarantine") / pl.col("bronze").clip(lower_bound=1)).round(4).alias("隔离率"),
        yes_no_expr("balanced").alias("行数守恒"),
    ) if per_system.height else pl.DataFrame()
    by_system = address_summary(wh)
    person_links = wh.scan(*PERSON_LINKS)
    persons = None if person_links is None else person_links.group_by("rule").len().sort("len", descending=True).collect()
    fresh = freshness(wh)
    queue = wh.scan(ADDRESS_LAYER, *REVIEW_QUEUE)
    person_queue = wh.scan(*PERSON_REVIEW_QUEUE)
    sections = {
        "gates": _gates(decided, run_id),
        "failed": failed_rules(results),
        "trend": gate_trend(decided, until=run_id),
        "systems": systems,
        "reasons": reasons.select(_system_label_expr("system").alias("系统"),
                                  *[pl.col(c).alias({"reason": "原因", "rows": "行数"}.get(c, c)) for c in reasons.columns if c != "system"]) if reasons.height else reasons,
        "rejected": rejected.select(_system_label_expr("system").alias("系统"), pl.col("file_name").alias("文件"),
                                    pl.col("status").replace({"rejected": "已拒收", "duplicate": "重复交付"}).alias("状态"), pl.col("message").alias("说明")) if rejected.height else rejected,
        "freshness": fresh.select(pl.col("label").alias("系统"), pl.col("latest_batch").map_elements(lambda t: beijing(datetime.fromisoformat(t)), return_dtype=pl.String).alias("最近入库"), pl.col("age_days").alias("距今天数"),
                                  pl.col("cadence_days").alias("应交付间隔（天）"), yes_no_expr("fresh").alias("按时")),
        "address_by_system": by_system.select(_system_label_expr("source_system").alias("系统"),
                                              pl.col("address_values").alias("地址值"), pl.col("accepted").alias(ADDRESS_DECISIONS["accept"]),
                                              pl.col("review").alias(ADDRESS_DECISIONS["review"]), pl.col("building_only").alias(ADDRESS_DECISIONS["building"]),
                                              pl.col("unmatched").alias(ADDRESS_DECISIONS["reject"]),
                                              pl.col("match_rate").alias("匹配率")) if by_system is not None else pl.DataFrame(),
        "places": places(wh, locate),
        "persons": persons.select(pl.col("rule").replace({"id": "身份证号一致", "id_first17": "身份证前 17 位一致", "fuzzy": "姓名、生日、地址相似",
                                                          "new": "新人员", "review": "数据专员复核"}).alias("规则"), pl.col("len").alias("记录数")) if persons is not None else pl.DataFrame(),
    }
    return ReportFacts(run_id, beijing(started), beijing(datetime.now(timezone.utc)), sections,
                       0 if queue is None else queue.select(pl.len()).collect().item(),
                       0 if person_queue is None else person_queue.select(pl.col("record_key").n_unique()).collect().item())


def keep_facts(wh: Warehouse, facts: ReportFacts) -> None:
    row = pl.DataFrame([{"run_id": facts.run_id, "written_at": datetime.now(timezone.utc), "facts": facts.to_json()}],
                       schema={"run_id": pl.String, "written_at": pl.Datetime("us", "UTC"), "facts": pl.String})
    wh.write(row, *REPORTS, mode="append")


def stored_facts(wh: Warehouse, run_id: str) -> ReportFacts | None:
    """What the run's report said when the run last wrote it (None: it never did)."""
    scan = wh.scan(*REPORTS)
    if scan is None:
        return None
    found = scan.filter(pl.col("run_id") == run_id).sort("written_at").tail(1).collect()
    return ReportFacts.from_json(found["facts"][0]) if found.height else None


def report_runs(wh: Warehouse) -> pl.DataFrame:
    """Runs with a stored report, newest first: run_id, written_at."""
    scan = wh.scan(*REPORTS)
    if scan is None:
        return pl.DataFrame(schema={"run_id": pl.String, "written_at": pl.Datetime("us", "UTC")})
    return scan.group_by("run_id").agg(pl.col("written_at").max()).sort("written_at", descending=True).collect()


# ------------------------------------------------------------------------------ render
def table_html(df: pl.DataFrame, limit: int = 300, links: dict[str, Callable[[dict], str | None]] | None = None) -> str:
    """An HTML table of ``df`` (columns starting with ``_`` hidden; ``links``: column → href of a row)."""
    if df.height == 0:
        return "<p class=note>无</p>"
    shown = [c for c in df.columns if not c.startswith("_")]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in shown)
    body = []
    for row in df.head(limit).iter_rows(named=True):
        cells = []
        for c in shown:
            value = row[c]
            text = "" if value is None else (yes_no(value) if isinstance(value, bool) else str(value))
            text = html.escape(scrub(text)).replace("\n", "<br>")
            href = (links or {}).get(c, lambda _r: None)(row)
            cells.append(f"<td><a href=\"{html.escape(href)}\">{text}</a></td>" if href else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f"<p class=note>另有 {df.height - limit} 行未显示</p>" if df.height > limit else ""
    return f"<table><tr>{head}</tr>{''.join(body)}</table>{more}"


def bars_svg(labels: list[str], values: list[float], title: str, percent: bool = True) -> str:
    """A horizontal bar chart as inline SVG (no script, no external asset)."""
    if not labels:
        return ""
    width, row, left = 560, 22, 150
    top = max(max(values), 1e-9)
    bars = []
    for i, (label, value) in enumerate(zip(labels, values)):
        w = (value / top) * (width - left - 70)
        shown = f"{value:.1%}" if percent else f"{value:,.0f}"
        bars.append(f'<text x="0" y="{i * row + 15}" font-size="12">{html.escape(label)}</text>'
                    f'<rect x="{left}" y="{i * row + 4}" width="{w:.1f}" height="14" fill="#4a78b5"/>'
                    f'<text x="{left + 5 + w:.1f}" y="{i * row + 15}" font-size="12">{shown}</text>')
    return f'<h3>{html.escape(title)}</h3><svg class="chart" width="{width}" height="{len(labels) * row + 6}" role="img" aria-label="{html.escape(title)}">{"".join(bars)}</svg>'


TREND_COLOURS = {"通过": "#2e9d57", "未变": "#a9d8b8", "未通过": "#c62828"}


def trend_svg(trend: pl.DataFrame) -> str:
    """Gates × runs as a grid of coloured cells (green passed, pale green unchanged, red failed)."""
    if trend.height == 0 or trend.width < 2:
        return ""
    runs = trend.columns[1:]
    cell, left, top = 26, 120, 110  # room above for the run labels, written at 60°
    parts = [f'<text x="{left + i * cell + 8}" y="{top - 6}" font-size="10" transform="rotate(-60 {left + i * cell + 8} {top - 6})">{html.escape(r)}</text>'
             for i, r in enumerate(runs)]
    for j, row in enumerate(trend.iter_rows(named=True)):
        parts.append(f'<text x="0" y="{top + j * cell + 17}" font-size="12">{html.escape(row["表"])}</text>')
        for i, r in enumerate(runs):
            state = row[r]
            colour = TREND_COLOURS.get(state or "", "#eee")
            parts.append(f'<rect x="{left + i * cell}" y="{top + j * cell}" width="{cell - 3}" height="{cell - 3}" fill="{colour}"><title>{html.escape(row["表"])} · {html.escape(r)} · {html.escape(state or "未运行")}</title></rect>')
    legend = " ".join(f'<span style="display:inline-block;width:10px;height:10px;background:{c}"></span> {s}' for s, c in TREND_COLOURS.items())
    return (f'<svg class="chart" width="{left + len(runs) * cell + 70}" height="{top + trend.height * cell + 4}" role="img" aria-label="闸门趋势">{"".join(parts)}</svg>'
            f'<p class=note>{legend}（未变：输入未变，未重建）</p>')


def render_body(facts: ReportFacts, links: dict[str, dict[str, Callable[[dict], str | None]]] | None = None) -> str:
    """The report's sections as HTML (the workbench wraps them in its page; ``links`` per section)."""
    s = facts.sections
    links = links or {}
    parts = [f"<h1>{html.escape(facts.title)}</h1>",
             f"<p>运行 <code title=\"{html.escape(facts.run_id)}\">{short_run(facts.run_id)}</code> · 运行时间 {facts.run_time}（北京时间）"
             f" · 现状统计于 {facts.collected_at} · 待复核地址 <b>{facts.review_queue}</b> 条 · 待复核人员 <b>{facts.person_queue}</b> 条</p>"]
    for key, title in SECTIONS.items():
        frame = s.get(key, pl.DataFrame())
        parts.append(f"<h2 id=\"{key}\">{title}</h2>")
        if key == "trend":
            parts.append(trend_svg(frame))
        parts.append(table_html(frame, links=links.get(key)))
        if key == "systems" and frame.height:
            parts.append(bars_svg(frame["系统"].to_list(), frame["隔离率"].to_list(), "隔离率（按系统）"))
        if key == "address_by_system" and frame.height:
            parts.append(bars_svg(frame["系统"].to_list(), frame["匹配率"].to_list(), "地址匹配率（按系统）"))
    return "".join(parts)


def page(title: str, body: str, head: str = "") -> str:
    return (f"<!doctype html><html lang=zh-CN><head><meta charset=utf-8><meta name=viewport content=\"width=device-width\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style>{head}</head><body>{body}</body></html>")


def _replace(target: Path, write: Callable[[Path], None]) -> None:
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.tmp{target.suffix}")
    write(tmp)
    os.replace(tmp, target)  # a reader never sees half a page (latest.html is shared by every run)


def report_path(folder: Path, run_id: str) -> Path:
    """Where a run's HTML report is (or will be) written."""
    return folder / f"quality_{run_id}.html"


def write_html(facts: ReportFacts, folder: Path, latest: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = page(facts.title, render_body(facts))
    path = report_path(folder, facts.run_id)
    for target in (path, folder / "latest.html") if latest else (path,):
        _replace(target, lambda p: p.write_text(text, encoding="utf-8"))
    return path


def xlsx_bytes(facts: ReportFacts) -> bytes:
    """The report's tables as one XLSX workbook, a sheet per section, Chinese headers."""
    import io

    import xlsxwriter

    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer, {"in_memory": True}) as book:
        for key, title in SECTIONS.items():
            frame = facts.sections.get(key, pl.DataFrame())
            frame = frame.select([c for c in frame.columns if not c.startswith("_")]) if frame.width else frame
            frame = frame if frame.height else pl.DataFrame({"说明": ["无"]})
            frame.write_excel(workbook=book, worksheet=title.split("（")[0][:31], autofit=True)
    return buffer.getvalue()


def write_xlsx(facts: ReportFacts, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    _replace(path, lambda p: p.write_bytes(xlsx_bytes(facts)))
    return path


def write_report(wh: Warehouse, run_id: str, folder: Path, locate: Locate | None = None) -> Path:
    """Collect the run's facts now, keep them, and write ``quality_<run_id>.html`` (and ``latest.html``)."""
    facts = collect_facts(wh, run_id, locate)
    keep_facts(wh, facts)
    return write_html(facts, folder)


__all__ = ["REPORTS", "ReportFacts", "SECTIONS", "bars_svg", "collect_facts", "failed_rules", "gate_trend", "keep_facts", "page", "places",
           "render_body", "report_path", "report_runs", "stored_facts", "table_html", "write_html", "write_report", "write_xlsx", "xlsx_bytes"]
