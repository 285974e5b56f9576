"""The data officers' workbench in a real browser: Debian's headless Chromium driven by Playwright
against `enteronce serve` on 127.0.0.1, over a lake the pipeline built.

Offline (every request stays on the server, none fails), drill-down from the district to a
community and a building, the community token's scope, and a review decision taken in the
browser that the next pipeline run uses — and that can be undone."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import quote

import httpx
import polars as pl
import pytest

from address_master import person_review
from address_master.review import decision_log, decisions_in_force, open_queue, record_decisions
from api.server import start
from api.tokens import issue_token
from tests.conftest import _free_port
from tests.helpers import materialize_all
from warehouse.storage import Warehouse

CHROMIUM = os.environ.get("ENTERONCE_CHROMIUM", "/usr/bin/chromium")
# flags for a machine with no network: no background connections, no sandbox as root in CI
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic"]


def _plant_review_texts(district: Path, landing: Path) -> list[str]:
    """人社 records whose address is written with the compound misspelt and no road: the matcher can only
    offer candidates (a few among hundreds: the table's match-rate rule still holds)."""
    truth = pl.read_parquet(district / "truth" / "addresses.parquet").filter((pl.col("kind") == "residential") & pl.col("compound").is_not_null())
    source = next((landing / "renshe").glob("*.jsonl"))
    lines = source.read_text(encoding="utf-8").splitlines()
    texts = []
    rows = truth.head(3).iter_rows(named=True)
    for n, line in enumerate(lines):
        try:
            record = json.loads(line)
        except ValueError:  # the generator's deliberately broken lines stay as they are
            continue
        row = next(rows, None)
        if row is None:
            break
        compound = row["compound"][:2] + "某" + row["compound"][3:]
        texts.append(f"{compound}{row['building']}幢{row['unit']}单元{row['room']}室")
        lines[n] = json.dumps({**record, "jzdz": texts[-1]}, ensure_ascii=False)
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return texts


def _plant_uncertain_persons(landing: Path, count: int = 2) -> list[int]:
    """人社 rows with the ID left blank and another resident's flat as the address: name, birth and
    sex still point at a known person, the room says otherwise — too little to merge, too much to
    ignore. Returns their line numbers (1-based, as the lineage counts them)."""
    source = next((landing / "renshe").glob("*.jsonl"))
    lines = source.read_text(encoding="utf-8").splitlines()
    parsed = {}
    for n, line in enumerate(lines):
        try:
            parsed[n] = json.loads(line)
        except ValueError:
            continue
    usable = [n for n, r in parsed.items() if n >= 10 and r.get("xm") and r.get("csrq") and r.get("jzdz") and r.get("sfzh")]
    rows = []
    for n, elsewhere in zip(usable[:count], usable[-count:]):
        rows.append(n + 1)
        lines[n] = json.dumps({**parsed[n], "sfzh": "", "jzdz": parsed[elsewhere]["jzdz"]}, ensure_ascii=False)
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rows


@pytest.fixture(scope="module")
def lake(district, tmp_path_factory):
    base = tmp_path_factory.mktemp("workbench")
    shutil.copytree(district / "landing", base / "landing")
    planted = _plant_review_texts(district, base / "landing")
    uncertain = _plant_uncertain_persons(base / "landing")
    assert materialize_all(base / "landing", base / "wh", base).success
    wh = Warehouse(str(base / "wh"))
    persons = wh.read("gold", "curated", "persons").filter(pl.col("community_code").is_not_null())
    ranked = persons.group_by("community_code").len().sort("len", "community_code", descending=True)
    a, b = ranked["community_code"][0], ranked.filter(pl.col("community_code").str.slice(0, 9) != ranked["community_code"][0][:9])["community_code"][0]
    tokens = {
        "officer": issue_token(wh, "district", a[:6], "officer", label="王专员")[1],
        "a": issue_token(wh, "community", a, "caseworker", label="李社工")[1],
        "b": issue_token(wh, "community", b, "caseworker")[1],
    }
    return {"wh": wh, "base": base, "a": a, "b": b, "district": a[:6], "tokens": tokens, "planted": planted, "uncertain": uncertain}


@pytest.fixture(scope="module")
def server(lake):
    port = _free_port()
    proc = start(str(lake["wh"].root), "--refresh", "0", "--auth-refresh", "0", port=port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's chromium with `bash scripts/debian-packages.sh` (or set ENTERONCE_CHROMIUM)")
    with sync_playwright() as play:
        launched = play.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Visit:
    """A browser tab that records every request that failed, answered ≥ 400, or left the server."""

    def __init__(self, browser, server: str):
        self.server = server
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        self.page = self.context.new_page()
        self.seen: list[tuple[str, str]] = []  # (url, what went wrong)
        self.downloads: set[str] = set()
        self.page.on("download", lambda d: self.downloads.add(d.url))
        self.page.on("requestfailed", lambda r: self.seen.append((r.url, f"failed {r.failure}")))
        self.page.on("response", lambda r: self.seen.append((r.url, str(r.status))) if r.status >= 400 else None)
        self.page.route(re.compile(r"^(?!" + re.escape(server) + r"|data:).*"),  # offline: anything not from the server is refused
                        lambda route: (self.seen.append((route.request.url, "external")), route.abort()))

    @property
    def problems(self) -> list[str]:
        # a download ends its navigation as "aborted": that is the browser saving the file, not a failure
        return [f"{why} {url}" for url, why in self.seen if not (url in self.downloads and why.startswith("failed"))]

    def login(self, token: str, then: str = "/wb/") -> None:
        self.page.goto(f"{self.server}{then}")
        assert "/wb/login" in self.page.url
        self.page.fill("input[name=token]", token)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state()

    def open(self, path: str) -> str:
        self.page.goto(f"{self.server}{path}")
        return self.page.content()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser, server):
    opened = []

    def make() -> Visit:
        opened.append(Visit(browser, server))
        return opened[-1]

    yield make
    for tab in opened:
        tab.close()


def _numbers(text: str) -> int:
    return int(text.replace(",", ""))


def test_every_page_loads_offline_with_no_failed_request(lake, visit):
    tab = visit()
    tab.login(lake["tokens"]["officer"])
    assert tab.page.url.endswith(f"/wb/cockpit/{lake['district']}")
    wh = lake["wh"]
    building = wh.read("gold", "curated", "persons").filter(pl.col("community_code") == lake["a"])["building_id"].drop_nulls()[0]
    for path in (f"/wb/cockpit/{lake['a'][:9]}", f"/wb/cockpit/{lake['a']}", f"/wb/building/{building}", "/wb/quality",
                 "/wb/quarantine?system=gongan", "/wb/review/addresses", "/wb/review/persons", "/wb/review/decisions"):
        response = tab.page.goto(f"{tab.server}{path}")
        assert response.status == 200, path
        assert tab.page.locator("link[rel=stylesheet]").count() == 1
        assert tab.page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor") == "rgb(31, 59, 99)", path  # styled offline
    assert tab.problems == []


def test_drill_down_from_district_to_a_community_and_a_building(lake, visit):
    wh = lake["wh"]
    persons = wh.read("gold", "curated", "persons")
    tab = visit()
    tab.login(lake["tokens"]["officer"])
    street, community = lake["a"][:9], lake["a"]
    tab.page.click(f"#children a[href='/wb/cockpit/{street}']")
    tab.page.click(f"#children a[href='/wb/cockpit/{community}']")
    assert tab.page.url.endswith(f"/wb/cockpit/{community}")
    crumbs = tab.page.locator(".crumbs a").all_inner_texts()
    assert len(crumbs) == 2  # district › street › (this community)
    mine = persons.filter(pl.col("community_code") == community)
    cards = dict(zip(tab.page.locator(".card .l").all_inner_texts(), map(_numbers, tab.page.locator(".card .n").all_inner_texts())))
    assert cards["人口"] == mine.height
    assert cards["60岁以上"] == mine["elderly_60"].sum() and cards["独居"] == mine["living_alone"].sum()
    # a building with residents: every resident listed in their room, named (an officer works with names)
    busiest = mine.group_by("building_id").len().sort("len", "building_id", descending=True).row(0, named=True)
    tab.page.click(f"#buildings a[href='/wb/building/{quote(busiest['building_id'], safe='/')}']")
    shown = tab.page.locator("#rooms").inner_text()
    residents = mine.filter(pl.col("building_id") == busiest["building_id"])
    assert f"{residents.height} 人" in tab.page.locator(".note").first.inner_text()
    assert all(name in shown for name in residents["name"].drop_nulls())
    assert not any(i in tab.page.content() for i in residents["id_number"].drop_nulls())  # no ID numbers on the page
    assert tab.problems == []


def test_a_community_token_sees_only_its_community(lake, visit, server):
    wh = lake["wh"]
    persons = wh.read("gold", "curated", "persons")
    tab = visit()
    tab.login(lake["tokens"]["b"])
    own = lake["b"]
    assert tab.page.url.endswith(f"/wb/cockpit/{own}")
    cards = dict(zip(tab.page.locator(".card .l").all_inner_texts(), map(_numbers, tab.page.locator(".card .n").all_inner_texts())))
    assert cards["人口"] == persons.filter(pl.col("community_code") == own).height
    other = persons.filter(pl.col("community_code") == lake["a"]).row(0, named=True)
    for path in (f"/wb/cockpit/{lake['district']}", f"/wb/cockpit/{lake['a']}", f"/wb/building/{other['building_id']}"):
        response = tab.page.goto(f"{server}{path}")
        assert response.status == 404, path
        assert other["name"] not in tab.page.content()
    tab.seen.clear()  # the 404s above were asked for
    # the review queue: only texts with a candidate inside the community, and no decision buttons
    tab.open("/wb/review/addresses")
    assert tab.page.locator("button[value=accept]").count() == 0
    base = wh.read("address", "base", "addresses").select("address_id", "community_code")
    for key in tab.page.locator(".item").evaluate_all("items => items.map(i => i.dataset.key)"):
        candidates = open_queue(wh).filter(pl.col("address_key") == key)["candidates"][0]
        assert base.filter(pl.col("address_id").is_in([c["address_id"] for c in candidates]))["community_code"].str.starts_with(own).any()
    # the decision log: only decisions taken inside the community
    for code in (own, lake["a"]):
        address_id = base.filter(pl.col("community_code") == code)["address_id"][0]
        record_decisions(wh, pl.DataFrame({"address_text": [f"复核范围测试{code}"], "action": ["accept"], "address_id": [address_id], "community_code": [code]}), "测试")
    tab.open("/wb/review/decisions")
    logged = tab.page.locator("table[data-log='地址复核']").inner_text()
    assert f"复核范围测试{own}" in logged and f"复核范围测试{lake['a']}" not in logged
    # the person queue: only records (and candidates) living in the community
    tab.open("/wb/review/persons")
    assert tab.page.locator("button[value=same]").count() == 0
    where = persons.select("person_id", "community_code")
    for key in tab.page.locator(".item").evaluate_all("items => items.map(i => i.dataset.key)"):
        rows = person_review.open_queue(wh).filter(pl.col("record_key") == key)
        people = pl.concat([rows["person_id"], rows["candidate_person_id"]]).to_list()
        assert (where.filter(pl.col("person_id").is_in(people))["community_code"] == own).all()
    # a caseworker cannot decide, even by posting the form by hand
    session = {c["name"]: c["value"] for c in tab.context.cookies()}
    posted = httpx.post(f"{server}/wb/review/addresses", data={"address_key": "x", "action": "none"}, cookies=session, follow_redirects=False)
    assert posted.status_code == 403
    posted = httpx.post(f"{server}/wb/review/persons", data={"record_key": "x", "action": "different"}, cookies=session, follow_redirects=False)
    assert posted.status_code == 403
    assert tab.problems == []


def test_a_review_decision_in_the_browser_is_used_by_the_next_run_and_can_be_undone(lake, visit):
    wh, base = lake["wh"], lake["base"]
    queue = open_queue(wh)
    planted = queue.filter(pl.col("address_text").is_in(lake["planted"]))
    assert planted.height >= 1, "the planted texts should wait for review"
    item = planted.sort("address_key").row(0, named=True)
    chosen = item["candidates"][-1]["address_id"]  # not the pre-selected first candidate: the officer's own choice
    tab = visit()
    tab.login(lake["tokens"]["officer"], then="/wb/review/addresses")
    card = tab.page.locator(f".item[data-key='{item['address_key']}']")
    card.locator(f"input[value='{chosen}']").check()
    card.locator("button[value=accept]").click()
    tab.page.wait_for_load_state()
    assert "已记录" in tab.page.locator(".flash").inner_text()
    assert tab.page.locator(f".item[data-key='{item['address_key']}']").count() == 0  # decided: off the queue at once
    recorded = decision_log(wh).filter(pl.col("address_key") == item["address_key"]).row(-1, named=True)
    assert recorded["action"] == "accept" and recorded["address_id"] == chosen and recorded["decided_by"].startswith("王专员")

    # the next run links every record with that text to the chosen address
    assert materialize_all(base / "landing", base / "wh", base).success
    links = wh.read("address", "links", "address_links").filter(pl.col("address_key") == item["address_key"])
    assert links.height == item["records"] and (links["address_id"] == chosen).all() and (links["method"] == "review_decision").all()
    assert wh.read("address", "review", "queue").filter(pl.col("address_key") == item["address_key"]).height == 0

    # undone in the decision log: recorded (who, when), and no longer in force
    tab.open("/wb/review/decisions")
    row = tab.page.locator("table[data-log='地址复核'] tr", has_text=item["address_text"]).first
    assert "王专员" in row.inner_text() and "生效中" in row.inner_text()
    row.locator("button").click()
    tab.page.wait_for_load_state()
    assert decisions_in_force(wh).filter(pl.col("address_key") == item["address_key"]).height == 0
    assert decision_log(wh).filter(pl.col("address_key") == item["address_key"])["action"].to_list()[-2:] == ["accept", "undo"]
    assert "已撤销" in tab.page.locator("table[data-log='地址复核'] tr", has_text=item["address_text"]).first.inner_text()
    assert tab.problems == []


def test_uncertain_merges_are_decided_side_by_side_and_the_next_run_follows(lake, visit):
    wh, base = lake["wh"], lake["base"]
    records = wh.read("person", "links", "records").select("record_id", "source", "source_row", "name")
    queue = person_review.open_queue(wh).join(records, on="record_id")
    planted = queue.filter((pl.col("source") == "renshe") & pl.col("source_row").is_in(lake["uncertain"]))
    assert planted.select("record_key").n_unique() == len(lake["uncertain"]), "the planted records should wait for review"
    keys = sorted(set(planted["record_key"]))
    merged, apart = (planted.filter(pl.col("record_key") == k).row(0, named=True) for k in keys)
    tab = visit()
    tab.login(lake["tokens"]["officer"], then="/wb/review/persons")
    card = tab.page.locator(f".item[data-key='{merged['record_key']}']")
    # side by side: the record and the candidate's records, the ID masked
    shown = card.inner_text()
    assert merged["name"] in shown and "人社 就业参保" in shown
    candidate_records = wh.read("person", "links", "person_links").filter(pl.col("person_id") == merged["candidate_person_id"])
    assert card.locator("tr.candidate").count() == candidate_records.height
    assert not re.search(r"\d{17}[\dX]", shown)
    card.locator(f"input[value='{merged['candidate_person_id']}']").check()
    card.locator("button[value=same]").click()
    tab.page.wait_for_load_state()
    assert "已记录" in tab.page.locator(".flash").inner_text()
    tab.page.locator(f".item[data-key='{apart['record_key']}'] button[value=different]").click()
    tab.page.wait_for_load_state()
    for key in keys:
        assert tab.page.locator(f".item[data-key='{key}']").count() == 0  # decided: off the queue at once
    log = person_review.LOG.read(wh)
    assert set(zip(log["record_key"], log["action"])) >= {(merged["record_key"], "same"), (apart["record_key"], "different")}
    assert log.filter(pl.col("record_key") == merged["record_key"])["decided_by"][0].startswith("王专员")

    # the next run: one record joins the person chosen, the other stays apart, neither is queued again
    assert materialize_all(base / "landing", base / "wh", base).success
    links = wh.read("person", "links", "person_links")
    joined = links.filter(pl.col("record_id") == merged["record_id"]).row(0, named=True)
    assert joined["person_id"] == merged["candidate_person_id"] and joined["rule"] == "review"
    assert links.filter(pl.col("record_id") == apart["record_id"])["person_id"][0] == apart["person_id"]
    assert person_review.read_queue(wh).filter(pl.col("record_key").is_in(keys)).height == 0
    gold = wh.read("gold", "curated", "persons")
    assert gold.filter(pl.col("person_id") == merged["person_id"]).height == 0  # its own person is gone: merged

    # reversible: undone from the decision log, recorded, no longer in force
    tab.open("/wb/review/decisions")
    row = tab.page.locator("table[data-log='人员复核'] tr", has_text=merged["record_id"]).first
    assert "生效中" in row.inner_text() and "是同一人" in row.inner_text()
    row.locator("button").click()
    tab.page.wait_for_load_state()
    assert person_review.decisions_in_force(wh).filter(pl.col("record_key") == merged["record_key"]).height == 0
    assert "已撤销" in tab.page.locator("table[data-log='人员复核'] tr", has_text=merged["record_id"]).first.inner_text()
    assert tab.problems == []


def test_quality_report_page_and_its_xlsx_export(lake, visit):
    tab = visit()
    tab.login(lake["tokens"]["officer"], then="/wb/quality")
    content = tab.page.content()
    for heading in ("发布闸门", "闸门趋势", "地址匹配率与隔离率（按街道、社区）", "数据鲜活度", "待复核人员"):
        assert heading in content
    assert "True" not in tab.page.locator("main").inner_text() and "False" not in tab.page.locator("main").inner_text()
    with tab.page.expect_download() as download:
        tab.page.click("text=下载 XLSX（中文表头）")
    path = download.value.path()
    sheets = pl.read_excel(path, sheet_id=0)
    assert "发布闸门" in sheets and {"表", "闸门", "已发布"} <= set(sheets["发布闸门"].columns)
    assert set(sheets["发布闸门"]["闸门"]) <= {"通过", "未通过"}
    assert tab.problems == []
