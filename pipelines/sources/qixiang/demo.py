"""Demo export of this system, in its native shape, with ground truth (see pipelines/demo/kit.py)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from xml.sax.saxutils import escape

import polars as pl

from pipelines.demo.kit import ExportContext, truth_rows
from pipelines.demo.population import REFERENCE_DATE


def export(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("qixiang")
    streets = ctx.pop.communities["street_code"].unique().sort().to_list()
    district = ctx.pop.communities["district_code"][0]
    areas = [district, district[:4], *streets]
    n = 36
    kinds = ["暴雨", "台风", "高温", "大风", "寒潮", "大雾", "雷电"]
    levels = ["蓝色", "黄色", "橙色", "红色"]
    records = []
    for i in range(n):  # a month of warnings: small, hand-shaped like the provincial feed
        start = datetime(2026, 10, 1) + timedelta(hours=int(rng.integers(0, 30 * 24)))
        records.append(
            {
                "identifier": f"33010041600000_2026{i:05d}",
                "areaCode": areas[int(rng.integers(0, len(areas)))],
                "eventType": kinds[int(rng.integers(0, len(kinds)))],
                "severity": levels[int(rng.choice(4, p=[0.4, 0.35, 0.2, 0.05]))],
                "sendTime": start.strftime("%Y-%m-%d %H:%M:%S"),
                "effective": start.strftime("%Y-%m-%dT%H:%M:%S"),
                "expires": (start + timedelta(hours=int(rng.integers(6, 48)))).strftime("%Y-%m-%d %H:%M:%S"),
                "description": "杭州市气象台发布预警信号，请注意防范。",
            }
        )
    records[int(rng.integers(0, n))]["areaCode"] = "上城"  # a free-text area: quarantined
    bad_idx = next(i for i, r in enumerate(records) if r["areaCode"] == "上城")
    # planted for the weather alert with a generator of its own: a warning over one street in force on the reference date
    start = datetime.combine(REFERENCE_DATE, time(6))
    records.append({**records[0], "identifier": f"{records[0]['identifier'][:-5]}{n:05d}", "eventType": "暴雨", "severity": "橙色",
                    "areaCode": streets[int(ctx.rng("alerts:qixiang").integers(0, len(streets)))],
                    "sendTime": start.strftime("%Y-%m-%d %H:%M:%S"), "effective": start.strftime("%Y-%m-%dT%H:%M:%S"),
                    "expires": (start + timedelta(hours=30)).strftime("%Y-%m-%d %H:%M:%S")})
    noon = datetime.combine(REFERENCE_DATE, time(12))
    ctx.plant("weather_vulnerable", [r["identifier"] for r in records if r["areaCode"].isdigit()
                                     and datetime.fromisoformat(r["effective"]) <= noon <= datetime.fromisoformat(r["expires"])])
    body = "\n".join(
        "  <alert>\n" + "\n".join(f"    <{k}>{escape(v)}</{k}>" for k, v in r.items()) + "\n  </alert>" for r in records
    )
    path = ctx.folder("qixiang") / "qixiang_yjxh_202610.xml"
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<alerts sender="杭州市气象台">\n{body}\n</alerts>\n', encoding="utf-8")
    df = pl.DataFrame({"_kind": ["garbage" if i == bad_idx else "original" for i in range(len(records))]})
    return truth_rows("qixiang", path, df, 1)
