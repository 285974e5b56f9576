"""Forms in one click: the shipped templates load; a form's XLSX read back has the table's rows and
totals; monthly changes; a bad template is named by file and line; the monthly Dagster asset."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from pipelines.forms import FormError, build_form, load_form, load_forms
from warehouse.storage import Warehouse

A, B, OTHER_STREET = "330102001051", "330102001052", "330102002001"


def welfare_row(pid: str, kind: str, month: dt.date, amount: float, community: str = A, size: int = 2) -> dict:
    return {"person_id": pid, "name": f"居民{pid}", "assistance_type": kind, "family_size": size, "monthly_amount": amount,
            "payment_month": month, "start_date": dt.date(2025, 1, 1), "community_code": community, "street_code": community[:9],
            "district_code": community[:6]}


@pytest.fixture
def lake(tmp_path) -> Warehouse:
    wh = Warehouse(str(tmp_path / "wh"))
    sep, octo = dt.date(2026, 9, 1), dt.date(2026, 10, 1)
    rows = [welfare_row("p1", "低保", sep, 800), welfare_row("p2", "低保", sep, 900),  # p2 stops in October
            welfare_row("p1", "低保", octo, 800), welfare_row("p3", "低保", octo, 1000, size=3),  # p3 new
            welfare_row("p4", "特困", octo, 1500, community=B), welfare_row("p5", "低边", octo, 500, community=OTHER_STREET)]
    wh.write(pl.DataFrame(rows), "gold", "curated", "welfare")
    return wh


def test_the_shipped_set_loads_and_covers_the_monthly_forms():
    forms = load_forms()
    assert len(forms) >= 14
    assert {"持证困难家庭情况月报表", "低保对象花名册", "低保对象月度变动表", "高龄津贴发放花名册", "残疾人两项补贴花名册",
            "独居老人走访名单", "企业退休人员花名册", "出生人口月报表"} <= {f.title for f in forms.values()}


def test_summary_totals_and_scope(lake):
    form = load_forms()["01_needy_families_monthly"]
    frame = build_form(form, lake.scan("gold", "curated", "welfare"), dt.date(2026, 10, 1), A[:9])
    assert frame.columns == ["社区", "救助类别", "户数", "家庭人口", "月救助金额（元）"]
    assert frame["社区"].to_list() == ["清波门社区", frame["社区"][1]] and frame.height == 2  # A's 低保, B's 特困; not the other street
    october = lake.read("gold", "curated", "welfare").filter((pl.col("payment_month") == dt.date(2026, 10, 1)) & pl.col("street_code").eq(A[:9]))
    assert frame["月救助金额（元）"].sum() == october["monthly_amount"].sum() == 3300


def test_monthly_changes(lake):
    form = load_forms()["03_dibao_changes"]
    frame = build_form(form, lake.scan("gold", "curated", "welfare"), dt.date(2026, 10, 1), A)
    assert sorted(zip(frame["变动类型"], frame["人员编号"])) == [("停发", "p2"), ("新增", "p3")]


def test_cli_xlsx_read_back(lake, tmp_path):
    out = tmp_path / "forms"
    env = {**os.environ, "ENTERONCE_WAREHOUSE": lake.root}
    subprocess.run([str(Path(sys.executable).parent / "enteronce"), "forms", "build", "--month", "2026-10", "--scope", A[:9],
                    "--form", "01_needy_families_monthly", "--out", str(out)], env=env, check=True, capture_output=True)
    sheet = pl.read_excel(out / "2026-10" / A[:9] / "01_needy_families_monthly.xlsx", read_options={"header_row": 2})
    assert sheet.columns[:3] == ["社区", "救助类别", "户数"]
    body, total = sheet.filter(pl.col("社区") != "合计"), sheet.filter(pl.col("社区") == "合计")
    october = lake.read("gold", "curated", "welfare").filter((pl.col("payment_month") == dt.date(2026, 10, 1)) & pl.col("street_code").eq(A[:9]))
    assert body["月救助金额（元）"].sum() == total["月救助金额（元）"][0] == october["monthly_amount"].sum()
    assert total["家庭人口"][0] == october["family_size"].sum() and total["户数"][0] == october["person_id"].n_unique()


def test_one_row_per_premises_with_its_inspections_and_grid_events(lake, tmp_path):
    businesses = pl.DataFrame({"business_id": ["E1", "E2"], "business_name": ["甲店", "乙店"], "credit_code": ["c1", "c2"], "business_status": ["在业"] * 2,
                               "city_inspections": [2, 0], "fire_inspections": [1, 3], "last_inspection": [dt.date(2026, 10, 2), None],
                               "licence_expiry": [None, None], "address_id": ["AD1", "AD2"], "community_code": [A, A], "street_code": [A[:9]] * 2,
                               "district_code": [A[:6]] * 2})
    events = pl.DataFrame({"event_id": ["g1", "g2", "g3"], "address_id": ["AD1", "AD1", "AD9"], "community_code": [A] * 3})
    form = load_forms()["13_premises_inspections"]
    frame = build_form(form, businesses.lazy(), dt.date(2026, 10, 1), A, {"grid_events": events.lazy()})
    assert sorted(frame.select("场所名称", "城管巡查次数", "消防检查次数", "网格事件数").rows()) == [("乙店", 0, 3, 0), ("甲店", 2, 1, 2)]
    from pipelines.forms import totals
    sums = totals(form, frame)
    assert (sums["城管巡查次数"], sums["消防检查次数"], sums["网格事件数"], sums["场所名称"]) == (2, 4, 2, None)


@pytest.mark.parametrize("text, line, words", [
    ("title: x\ntable: welfares\ncolumns: []\n", 2, "unknown table 'welfares'"),
    ("title: x\ntable: welfare\ncolumns:\n  - {header: 姓名, source: name}\n  - {header: 钱, source: amount}\n", 5, "unknown column 'amount'"),
    ("title: x\ntable: welfare\ncolor: red\ncolumns: []\n", 3, "unknown key 'color'"),
    ("title: x\ntable: welfare\ncolumns:\n  - {header: 钱, agg: total, source: monthly_amount}\n", 4, "unknown aggregate 'total'"),
    ("title: x\ntable: welfare\nfilters:\n  assistance: 低保\ncolumns:\n  - {header: 姓名, source: name}\n", 4, "unknown column 'assistance'"),
    ("title: x\ntable: welfare\njoin:\n  - {table: grid, by: address_id, count: n}\ncolumns: []\n", 4, "unknown table 'grid'"),
])
def test_a_bad_template_is_named_by_file_and_line(lake, tmp_path, text, line, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FormError) as err:
        build_form(load_form(path), lake.scan("gold", "curated", "welfare"), dt.date(2026, 10, 1), A)
    assert f"{path} line {line}:" in str(err.value) and words in str(err.value)


def test_the_monthly_asset_builds_every_community(lake, tmp_path):
    from assets.forms import monthly_forms
    from assets.resources import QualityResource, WarehouseResource

    persons = pl.DataFrame({"person_id": ["p1", "p4"], "community_code": [A, B], "street_code": [A[:9], B[:9]], "district_code": [A[:6]] * 2,
                            "name": ["甲", "乙"], "birth_date": [dt.date(2026, 10, 3), dt.date(1950, 1, 1)], "sex": ["女", "男"], "household_no": ["h1", "h2"]})
    lake.write(persons, "gold", "curated", "persons")
    result = dg.materialize([monthly_forms], partition_key="2026-10-01",
                            resources={"warehouse": WarehouseResource(root=lake.root), "quality": QualityResource(reports=str(tmp_path / "reports"))})
    assert result.success
    built = sorted(p.relative_to(tmp_path / "reports" / "forms" / "2026-10").as_posix() for p in (tmp_path / "reports").rglob("*.xlsx"))
    assert f"{A}/01_needy_families_monthly.xlsx" in built and f"{B}/03_tekun_changes.xlsx" in built and f"{A}/11_births_monthly.xlsx" in built
