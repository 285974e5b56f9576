"""Emergency roster (黄金十分钟): the right residents, each once with every category, in door-to-door
order, from buildings, addresses (ids or texts) or a division; the CLI's XLSX read back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from pipelines.roster import Where, roster
from warehouse.storage import Warehouse

COMMUNITY, OTHER = "330102001051", "330102002001"


def person(pid: str, age: int, household: str | None, address: str, community: str = COMMUNITY, **flags) -> dict:
    row = {"person_id": pid, "name": f"居民{pid}", "age": age, "sex": "女", "phone": "13800000000", "household_no": household,
           "address_id": address, "building_id": address[:3], "community_code": community, "street_code": community[:9],
           "district_code": community[:6]}
    for flag in ("elderly_60", "elderly_80", "living_alone", "gugua", "disabled", "subsidy_recipient"):
        row[flag] = flags.get(flag, False)
    row["elderly_60"] = row["elderly_60"] or age >= 60
    return row


@pytest.fixture
def lake(tmp_path) -> Warehouse:
    wh = Warehouse(str(tmp_path / "wh"))
    persons = [
        person("p1", 85, "h1", "B01-10", elderly_80=True, living_alone=True),  # 独居老人 + 高龄
        person("p2", 40, "h2", "B01-2", disabled=True),
        person("p3", 35, "h3", "B01-2"),  # not vulnerable
        person("p4", 15, "h4", "B02-1"), person("p5", 12, "h4", "B02-1"),  # a household with no adult
        person("p6", 16, "h6", "B02-3"), person("p7", 45, "h6", "B02-3"),  # a minor with a parent: not listed
        person("p8", 70, None, "B02-4", gugua=True, subsidy_recipient=True),
        person("p9", 90, "h9", "B03-1", community=OTHER, elderly_80=True),
        person("p10", 17, None, "B02-5"), person("p11", 16, None, "B02-6"),  # no household number: not one household
    ]
    wh.write(pl.DataFrame(persons), "gold", "curated", "persons")
    rooms = [{"address_id": a, "compound": "示例小区", "road": "示例路", "road_no": "1", "building": a[1:3].lstrip("0"), "unit": "1",
              "room": a.split("-")[1], "full_text": f"示例路1号{a}"} for a in sorted({p["address_id"] for p in persons})]
    wh.write(pl.DataFrame(rooms), "gold", "curated", "addresses")
    return wh


def build(wh: Warehouse, where: Where) -> pl.DataFrame:
    return roster(wh.scan("gold", "curated", "persons"), wh.scan("gold", "curated", "addresses"), where)


def test_the_vulnerable_in_door_to_door_order_each_once(lake):
    frame = build(lake, Where(scope=COMMUNITY))
    assert frame["person_id"].to_list() == ["p2", "p1", "p4", "p5", "p8"]  # building 1 room 2 before room 10; then building 2
    categories = dict(zip(frame["person_id"], frame["categories"]))
    assert categories["p1"] == "独居老人、高龄老人（80岁以上）"
    assert categories["p4"] == categories["p5"] == "独处未成年人"
    assert categories["p8"] == "孤寡老人、困难群众（低保/低边/特困）"
    assert frame.filter(pl.col("person_id") == "p1")["room"][0] == "10" and frame["phone"][0] == "13800000000"


def test_buildings_and_addresses_select_exactly_theirs(lake):
    assert build(lake, Where(buildings=("B03",)))["person_id"].to_list() == ["p9"]
    assert build(lake, Where(address_ids=("B01-10", "B02-4")))["person_id"].to_list() == ["p1", "p8"]
    # two minors without a household number are not a household without adults
    assert build(lake, Where(address_ids=("B02-5", "B02-6"))).height == 0
    with pytest.raises(ValueError, match="name buildings"):
        build(lake, Where())


def test_cli_takes_an_address_list_as_written(lake, tmp_path):
    """Addresses as people write them are placed through the address base; one it cannot place is named."""
    rooms = lake.read("gold", "curated", "addresses")
    base = rooms.select("address_id", pl.lit(COMMUNITY).alias("division_code"), "road", "road_no", "compound", "building", "unit", "room", "full_text")
    base.write_csv(tmp_path / "base.csv")
    cli = str(Path(sys.executable).parent / "enteronce")
    subprocess.run([cli, "address", "import-base", str(tmp_path / "base.csv"), "--warehouse", lake.root], check=True, capture_output=True)
    (tmp_path / "list.txt").write_text("上城区清波街道清波门社区示例路1号示例小区1幢1单元10室\nB02-4\n火星路99号\n", encoding="utf-8")
    env = {**os.environ, "ENTERONCE_WAREHOUSE": lake.root}
    done = subprocess.run([cli, "roster", "--addresses", str(tmp_path / "list.txt")], env=env, check=True, capture_output=True, text=True)
    assert "居民p1" in done.stdout and "居民p8" in done.stdout and "居民p2" not in done.stdout
    assert "火星路99号" in done.stderr


def test_cli_writes_an_xlsx_whose_rows_are_the_roster(lake, tmp_path):
    out = tmp_path / "roster.xlsx"
    env = {**os.environ, "ENTERONCE_WAREHOUSE": lake.root}
    subprocess.run([str(Path(sys.executable).parent / "enteronce"), "roster", "--buildings", "B01,B02", "--xlsx", str(out)],
                   env=env, check=True, capture_output=True)
    sheet = pl.read_excel(out, read_options={"header_row": 1})
    assert sheet["人员编号"].to_list() == ["p2", "p1", "p4", "p5", "p8"] and "类别" in sheet.columns
