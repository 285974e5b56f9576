"""The data officers' workbench (工作台): HTML pages served by the API's app under ``/wb/``.

Same tokens as the API: a token is entered once on the login page and kept in an HttpOnly,
SameSite=Strict cookie; its division bounds every row shown, its level and role choose the
masking. Pages: the cockpit (数字驾驶舱) with drill-down from the token's division to a
building, each run's quality report (XLSX download), quarantined rows, the address review
queue and the decision log (decisions recorded with who and when, reversible). Every asset —
stylesheet, charts (inline SVG drawn on the server) — comes from the package: it works offline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import polars as pl
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from address_master import person_review
from address_master.review import ACTIONS, LOG, DecisionError, open_queue, record_decisions, undo_decision
from address_master.store import read_base
from api.store import Store, aggregate
from api.tokens import Grant, TokenStore
from pipelines.alerts.store import read_alerts
from pipelines.quarantine import open_rows
from pipelines.reference import CODE_LENGTHS, LEVEL_OF_LENGTH
from pipelines.sources import all_specs
from quality.labels import PERSON_ACTIONS, REVIEW_ACTIONS, beijing, short_run
from quality.report import bars_svg, render_body, report_runs, stored_facts, table_html, xlsx_bytes
from warehouse.masking import POLICY, ROLES, kind_of, mask_expr, mask_frame
from warehouse.registry import GOLD_BY_NAME
from warehouse.storage import Warehouse
from warehouse.tables import PERSON_LINKS, PERSON_RECORDS

HERE = Path(__file__).parent
COOKIE = "eo_session"
LEVEL_LABELS = {"province": "省", "city": "市", "district": "区县", "street": "街道", "community": "社区"}
# the cockpit's groups: persons' flags, in the order officials read them
GROUPS = ("elderly_60", "elderly_80", "living_alone", "gugua", "disabled", "subsidy_recipient", "retiree", "floating_population")
DECIDERS = ("officer",)  # roles that may decide review items
QUEUE_SHOWN = 50
QUARANTINE_SHOWN = 300


class LoginNeeded(Exception):
    """No valid token in the cookie: the page redirects to the login page."""


def _lengths_down(start: str, end: str) -> list[str]:
    """The division codes from ``start`` down to ``end`` (``end`` inside ``start``)."""
    return [end[:n] for n in sorted(set(CODE_LENGTHS.values())) if len(start) <= n <= len(end)]


def mount_workbench(app: FastAPI, wh: Warehouse, store: Store, tokens: TokenStore) -> None:
    """Add the workbench's pages and static files to ``app``."""
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/wb/static", StaticFiles(directory=str(HERE / "static")), name="wb-static")

    def grant_of(request: Request) -> Grant:
        grant, _why = tokens.check(request.cookies.get(COOKIE))
        if grant is None:
            raise LoginNeeded()
        request.state.grant = grant  # the access log records who saw what
        return grant

    def render(request: Request, name: str, grant: Grant | None, status: int = 200, **context) -> HTMLResponse:
        shared = {"grant": grant, "scope_name": store.name_of(grant.code) if grant else "", "role_label": ROLES.get(grant.role, "") if grant else "",
                  "flash": request.query_params.get("flash")}
        return templates.TemplateResponse(request, name, {**shared, **context}, status_code=status)

    def refuse(request: Request, grant: Grant, message: str, status: int = 403) -> HTMLResponse:
        return render(request, "message.html", grant, status=status, title="无权访问" if status == 403 else "未找到", message=message)

    @app.exception_handler(LoginNeeded)
    async def _login(request: Request, _exc: LoginNeeded) -> RedirectResponse:
        return RedirectResponse(f"/wb/login?next={quote(request.url.path)}", status_code=303)

    @app.get("/wb/login", include_in_schema=False)
    def login_page(request: Request, next: str = "/wb/") -> HTMLResponse:
        return render(request, "login.html", None, title="登录", next=next if next.startswith("/wb/") else "/wb/")

    @app.post("/wb/login", include_in_schema=False)
    def login(request: Request, token: str = Form(...), next: str = Form("/wb/")) -> Response:
        grant, why = tokens.check(token.strip())
        if grant is None:
            return render(request, "login.html", None, status=401, title="登录", error=why, next=next)
        response = RedirectResponse(next if next.startswith("/wb/") else "/wb/", status_code=303)
        response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", path="/wb")
        return response

    @app.post("/wb/logout", include_in_schema=False)
    def logout() -> Response:
        response = RedirectResponse("/wb/login", status_code=303)
        response.delete_cookie(COOKIE, path="/wb")
        return response

    @app.get("/wb/", include_in_schema=False)
    def home(request: Request) -> Response:
        return RedirectResponse(f"/wb/cockpit/{grant_of(request).code}", status_code=303)

    # ------------------------------------------------------------------ cockpit
    @app.get("/wb/cockpit/{code}", include_in_schema=False)
    def cockpit(request: Request, code: str) -> HTMLResponse:
        grant = grant_of(request)
        if not code.startswith(grant.code) or len(code) not in LEVEL_OF_LENGTH:
            return refuse(request, grant, f"{code} 不在令牌辖区（{grant.code}）内", 404)
        snap = store.snapshot("persons")
        counts = aggregate(store, snap, code)
        level = LEVEL_OF_LENGTH[len(code)]
        child_length = next((n for n in sorted(LEVEL_OF_LENGTH) if n > len(code)), None)
        alerts = read_alerts(wh)
        open_alerts = alerts.filter((pl.col("state") != "done") & pl.col("community_code").fill_null(pl.col("district_code")).str.starts_with(code)) if alerts.height else alerts
        facts = _latest_facts(wh)
        rates = _place_rates(facts.sections.get("places", pl.DataFrame()) if facts else pl.DataFrame(), child_length)
        measures = [m for m in ("rows", *GROUPS) if m in counts["total"]]
        labels = {**counts["labels"], "rows": "人口"}
        cards = [(labels[m], counts["total"][m]) for m in measures] + [("待办预警", open_alerts.height)]
        by_child_alerts = (dict(open_alerts.group_by(pl.col("community_code").fill_null(pl.col("district_code")).str.slice(0, child_length)).len().iter_rows())
                           if child_length and open_alerts.height else {})
        rows = []
        for child in counts["children"]:
            inside = child["code"] != code
            rate = rates.get(child["code"], ("", "")) if inside else ("", "")
            rows.append({"href": f"/wb/cockpit/{child['code']}" if inside else None,
                         "cells": [child["name"], *[f"{child[m]:,}" for m in measures], by_child_alerts.get(child["code"], 0) if inside else "", *rate]})
        chart = bars_svg([c["name"] for c in counts["children"] if c["code"] != code], [c.get("elderly_60", 0) for c in counts["children"] if c["code"] != code],
                         "60 岁以上老人（按下级区划）", percent=False) if counts["children"] else ""
        buildings = _buildings(store, grant, code) if level == "community" else None
        return render(request, "cockpit.html", grant, title=f"{store.name_of(code)} 数字驾驶舱", nav="cockpit", code=code,
                      crumbs=[(c, store.name_of(c)) for c in _lengths_down(grant.code, code)], here_name=store.name_of(code),
                      level_label=LEVEL_LABELS[level], version=snap.version, as_of=facts.collected_at if facts else "",
                      cards=cards, child_level=LEVEL_LABELS.get(LEVEL_OF_LENGTH.get(child_length or 0, ""), ""),
                      child_columns=["区划", *[labels[m] for m in measures], "待办预警", "地址匹配率", "隔离率"], children=rows,
                      chart=Markup(chart), buildings=buildings,
                      freshness=Markup(table_html(facts.sections["freshness"]) if facts else "<p class=note>还没有质量报告</p>"))

    @app.get("/wb/building/{building_id:path}", include_in_schema=False)
    def building(request: Request, building_id: str) -> HTMLResponse:
        grant = grant_of(request)
        addresses = store.snapshot("addresses").lookup("building_id", building_id, grant.code, grant.policy)
        if addresses.height == 0:
            return refuse(request, grant, "该楼幢不存在或不在令牌辖区内", 404)
        people = store.snapshot("persons").lookup("building_id", building_id, grant.code, grant.policy)
        shown = people.with_columns(pl.concat_str([
            pl.col("name").fill_null("（无姓名）"), pl.lit(" · "), pl.col("sex").fill_null(""), pl.lit(" "), pl.col("age").cast(pl.String).fill_null("?"), pl.lit("岁"),
            _in_brackets(pl.concat_list([pl.when(pl.col(f)).then(pl.lit(snap_label(f))) for f in GROUPS if f in people.columns]).list.drop_nulls().list.join("、"))
            ]).alias("who")) if people.height else people.with_columns(pl.lit("").alias("who"))
        by_room = shown.group_by("address_id").agg(pl.col("who")) if people.height else pl.DataFrame(schema={"address_id": pl.String, "who": pl.List(pl.String)})
        rooms = addresses.join(by_room, on="address_id", how="left").sort("unit", "room", nulls_last=True)
        first = addresses.row(0, named=True)
        label = f"{first.get('compound') or ''}{first.get('road') or ''}{first.get('road_no') or ''} {_building_label(first.get('building'))}".strip()
        return render(request, "building.html", grant, title=label, nav="cockpit", label=label, residents=people.height,
                      crumbs=[(c, store.name_of(c)) for c in _lengths_down(grant.code, first["community_code"] or grant.code)],
                      rooms=[{**r, "people": r["who"] or []} for r in rooms.iter_rows(named=True)])

    def snap_label(column: str) -> str:
        return GOLD_BY_NAME["persons"].label_of(column) or column

    # ------------------------------------------------------------------ quality
    @app.get("/wb/quality", include_in_schema=False)
    def quality(request: Request, run: str | None = None) -> HTMLResponse:
        grant = grant_of(request)
        runs = report_runs(wh)
        if runs.height == 0:
            return render(request, "quality.html", grant, title="质量报告", nav="quality", runs=[])
        run = run if run in set(runs["run_id"].to_list()) else runs["run_id"][0]
        facts = _scoped(stored_facts(wh, run), grant)
        links = {"failed": {"检查对象": lambda r: f"/wb/quarantine?system={quote(r['_system'])}&batch={quote(r['批次'])}" if r.get("_system") else None}}
        options = [(r, f"{beijing(at)} · {short_run(r)}") for r, at in runs.iter_rows()]
        return render(request, "quality.html", grant, title=facts.title, nav="quality", runs=options, run=run, body=Markup(render_body(facts, links)))

    @app.get("/wb/quality/{run}.xlsx", include_in_schema=False)
    def quality_xlsx(request: Request, run: str) -> Response:
        grant = grant_of(request)
        facts = stored_facts(wh, run)
        if facts is None:
            return refuse(request, grant, f"运行 {run} 没有质量报告", 404)
        name = quote(f"质量报告_{facts.run_time[:10]}_{short_run(run)}.xlsx")
        return Response(xlsx_bytes(_scoped(facts, grant)), media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f"attachment; filename=quality_{short_run(run)}.xlsx; filename*=UTF-8''{name}"})

    @app.get("/wb/quarantine", include_in_schema=False)
    def quarantine(request: Request, system: str, batch: str | None = None) -> HTMLResponse:
        grant = grant_of(request)
        spec = all_specs().get(system)
        if spec is None:
            return refuse(request, grant, f"没有系统 {system}", 404)
        if _below_district(grant):
            return refuse(request, grant, "隔离行是整批交付的行，尚未落到街道、社区：区县及以上令牌可查看")
        rows = open_rows(wh, system)
        if batch and rows.height:
            rows = rows.filter(pl.col("batch_id") == batch)
        shown = rows.head(QUARANTINE_SHOWN).select([c for c in ("source_file", "source_row", "columns", "reason", "raw_values") if c in rows.columns])
        shown = shown.rename({"source_file": "文件", "source_row": "行号", "columns": "出错字段", "reason": "原因", "raw_values": "原始值"}, strict=False)
        if "原始值" in shown.columns:
            shown = _mask_raw(shown, spec.columns)
        return render(request, "quarantine.html", grant, title=f"隔离行 {spec.label}", nav="quality", system_label=spec.label, batch=batch,
                      table=Markup(table_html(shown)))

    # ------------------------------------------------------------------ review
    @app.get("/wb/review/addresses", include_in_schema=False)
    def review(request: Request) -> HTMLResponse:
        grant = grant_of(request)
        queue = _scoped_queue(wh, open_queue(wh), grant.code)
        items = [{**row, "candidates": [{**c, "score": f"{c['score']:.3f}" if c.get("score") is not None else ""} for c in (row["candidates"] or [])]}
                 for row in queue.head(QUEUE_SHOWN).iter_rows(named=True)]
        return render(request, "review.html", grant, title="地址复核", nav="review", items=items, total=queue.height, can_decide=grant.role in DECIDERS)

    @app.post("/wb/review/addresses", include_in_schema=False)
    def decide(request: Request, address_key: str = Form(...), action: str = Form(...), address_id: str | None = Form(None),
               address_text: str | None = Form(None)) -> Response:
        grant = grant_of(request)
        if grant.role not in DECIDERS:
            return refuse(request, grant, "当前角色不能作复核决定（需数据专员令牌）")
        if action not in ACTIONS or action == "undo":
            return refuse(request, grant, f"未知的决定 {action}", 400)
        queue = _scoped_queue(wh, open_queue(wh), grant.code)
        item = queue.filter(pl.col("address_key") == address_key)
        if item.height == 0:
            return refuse(request, grant, "该地址不在待复核队列中，或不在令牌辖区内", 404)
        offered = {c["address_id"] for c in item["candidates"][0]}
        if action == "accept" and address_id not in offered:
            return refuse(request, grant, "只能采纳列出的候选地址", 400)
        # the decision is seen where the chosen address lies (or the first candidate inside the token's division)
        places = dict(read_base(wh).filter(pl.col("address_id").is_in(list(offered))).select("address_id", "community_code").iter_rows())
        looked_at = address_id if action == "accept" else next(c["address_id"] for c in item["candidates"][0] if (places.get(c["address_id"]) or "").startswith(grant.code))
        row = pl.DataFrame({"address_key": [address_key], "action": [action], "address_id": [address_id if action == "accept" else None],
                            "address_text": [item["address_text"][0]], "community_code": [places.get(looked_at)]})
        return decided(request, grant, lambda who: record_decisions(wh, row, who), "/wb/review/addresses",
                       f"已记录：{REVIEW_ACTIONS[action]} · {item['address_text'][0]}")

    @app.get("/wb/review/persons", include_in_schema=False)
    def review_persons(request: Request) -> HTMLResponse:
        grant = grant_of(request)
        queue = _scoped_person_queue(store, person_review.open_queue(wh), grant)
        records = queue.select("record_key").unique(maintain_order=True)
        items = _person_items(wh, queue.join(records.head(QUEUE_SHOWN), on="record_key", how="semi"), grant)
        return render(request, "review_persons.html", grant, title="人员复核", nav="review_persons", items=items, total=records.height,
                      can_decide=grant.role in DECIDERS)

    @app.post("/wb/review/persons", include_in_schema=False)
    def decide_person(request: Request, record_key: str = Form(...), action: str = Form(...), person_id: str | None = Form(None)) -> Response:
        grant = grant_of(request)
        if grant.role not in DECIDERS:
            return refuse(request, grant, "当前角色不能作复核决定（需数据专员令牌）")
        if action not in ("same", "different"):
            return refuse(request, grant, f"未知的决定 {action}", 400)
        item = _scoped_person_queue(store, person_review.open_queue(wh), grant).filter(pl.col("record_key") == record_key)
        if item.height == 0:
            return refuse(request, grant, "该记录不在待复核队列中，或不在令牌辖区内", 404)
        if action == "same" and person_id not in set(item["candidate_person_id"]):
            return refuse(request, grant, "只能合并到列出的候选人员", 400)
        first = item.row(0, named=True)
        return decided(request, grant, lambda who: person_review.record_decision(wh, first, action, who, person_id), "/wb/review/persons",
                       f"已记录：{PERSON_ACTIONS[action]} · 记录 {first['record_id']}")

    @app.get("/wb/review/decisions", include_in_schema=False)
    def decisions(request: Request) -> HTMLResponse:
        grant = grant_of(request)
        addresses = LOG.history(wh).filter(_in_jurisdiction(grant)).head(500)
        address_rows = [{"when": beijing(r["decided_at"]), "what": r["address_text"] or r["address_key"], "action": REVIEW_ACTIONS.get(r["action"], r["action"]),
                         "chosen": r["address_id"], "by": r["decided_by"], "key": r["address_key"], "in_force": r["in_force"], "state": r["state"]}
                        for r in addresses.iter_rows(named=True)]
        # a person decision is seen where the record was when it was decided
        people = person_review.LOG.history(wh).filter(_in_jurisdiction(grant)).head(500)
        person_rows = [{"when": beijing(r["decided_at"]), "what": r["record_id"], "action": PERSON_ACTIONS.get(r["action"], r["action"]),
                        "chosen": r["person_id"], "by": r["decided_by"], "key": r["record_key"], "in_force": r["in_force"], "state": r["state"]}
                       for r in people.iter_rows(named=True)]
        return render(request, "decisions.html", grant, title="复核记录", nav="decisions", can_decide=grant.role in DECIDERS,
                      logs=[("地址复核", "地址", "地址编号", "/wb/review/undo", address_rows), ("人员复核", "记录", "合并到人员", "/wb/review/persons/undo", person_rows)])

    @app.post("/wb/review/undo", include_in_schema=False)
    def undo(request: Request, key: str = Form(...)) -> Response:
        grant = grant_of(request)
        if LOG.in_force(wh).filter((pl.col("address_key") == key) & _in_jurisdiction(grant)).height == 0:
            return refuse(request, grant, "没有该地址的生效决定，或不在令牌辖区内", 404)
        return undone(request, key, lambda who: undo_decision(wh, key, who))

    @app.post("/wb/review/persons/undo", include_in_schema=False)
    def undo_person(request: Request, key: str = Form(...)) -> Response:
        grant = grant_of(request)
        in_force = person_review.LOG.in_force(wh).filter((pl.col("record_key") == key) & _in_jurisdiction(grant))
        if in_force.height == 0:
            return refuse(request, grant, "没有该记录的生效决定，或不在令牌辖区内", 404)
        return undone(request, in_force["record_id"][0], lambda who: person_review.undo_decision(wh, key, who))

    def undone(request: Request, shown: str, reverse: Callable[[str], None]) -> Response:
        grant = grant_of(request)
        if grant.role not in DECIDERS:
            return refuse(request, grant, "当前角色不能撤销复核决定（需数据专员令牌）")
        return decided(request, grant, reverse, "/wb/review/decisions", f"已撤销：{shown}", refused=404)

    def decided(request: Request, grant: Grant, write: Callable[[str], object], page: str, done: str, refused: int = 400) -> Response:
        """Record a decision (``write`` takes who decided) and go back to ``page`` saying so, or say why it was refused."""
        try:
            write(_who(grant))
        except DecisionError as err:
            return refuse(request, grant, str(err), refused)
        return RedirectResponse(f"{page}?flash={quote(done)}", status_code=303)


# ---------------------------------------------------------------------- helpers
def _who(grant: Grant) -> str:
    """Who decided: the name the token was issued to, and the token (``enteronce tokens list`` tells the rest)."""
    return f"{grant.label or '（未署名）'} · 令牌 {grant.token_id}"


def _below_district(grant: Grant) -> bool:
    """A street or community token: sees its own units, not the district's raw deliveries."""
    return len(grant.code) > CODE_LENGTHS[3]


def _in_jurisdiction(grant: Grant) -> pl.Expr:
    """A decision the token may see: recorded inside its division, or recorded with no place
    (applied from a file, a record with no address) and the token at district level or above."""
    return pl.col("community_code").str.starts_with(grant.code).fill_null(not _below_district(grant))


def _in_brackets(text: pl.Expr) -> pl.Expr:
    """（text）, or nothing for an empty text."""
    return pl.when(text != "").then(pl.concat_str([pl.lit("（"), text, pl.lit("）")])).otherwise(pl.lit(""))


def _building_label(building: str | None) -> str:
    """'3幢', or （无幢号） for an address with no building number (a house, a shop: the base writes none or '-')."""
    number = (building or "").strip().strip("-")
    return f"{number}幢" if number else "（无幢号）"


def _buildings(store: Store, grant: Grant, code: str) -> list[dict]:
    """The buildings of a community with their households (addresses) and residents, masked for the token."""
    buildings = store.snapshot("buildings").scope(code, grant.policy)
    residents = store.snapshot("persons").scope(code, grant.policy).group_by("building_id").len("residents")
    rows = buildings.join(residents, on="building_id", how="left").with_columns(pl.col("residents").fill_null(0)).sort("road", "road_no", "building", nulls_last=True)
    return [{"building_id": r["building_id"], "label": _building_label(r["building"]),
             "road": f"{r['road'] or ''}{r['road_no'] or ''}", "compound": r["compound"] or "", "rooms": r["addresses"], "residents": r["residents"]}
            for r in rows.iter_rows(named=True)]


def _latest_facts(wh: Warehouse):
    runs = report_runs(wh)
    return stored_facts(wh, runs["run_id"][0]) if runs.height else None


def _place_rates(places: pl.DataFrame, child_length: int | None) -> dict[str, tuple[str, str]]:
    """Per sub-division (code cut to ``child_length``): address match rate and quarantine rate of
    the units inside it, from a report's places section."""
    if not child_length or places.height == 0 or "_community_code" not in places.columns:
        return {}
    by = (places.filter(pl.col("_community_code").is_not_null())
          .group_by(pl.col("_community_code").str.slice(0, child_length).alias("code"))
          .agg(pl.col("地址值").sum().alias("values"), pl.col("隔离行").sum().alias("quarantined"), (pl.col("匹配率") * pl.col("地址值")).sum().alias("accepted"))
          .filter(pl.col("values") > 0))
    return {r["code"]: (f"{r['accepted'] / r['values']:.1%}", f"{r['quarantined'] / (r['values'] + r['quarantined']):.2%}") for r in by.iter_rows(named=True)}


def _scoped(facts, grant: Grant):
    """A report as a token may see it: places inside its division; below the district no offending values."""
    sections = dict(facts.sections)
    places = sections.get("places")
    below = _below_district(grant)
    if places is not None and places.height and "_community_code" in places.columns and below:
        sections["places"] = places.filter(pl.col("_community_code").fill_null("").str.starts_with(grant.code))
    if below and "failed" in sections and "问题值及位置" in sections["failed"].columns:
        sections["failed"] = sections["failed"].drop("问题值及位置")
    return replace(facts, sections=sections)


def _scoped_queue(wh: Warehouse, queue: pl.DataFrame, code: str) -> pl.DataFrame:
    """Queue items with at least one candidate inside division ``code``."""
    if queue.height == 0 or "candidates" not in queue.columns:
        return queue
    base = read_base(wh).select("address_id", "community_code")
    inside = (queue.select("address_key", pl.col("candidates").list.eval(pl.element().struct.field("address_id")).alias("address_id"))
              .explode("address_id").join(base, on="address_id").filter(pl.col("community_code").str.starts_with(code)).select("address_key").unique())
    return queue.join(inside, on="address_key", how="semi").sort("records", "address_key", descending=[True, False])


# what a person review shows of each record, Chinese headers; masked by the token's policy under
# the catalogue's names (address_text is an address)
RECORD_FIELDS = {"source": "来源系统", "name": "姓名", "id_number": "身份证号", "birth_date": "出生日期", "sex": "性别", "address": "地址", "source_row": "行"}


def _scoped_person_queue(store: Store, queue: pl.DataFrame, grant: Grant) -> pl.DataFrame:
    """Queue rows whose record and candidate both live inside the token's division, with the
    record's community (evidence first)."""
    if queue.height == 0:
        return queue.with_columns(pl.lit(None, pl.String).alias("community_code"))
    inside = store.snapshot("persons").scope(grant.code, grant.policy).select("person_id", "community_code")
    return (queue.join(inside, on="person_id")
            .join(inside.select(pl.col("person_id").alias("candidate_person_id")), on="candidate_person_id", how="semi")
            .sort(pl.col("evidence").max().over("record_key"), "record_key", "rank", descending=[True, False, False]))


def _person_items(wh: Warehouse, queue: pl.DataFrame, grant: Grant) -> list[dict]:
    """Each queued record with its candidates, every record side by side (masked for the token)."""
    if queue.height == 0:
        return []
    members = wh.scan(*PERSON_LINKS).filter(pl.col("person_id").is_in(queue["candidate_person_id"].unique().to_list())).select("record_id", "person_id").collect()
    wanted = pl.concat([queue["record_id"], members["record_id"]]).unique().to_list()
    records = (wh.scan(*PERSON_RECORDS).filter(pl.col("record_id").is_in(wanted))
               .select("record_id", "source", "name", "id_number", pl.col("birth_date").cast(pl.String), "sex", pl.col("address_text").alias("address"), "source_row").collect())
    labels = {name: spec.label for name, spec in all_specs().items()}
    records = mask_frame(records, grant.policy).with_columns(pl.col("source").replace(labels))
    by_id = {r["record_id"]: {RECORD_FIELDS[k]: ("" if v is None else v) for k, v in r.items() if k in RECORD_FIELDS} for r in records.iter_rows(named=True)}
    of_person = {p: sorted(g["record_id"].to_list()) for (p,), g in members.group_by("person_id")}
    items = []
    for (record_key,), rows in queue.group_by("record_key", maintain_order=True):
        first = rows.row(0, named=True)
        items.append({"record_key": record_key, "record_id": first["record_id"], "record": by_id.get(first["record_id"], {}),
                      "candidates": [{"person_id": c["candidate_person_id"], "evidence": f"{c['evidence']:.1f}",
                                      "records": [by_id[r] for r in of_person.get(c["candidate_person_id"], []) if r in by_id]}
                                     for c in rows.sort("rank").iter_rows(named=True)]})
    return items


def _mask_raw(frame: pl.DataFrame, columns: dict[str, str]) -> pl.DataFrame:
    """``frame`` with its raw values (原始值: JSON of source columns) re-encoded with the personal
    fields masked by their catalogue kind."""
    kinds = {source: kind_of(field) for source, field in columns.items() if kind_of(field) in POLICY}
    if frame.height == 0 or frame["原始值"].drop_nulls().len() == 0:
        return frame
    values = frame["原始值"].str.json_decode(infer_schema_length=None).struct.unnest()
    personal = [k for k in kinds if k in values.columns]
    if not personal:
        return frame
    masked = values.with_columns(mask_expr(k, POLICY[kinds[k]]) for k in personal)
    return frame.with_columns(masked.select(pl.struct(pl.all()).struct.json_encode().alias("原始值")).to_series())


__all__ = ["COOKIE", "mount_workbench"]
