"""Person resolution: each hard case, survivorship inputs, and the stable CLI contract."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from address_master.persons import pairwise_scores, resolve_persons, resolve_with_review

ENTERONCE = str(Path(sys.executable).parent / "enteronce")


def vid(first17: str) -> str:
    """A valid 18-digit ID with these first 17 digits (GB 11643 check character)."""
    from pipelines.ids import ID_CHECK_CHARS, ID_WEIGHTS

    return first17 + ID_CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS)) % 11]


def bad(first17: str) -> str:
    right = vid(first17)[-1]
    return first17 + ("0" if right != "0" else "1")
COLUMNS = ["record_id", "source", "name", "id_number", "birth_date", "sex", "room_key", "building_key"]


def _resolve(rows: list[tuple]) -> dict[str, str]:
    frame = pl.DataFrame(rows, schema={c: pl.String for c in COLUMNS}, orient="row")
    out = resolve_persons(frame)
    assert out["record_id"].to_list() == frame["record_id"].to_list()  # input order kept
    return dict(zip(out["record_id"].to_list(), out["person_id"].to_list()))


def test_a_near_miss_is_queued_for_review_and_a_decision_places_it():
    frame = pl.DataFrame([
        ("a", "gongan", "张小明", vid("33010219510805092"), "1951-08-05", "女", "r2", "b1"),
        ("c", "renshe", "张小明", None, None, None, "r1", "b1"),  # same name, same building, another room: 9 < 10
        ("d", "minzheng", "王五", None, None, None, None, None),  # nobody close: not queued
    ], schema={c: pl.String for c in COLUMNS}, orient="row")
    out, queue = resolve_with_review(frame)
    assert out.filter(pl.col("record_id") == "c")["rule"][0] == "new"
    assert queue["record_id"].to_list() == ["c"]
    item = queue.row(0, named=True)
    known = out.filter(pl.col("record_id") == "a")["person_id"][0]
    assert item["candidate_person_id"] == known and item["person_id"] != known and item["rank"] == 1
    same = pl.DataFrame({"record_key": [item["record_key"]], "action": ["same"], "person_id": [known]})
    out, queue = resolve_with_review(frame, decisions=same)
    assert out.filter(pl.col("record_id") == "c").select("person_id", "rule").row(0) == (known, "review")
    assert queue.height == 0
    apart = same.with_columns(pl.lit("different").alias("action"))
    out, queue = resolve_with_review(frame, decisions=apart)
    assert out.filter(pl.col("record_id") == "c")["person_id"][0] == item["person_id"] and queue.height == 0
    # the same row in a later delivery (another record id) keeps the decision
    later = frame.with_columns(pl.col("record_id").replace({"c": "c2"}))
    assert resolve_persons(later, decisions=same).filter(pl.col("record_id") == "c2")["person_id"][0] == known


def test_same_valid_id_is_one_person_whatever_the_spelling():
    p = _resolve([
        ("a", "gongan", "张伟", "11010519491231002X", "1949-12-31", "女", "R1", "B1"),
        ("b", "renshe", "張偉", "11010519491231002x", None, None, None, None),  # traditional, lowercase x
        ("c", "qitui", "张伟", "110105491231002", None, None, "R1", "B1"),  # 15-digit legacy ID
        ("d", "laoling", "张 伟", "110105 19491231 002X", None, None, None, None),
    ])
    assert len(set(p.values())) == 1


def test_bad_check_digit_joins_by_first_17():
    p = _resolve([
        ("a", "gongan", "李芳", vid("33010219800101002"), "1980-01-01", "女", "R1", "B1"),
        ("b", "canlian", "李芳", bad("33010219800101002"), None, "女", None, None),
    ])
    assert p["a"] == p["b"]


def test_missing_id_matched_on_name_birth_and_place():
    p = _resolve([
        ("a", "gongan", "王秀英", vid("33010219500303002"), "1950-03-03", "女", "R1", "B1"),
        ("b", "minzheng", "王秀英", None, "1950-03-03", None, "R1", "B1"),
        ("c", "laoling", "王秀英", "", None, "女", "R1", "B1"),  # name + room only
    ])
    assert p["a"] == p["b"] == p["c"]


def test_homophone_and_minority_separator_variants():
    p = _resolve([
        ("a", "gongan", "章伟", vid("33010219850505003"), "1985-05-05", "男", "R2", "B2"),
        ("b", "renshe", "张伟", None, "1985-05-05", "男", "R2", "B2"),  # homophone typo 章/张
        ("c", "gongan", "阿依古丽·买买提", vid("65010219900101004"), "1990-01-01", "女", "R3", "B3"),
        ("d", "canlian", "阿依古丽买买提", None, "1990-01-01", "女", None, None),
        ("e", "laoling", "阿依古丽.买买提", None, "1990-01-01", None, None, None),
    ])
    assert p["a"] == p["b"]
    assert p["c"] == p["d"] == p["e"]


def test_two_people_sharing_a_name_and_building_stay_apart():
    p = _resolve([
        ("a", "gongan", "张伟", vid("33010219800101003"), "1980-01-01", "男", "R1", "B1"),
        ("b", "gongan", "张伟", vid("33010219750202007"), "1975-02-02", "男", "R2", "B1"),
        ("c", "minzheng", "张伟", None, None, None, None, "B1"),  # which one? unknowable: not merged
        ("d", "laoling", "张伟", None, "1975-02-02", None, None, "B1"),  # the birth date decides
    ])
    assert p["a"] != p["b"]
    assert p["c"] not in (p["a"], p["b"])
    assert p["d"] == p["b"]


def test_twins_stay_apart():
    p = _resolve([
        ("a", "gongan", "李明", vid("33010220150505001"), "2015-05-05", "男", "R1", "B1"),
        ("b", "gongan", "李亮", vid("33010220150505003"), "2015-05-05", "男", "R1", "B1"),
        ("c", "jisheng", "李亮", None, "2015-05-05", "男", "R1", "B1"),
    ])
    assert p["a"] != p["b"] and p["c"] == p["b"]


def test_id_typo_landing_on_someone_elses_valid_id_is_not_merged():
    p = _resolve([
        ("a", "gongan", "陈静", vid("33010219800101002"), "1980-01-01", "女", "R1", "B1"),
        ("b", "renshe", "陈静", vid("33010219800101002"), None, None, "R1", "B1"),
        # a different woman whose ID was mistyped into 陈静's (valid) ID
        ("c", "canlian", "赵丽华", vid("33010219800101002"), None, "女", "R9", "B9"),
        ("d", "gongan", "赵丽华", vid("33010219770909004"), "1977-09-09", "女", "R9", "B9"),
    ])
    assert p["a"] == p["b"]
    assert p["c"] != p["a"]
    assert p["c"] == p["d"]


def test_written_birth_date_contradicting_the_id_detaches_the_record():
    p = _resolve([
        ("a", "gongan", "周敏", vid("33010219630120384"), "1963-01-20", "女", "R1", "B1"),
        # the same valid ID typed into another woman's row; her own birth date gives it away
        ("b", "renshe", "周敏", vid("33010219630120384"), "1972-01-13", "女", "R7", "B7"),
        ("c", "gongan", "周敏", vid("33010219720113328"), "1972-01-13", "女", "R7", "B7"),
    ])
    assert p["a"] != p["b"] and p["b"] == p["c"]


def test_relatives_sharing_a_mistyped_id_and_a_surname_stay_apart():
    """张明's ID typed (with a wrong check digit) into his brother 张伟's record at the same room:
    the shared first 17 digits must not merge two people whose names differ."""
    p = _resolve([
        ("a", "gongan", "张明", vid("33010219800101001"), "1980-01-01", "男", "R1", "B1"),
        ("b", "gongan", "张伟", vid("33010219820303005"), "1982-03-03", "男", "R1", "B1"),
        ("c", "minzheng", "张伟", bad("33010219800101001"), None, "男", "R1", "B1"),  # brother's ID, mistyped
        ("d", "canlian", "张明", bad("33010219800101001"), None, "男", "R1", "B1"),  # his own, mistyped
    ])
    assert p["a"] != p["b"]
    assert p["c"] != p["a"]  # the brother's number does not make 张伟 into 张明 …
    assert p["d"] == p["a"]  # … while 张明's own mistyped number still finds him


def test_parent_and_child_sharing_a_wrong_id_stay_apart():
    """A child's record carrying the parent's ID (a form filled in by the parent), at one room."""
    p = _resolve([
        ("a", "gongan", "王建国", vid("33010219650707001"), "1965-07-07", "男", "R3", "B3"),
        ("b", "gongan", "王小明", vid("33010220100909003"), "2010-09-09", "男", "R3", "B3"),
        ("c", "jisheng", "王小明", vid("33010219650707001"), "2010-09-09", "男", "R3", "B3"),  # the father's valid ID
        ("d", "minzheng", "王建国", bad("33010220100909003"), None, "男", "R3", "B3"),  # the son's, mistyped
    ])
    assert p["a"] != p["b"]
    assert p["c"] == p["b"]  # name, birth date and room outweigh the father's number
    assert p["d"] != p["b"]  # the son's number does not pull the father into the son


def test_unknowable_records_are_their_own_people():
    p = _resolve([("a", "x", None, None, None, None, None, None), ("b", "x", "###", "abc", "x", "?", None, None)])
    assert p["a"] != p["b"] and all(p.values())


def test_pairwise_scores():
    s = pairwise_scores(pl.Series(["p1", "p1", "p2", "p3"]), pl.Series(["t1", "t1", "t1", "t2"]))
    assert s["predicted_pairs"] == 1 and s["true_pairs"] == 3
    assert s["precision"] == 1.0 and s["recall"] == pytest.approx(1 / 3)


def test_cli_persons_resolve_contract(tmp_path):
    path = tmp_path / "records.csv"
    rows = [
        ["r1", "gongan", "张伟", "11010519491231002X", "19491231", "女", "上城区东坡路12号湖滨花园3幢2单元301室"],
        ["r2", "renshe", "張偉", "11010519491231002x", "", "2", ""],
        ["r3", "minzheng", "张伟", "", "1949年12月31日", "", "东坡路12号湖滨花园3-2-301"],
        ["r4", "laoling", "李四", "", "", "", ""],
        ["r5", "x", "", "", "", "", ""],
        ["r6", "x", "垃圾,数据", "###", "昨天", "?", "???"],
    ]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["record_id", "source", "name", "id_number", "birth_date", "sex", "address"])
        writer.writerows(rows)
    result = subprocess.run([ENTERONCE, "persons", "resolve", str(path)], capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode()
    # with a second process for the addresses (the default for large files): the same answer
    two = subprocess.run([ENTERONCE, "persons", "resolve", "--workers", "2", str(path)], capture_output=True, timeout=300)
    assert two.returncode == 0 and two.stdout == result.stdout, two.stderr.decode()
    out = list(csv.reader(io.StringIO(result.stdout.decode())))
    assert out[0] == ["record_id", "person_id"]
    assert [r[0] for r in out[1:]] == ["r1", "r2", "r3", "r4", "r5", "r6"]
    ids = {r[0]: r[1] for r in out[1:]}
    assert all(ids.values())
    assert ids["r1"] == ids["r2"] == ids["r3"]
    assert len({ids["r4"], ids["r5"], ids["r6"], ids["r1"]}) == 4


def test_records_placed_by_id_beforehand_resolve_alike():
    """The CLI places records by ID while the addresses are parsed (``by_id``): same people."""
    from address_master.persons import place_by_id, prepare_records

    rows = [
        ("a", "gongan", "张伟", vid("11010519491231002"), "19491231", "女", "r1", "b1"),
        ("b", "renshe", "章伟", vid("11010519491231002"), "", "", "r1", "b1"),
        ("c", "minzheng", "张伟", bad("11010519491231002"), "", "", "", ""),
        ("d", "laoling", "张伟", "", "19491231", "女", "r1", "b1"),
        ("e", "x", "李四", "", "", "", "", ""),
    ]
    frame = pl.DataFrame(rows, schema={c: pl.String for c in COLUMNS}, orient="row")
    prepared = prepare_records(frame)
    assert resolve_persons(frame, prepared, by_id=place_by_id(prepared)).equals(resolve_persons(frame))
    assert resolve_persons(frame)["rule"].to_list() == ["id", "id", "id_first17", "fuzzy", "new"]


def test_cli_persons_resolve_reports_missing_header(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,name\n1,张三\n", encoding="utf-8")
    result = subprocess.run([ENTERONCE, "persons", "resolve", str(path)], capture_output=True, timeout=300)
    assert result.returncode != 0 and b"record_id" in result.stderr


def test_survivorship_takes_identity_from_authority_and_contacts_from_latest():
    from datetime import date, datetime, timezone

    from address_master.golden import golden_persons, households

    def at(day: int) -> datetime:
        return datetime(2026, 11, day, tzinfo=timezone.utc)

    id1 = vid("33010219400101002")
    records = pl.DataFrame(
        {
            "record_id": ["g", "l", "r", "m"],
            "source": ["gongan", "laoling", "renshe", "minzheng"],
            "name": ["王秀英", "王秀英", "王秀瑛", "王秀英"],
            "id_number": [id1, id1, id1, None],
            "birth_date": [date(1940, 1, 1), None, date(1940, 1, 1), None],
            "sex": ["女", "女", None, None],
            "room_key": ["R1", "R1", "R2", "R1"],
            "building_key": ["B1", "B1", "B2", "B1"],
            "ingested_at": [at(1), at(3), at(5), at(2)],
            "phone": ["13800000001", "13800000002", None, "13800000003"],
            "household_no": ["H1", None, None, None],
            "relation_to_head": ["户主", None, None, None],
            "living_status": [None, "孤寡", None, None],
            "disability_type": [None, None, None, None],
            "disability_grade": [None, None, None, None],
            "assistance_type": [None, None, None, "特困"],
        }
    )
    links = resolve_persons(records)
    assert links["person_id"].n_unique() == 1
    golden = golden_persons(records, links, as_of=date(2026, 11, 23))
    row = golden.row(0, named=True)
    assert (row["name"], row["name_source"]) == ("王秀英", "gongan")  # police register outranks 人社's spelling
    assert (row["birth_date"], row["birth_date_source"]) == (date(1940, 1, 1), "gongan")
    assert (row["phone"], row["phone_source"]) == ("13800000002", "laoling")  # the latest delivery with a phone
    assert (row["address_id"], row["address_id_source"]) == ("R2", "renshe")  # the latest delivery with a room
    assert row["id_number"] == id1 and row["valid_ids"] == 1
    assert row["age"] == 86 and row["elderly_80"] and row["gugua"] and row["living_alone"] and row["subsidy_recipient"]
    assert not row["floating_population"] and row["household_no"] == "H1"
    home = households(golden).row(0, named=True)
    assert home["household_no"] == "H1" and home["members"] == 1 and home["head_person_id"] == row["person_id"]


def test_a_household_lives_in_the_room_most_of_its_members_name():
    """The household's room: the one most members live in, the smallest id among equals; rooms
    counts the distinct rooms; a household of register numbers without any room has none."""
    from address_master.golden import households

    golden = pl.DataFrame({
        "person_id": ["p1", "p2", "p3", "p4", "p5", "p6", "p7"],
        "household_no": ["H1", "H1", "H1", "H2", "H2", None, "H3"],
        "address_id": ["R9", "R2", "R9", "R5", "R3", "R7", None],
        "building_id": ["B1", "B1", "B1", "B2", "B2", "B3", None],
        "relation_to_head": ["户主", "子", "配偶", None, "户主", None, None],
        "elderly_80": [False, True, False, False, False, False, False],
        "disabled": [False] * 7, "subsidy_recipient": [False] * 6 + [True],
    })
    homes = {r["household_key"]: r for r in households(golden).iter_rows(named=True)}
    assert set(homes) == {"H1", "H2", "H3", "ROOM:R7"}
    assert (homes["H1"]["address_id"], homes["H1"]["rooms"], homes["H1"]["members"]) == ("R9", 2, 3)
    assert homes["H1"]["member_ids"] == ["p1", "p2", "p3"] and homes["H1"]["relations"] == ["子", "户主", "配偶"] and homes["H1"]["has_elderly_80"]
    assert (homes["H2"]["address_id"], homes["H2"]["rooms"], homes["H2"]["head_person_id"]) == ("R3", 2, "p5")  # one each: the smaller id
    assert (homes["H3"]["address_id"], homes["H3"]["rooms"], homes["H3"]["receives_subsidy"]) == (None, 0, True)
    assert homes["ROOM:R7"]["household_no"] is None and homes["ROOM:R7"]["members"] == 1
