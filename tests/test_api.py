"""The query API (`enteronce serve`), started as a real server on 127.0.0.1 over a lake the
pipeline built: scoping, tokens, masking in every endpoint, the access log, the change feed,
aggregates, injection attempts, and schemathesis against the API's own OpenAPI schema."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import time
from datetime import datetime, timedelta, timezone

import httpx
import polars as pl
import pytest
import schemathesis
from schemathesis.checks import positive_data_acceptance
from hypothesis import HealthCheck, settings

from api.access_log import read_access
from api.server import start
from api.tokens import issue_token, revoke_token
from tests.conftest import _free_port
from tests.helpers import materialize_all
from warehouse.publish import diff_by_key, merge_changes
from warehouse.storage import Warehouse

GOLD = ("gold", "curated")
ID_MASKED = re.compile(r"^\d{6}\*+[0-9Xx]{4}$")
PHONE_MASKED = re.compile(r"^\d{3}\*{4}\d{4}$")


@pytest.fixture(scope="module")
def lake(district, tmp_path_factory):
    base = tmp_path_factory.mktemp("api")
    shutil.copytree(district / "landing", base / "landing")
    assert materialize_all(base / "landing", base / "wh", base).success
    wh = Warehouse(str(base / "wh"))
    persons = wh.read(*GOLD, "persons")
    by_street = persons.filter(pl.col("community_code").is_not_null()).group_by("street_code", "community_code").len().sort("len", descending=True)
    a = by_street.row(0, named=True)
    b = by_street.filter(pl.col("street_code") != a["street_code"]).row(0, named=True)
    return {"wh": wh, "base": base, "a": a["community_code"], "b": b["community_code"], "district": a["community_code"][:6]}


@pytest.fixture(scope="module")
def tokens(lake):
    wh = lake["wh"]
    issued = {
        "a": issue_token(wh, "community", lake["a"], "caseworker"),
        "b": issue_token(wh, "community", lake["b"], "caseworker"),
        "street_a": issue_token(wh, "street", lake["a"][:9], "caseworker"),
        "analyst": issue_token(wh, "district", lake["district"], "analyst"),
        "expired": issue_token(wh, "community", lake["a"], "caseworker", days=1, now=datetime.now(timezone.utc) - timedelta(days=2)),
        "revoked": issue_token(wh, "community", lake["a"], "caseworker"),
    }
    return {name: token for name, (_, token) in issued.items()} | {"revoked_id": issued["revoked"][0]}


@pytest.fixture(scope="module")
def server(lake, tokens):
    port = _free_port()
    proc = start(str(lake["wh"].root), "--refresh", "0", "--auth-refresh", "0", "--log-flush", "0.2", port=port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def get(server, token, path, **params):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{server}{path}", params=params, headers=headers, timeout=30)


def all_pages(server, token, path, **params) -> list[dict]:
    rows, cursor = [], None
    while True:
        answer = get(server, token, path, **params, **({"cursor": cursor} if cursor else {}))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        rows += body["rows"]
        cursor = body["next_cursor"]
        if cursor is None:
            return rows


def test_a_community_sees_exactly_its_rows_on_every_page_and_order(lake, tokens, server):
    persons = lake["wh"].read(*GOLD, "persons")
    mine = set(persons.filter(pl.col("community_code") == lake["a"])["person_id"])
    default = all_pages(server, tokens["a"], "/v1/tables/persons", limit=37)
    by_age = all_pages(server, tokens["a"], "/v1/tables/persons", limit=23, sort="age", order="desc")
    for rows in (default, by_age):
        ids = [r["person_id"] for r in rows]
        assert len(ids) == len(set(ids)) and set(ids) == mine
    ages = [r["age"] for r in by_age]
    assert ages == sorted(ages, key=lambda a: (a is None, -(a or 0)))
    street = all_pages(server, tokens["street_a"], "/v1/tables/persons", limit=500)
    assert {r["person_id"] for r in street} == set(persons.filter(pl.col("street_code") == lake["a"][:9])["person_id"])


def test_no_trick_reaches_another_community(lake, tokens, server):
    persons = lake["wh"].read(*GOLD, "persons")
    theirs = persons.filter(pl.col("community_code") == lake["b"]).row(0, named=True)
    token = tokens["a"]
    for params in ({"community_code": lake["b"]}, {"street_code": lake["b"][:9]}, {"person_id": theirs["person_id"]},
                   {"building_id": theirs["building_id"]}, {"sort": "community_code", "order": "desc"}):
        answer = get(server, token, "/v1/tables/persons", **params)
        assert answer.status_code == 200 and all(r["community_code"] == lake["a"] for r in answer.json()["rows"]), params
        assert theirs["person_id"] not in answer.text
    # a forged cursor (any position in the table) pages within the token's division only
    for position in ("", lake["b"], "0", "\U0010ffff"):
        forged = base64.urlsafe_b64encode(json.dumps({"t": "persons", "s": None, "d": False, "o": position}).encode()).decode().rstrip("=")
        answer = get(server, token, "/v1/tables/persons", cursor=forged)
        assert answer.status_code == 200 and all(r["community_code"] == lake["a"] for r in answer.json()["rows"])
    assert get(server, token, "/v1/tables/persons", cursor="not-a-cursor").status_code == 400
    for path in (f"/v1/lookup/person/{theirs['person_id']}", f"/v1/lookup/building/{theirs['building_id']}",
                 f"/v1/lookup/household/{theirs['household_no']}", f"/v1/lookup/person/..%2F{theirs['person_id']}"):
        assert get(server, token, path).status_code == 404, path
    for code in (lake["b"], lake["district"], lake["a"][:9], "33"):
        assert get(server, token, "/v1/aggregates/persons", code=code).status_code == 404
    export = get(server, token, "/v1/tables/persons/export", format="jsonl", header="en")
    assert export.status_code == 200
    assert {json.loads(line)["community_code"] for line in export.text.splitlines()} == {lake["a"]}
    changes = get(server, token, "/v1/tables/persons/changes", since=-1, limit=10000)
    assert {r["community_code"] for r in changes.json()["rows"]} == {lake["a"]}


def test_tokens_missing_forged_expired_revoked_get_401(lake, tokens, server):
    token_id = tokens["a"].split("_")[1]
    for token in (None, "", "eo_x", f"eo_{token_id}_forgedsecret", tokens["a"][:-1] + ("A" if tokens["a"][-1] != "A" else "B"),
                  tokens["expired"], "Basic abc"):
        answer = get(server, token, "/v1/tables/persons")
        assert answer.status_code == 401, token
    assert get(server, tokens["revoked"], "/v1/me").status_code == 200
    revoke_token(lake["wh"], tokens["revoked_id"])
    assert get(server, tokens["revoked"], "/v1/me").status_code == 401
    assert get(server, tokens["revoked"], "/v1/me").json()["detail"].startswith("令牌已吊销")


def test_masked_in_every_endpoint_and_export(lake, tokens, server):
    wh = lake["wh"]
    persons = wh.read(*GOLD, "persons")
    clear_ids = [v for v in persons["id_number"].drop_nulls().to_list() if len(v) >= 15]
    clear_phones = [v for v in persons["phone"].drop_nulls().to_list() if len(v) == 11]
    person = persons.filter(pl.col("community_code") == lake["a"]).row(0, named=True)
    bodies = {
        "list": get(server, tokens["a"], "/v1/tables/persons", limit=1000),
        "lookup": get(server, tokens["a"], f"/v1/lookup/building/{person['building_id']}"),
        "person": get(server, tokens["a"], f"/v1/lookup/person/{person['person_id']}"),
        "changes": get(server, tokens["a"], "/v1/tables/persons/changes", since=-1, limit=10000),
        "csv": get(server, tokens["a"], "/v1/tables/persons/export", format="csv"),
        "jsonl": get(server, tokens["a"], "/v1/tables/persons/export", format="jsonl"),
        "elderly": get(server, tokens["analyst"], "/v1/tables/elderly", limit=1000),
        "disability": get(server, tokens["analyst"], "/v1/tables/disability/export", format="csv"),
    }
    for name, answer in bodies.items():
        assert answer.status_code == 200, (name, answer.text)
        text = answer.text
        assert not any(v in text for v in clear_ids), f"a clear ID number in {name}"
        assert not any(v in text for v in clear_phones), f"a clear phone in {name}"
    listed = bodies["list"].json()["rows"]
    assert listed and all(ID_MASKED.match(r["id_number"]) for r in listed if r["id_number"])
    assert all(PHONE_MASKED.match(r["phone"]) for r in listed if r["phone"] and len(r["phone"]) == 11)
    assert any(r["name"] == person["name"] for r in listed)  # the community caseworker sees names in full
    analyst_rows = bodies["elderly"].json()["rows"]
    assert analyst_rows and all(r["name"] is None or re.fullmatch(r".\*+", r["name"]) or len(r["name"]) == 1 for r in analyst_rows)
    assert bodies["person"].json()["row"]["name"] == person["name"]
    # a masked column cannot be used to filter or sort (it would be an oracle for the clear value)
    assert get(server, tokens["a"], "/v1/tables/persons", id_number=person["id_number"]).status_code == 403
    assert get(server, tokens["analyst"], "/v1/tables/persons", name=person["name"]).status_code == 403


def test_filter_values_are_values_not_expressions(lake, tokens, server):
    for value in ("' OR '1'='1", "1; DROP TABLE persons --", 'pl.col("name")', "*", "%", ".*", "\\x00"):
        answer = get(server, tokens["a"], "/v1/tables/persons", name=value)
        assert answer.status_code == 200 and answer.json()["rows"] == [], value
    assert get(server, tokens["a"], "/v1/tables/persons", sort="name; DROP").status_code == 422
    assert get(server, tokens["a"], "/v1/tables/persons", age="1 OR 1=1").status_code == 422
    assert lake["wh"].read(*GOLD, "persons").height > 0


def test_aggregates_drill_down(lake, tokens, server):
    persons = lake["wh"].read(*GOLD, "persons")
    district = get(server, tokens["analyst"], "/v1/aggregates/persons").json()
    expected = persons.group_by("street_code").agg(pl.len().alias("rows"), pl.col("elderly_80").sum()).drop_nulls("street_code")
    got = {c["code"]: c for c in district["children"]}
    for row in expected.iter_rows(named=True):
        assert got[row["street_code"]]["rows"] == row["rows"] and got[row["street_code"]]["elderly_80"] == row["elderly_80"]
    assert district["total"]["rows"] == persons.height and district["labels"]["elderly_80"] == "80岁以上"
    street = get(server, tokens["analyst"], "/v1/aggregates/persons", code=lake["a"][:9]).json()
    assert street["children"] and all(c["code"].startswith(lake["a"][:9]) for c in street["children"])
    assert all(c["name"] for c in street["children"])  # Chinese names from the division table


def test_change_feed_is_scoped_and_a_move_reads_as_delete_and_insert(lake, tokens, server):
    wh = lake["wh"]
    uri = wh.uri(*GOLD, "persons")
    before = wh.table(*GOLD, "persons").version()
    persons = wh.read(*GOLD, "persons")
    stay = persons.filter(pl.col("community_code") == lake["a"]).row(0, named=True)["person_id"]
    mover = persons.filter(pl.col("community_code") == lake["a"]).row(1, named=True)["person_id"]
    other = persons.filter(pl.col("community_code") == lake["b"]).row(0, named=True)["person_id"]
    changed = persons.with_columns(
        pl.when(pl.col("person_id").is_in([stay, other])).then(pl.lit("13900001111")).otherwise(pl.col("phone")).alias("phone"),
        pl.when(pl.col("person_id") == mover).then(pl.lit(lake["b"])).otherwise(pl.col("community_code")).alias("community_code"),
        pl.when(pl.col("person_id") == mover).then(pl.lit(lake["b"][:9])).otherwise(pl.col("street_code")).alias("street_code"),
    )
    diff, _ = diff_by_key(persons, changed, ["person_id"])
    merge_changes(uri, diff, ["person_id"])
    a = get(server, tokens["a"], "/v1/tables/persons/changes", since=before).json()
    b = get(server, tokens["b"], "/v1/tables/persons/changes", since=before).json()
    assert a["until"] == before + 1
    assert sorted((r["person_id"], r["_change_type"]) for r in a["rows"]) == sorted([(stay, "update_preimage"), (stay, "update_postimage"), (mover, "delete")])
    assert sorted((r["person_id"], r["_change_type"]) for r in b["rows"]) == sorted([(other, "update_preimage"), (other, "update_postimage"), (mover, "insert")])
    assert "13900001111" not in json.dumps(a) + json.dumps(b)  # masked in the feed too
    # the list follows the new version: the mover left A and is in B
    assert mover not in {r["person_id"] for r in all_pages(server, tokens["a"], "/v1/tables/persons", limit=1000)}
    assert mover in {r["person_id"] for r in all_pages(server, tokens["b"], "/v1/tables/persons", limit=1000)}
    # paging through the feed in small pages gives the same rows
    paged = all_pages(server, tokens["a"], "/v1/tables/persons/changes", since=before, limit=1)
    assert len(paged) == 3


def test_every_request_is_in_the_access_log(lake, tokens, server):
    person = lake["wh"].read(*GOLD, "persons").filter(pl.col("community_code") == lake["a"]).row(0, named=True)
    assert get(server, tokens["a"], f"/v1/lookup/person/{person['person_id']}", note="audit").status_code == 200
    assert get(server, None, "/v1/tables/persons", note="anonymous").status_code == 401
    token_id = tokens["a"].split("_")[1]
    for _ in range(50):
        log = read_access(lake["wh"])
        mine = log.filter(pl.col("query").str.contains("audit"))
        anonymous = log.filter(pl.col("query").str.contains("anonymous"))
        if mine.height and anonymous.height:
            break
        time.sleep(0.2)
    entry = mine.row(0, named=True)
    assert entry["token_id"] == token_id and entry["route"] == "/v1/lookup/person/{person_id}" and entry["status"] == 200
    assert entry["code"] == lake["a"] and person["person_id"] in entry["row_keys"] and entry["rows"] >= 1
    assert anonymous.row(0, named=True)["status"] == 401


# ------------------------------------------------------------------- schemathesis
def test_api_fuzzed_against_its_own_schema(tokens, lake, server):
    """Every operation of /openapi.json, with bounded examples: no server error, answers that
    match the schema, and no row outside the token's community whatever the parameters."""
    from hypothesis import given

    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40  # 13 tables × list, export, changes, aggregates + lookups + me + tables
    for operation in operations:
        @given(case=operation.as_strategy(headers={"Authorization": f"Bearer {tokens['a']}"}))
        @settings(max_examples=int(os.environ.get("API_FUZZ_EXAMPLES", "10")), deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            response = case.call(base_url=server)
            # every check but one: an opaque cursor or a version past the table's current is
            # schema-valid and still refused (400); such a refusal must then name its parameter
            case.validate_response(response, excluded_checks=[positive_data_acceptance])
            if response.status_code == 400:
                assert response.json()["detail"].split(":")[0] in ("cursor", "since"), response.text
            if response.status_code == 200 and "application/json" in str(response.headers.get("content-type")):
                body = response.json()
                rows = [body.get("row")] + list(body.get("rows") or []) if isinstance(body, dict) else []
                assert all(r.get("community_code") in (None, lake["a"]) for r in rows if isinstance(r, dict))

        check()


def test_warm_answers_on_the_event_loop_equal_the_thread_pool_ones(lake, tokens, server):
    """With a long refresh the second request of a table is answered on the event loop (no thread
    hop); it must be the same answer as the always-reloading server's."""
    port = _free_port()
    proc = start(str(lake["wh"].root), "--refresh", "600", port=port)
    try:
        warm = f"http://127.0.0.1:{port}"
        person = lake["wh"].read(*GOLD, "persons").filter(pl.col("community_code") == lake["a"]).row(0, named=True)
        for path, params in ((f"/v1/lookup/building/{person['building_id']}", {}), ("/v1/tables/persons", {"limit": 20}),
                             ("/v1/tables/persons", {"sex": "女", "limit": 5})):
            first, second = (get(warm, tokens["a"], path, **params) for _ in range(2))
            assert first.json() == second.json() == get(server, tokens["a"], path, **params).json()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_docs_pages_load_everything_from_the_server(server):
    """/docs and /redoc work offline: every script, style and icon they name is served by the API itself."""
    for page in ("/docs", "/redoc"):
        html = httpx.get(f"{server}{page}", timeout=10).text
        assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html) + re.findall(r"""url:\s*['"]([^'"]+)['"]""", html)
        assert assets, page
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
            assert httpx.get(f"{server}{asset}", timeout=10).status_code == 200, asset
