"""Bad input to the CLIs: one line on stderr naming file, line and column; exit status 1; never a
traceback, never a silent guess (GBK read as UTF-8, a duplicate id dropped)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ENTERONCE = str(Path(sys.executable).parent / "enteronce")
PERSONS_HEADER = "record_id,source,name,id_number,birth_date,sex,address"
BASE_HEADER = "address_id,division_code,road,road_no,compound,building,unit,room"
BASE_ROW = "{},330102003057,东坡路,12,湖滨花园,3,2,{}"


def _run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([ENTERONCE, *args], input=stdin, capture_output=True, check=False, timeout=300)


def _one_line_error(result: subprocess.CompletedProcess, *expected: str) -> str:
    err = result.stderr.decode()
    assert result.returncode == 1, (result.returncode, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for text in expected:
        assert text in err, err
    return err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", ["empty file"]),
        (f"{PERSONS_HEADER}\n".encode(), ["no data rows"]),
        (f"{PERSONS_HEADER}\nr1,gongan,张三,,,,\nr2,gongan,李四,,,,\nr1,minzheng,张三,,,,\n".encode(), ["lines 2, 4", "column record_id", "'r1' appears 2 times"]),
        (f"{PERSONS_HEADER}\nr1,gongan,张三,,,,\n,gongan,李四,,,,\n".encode(), ["line 3, column record_id: empty"]),
        (f"{PERSONS_HEADER}\nr1,gongan,张三,,,,\nr2,gongan,李四,,,\n".encode(), ["line 3", "row has 6 fields, header has 7"]),
        (f"{PERSONS_HEADER},name\nr1,gongan,张三,,,,,\n".encode(), ["line 1", "name appear more than once"]),
        (f"{PERSONS_HEADER}\nr1,gongan,张三,,,,\n".encode("utf-16"), ["not valid UTF-8"]),
    ],
    ids=["empty", "header-only", "duplicate-id", "empty-id", "ragged", "duplicate-column", "utf-16"],
)
def test_persons_resolve_refuses_bad_input_in_one_line(tmp_path, content, expected):
    path = tmp_path / "records.csv"
    path.write_bytes(content)
    _one_line_error(_run("persons", "resolve", str(path)), str(path), *expected)


def test_persons_resolve_names_a_gbk_file_and_reads_it_with_encoding(tmp_path):
    path = tmp_path / "records.csv"
    path.write_bytes(f"{PERSONS_HEADER}\nr1,gongan,欧阳子墨,,,,东坡路12号\nr2,gongan,欧阳子墨,,,,东坡路12号\n".encode("gbk"))
    _one_line_error(_run("persons", "resolve", str(path)), "line 2", "not valid UTF-8", "reads as GBK (encoding gbk)")
    result = _run("persons", "resolve", str(path), "--encoding", "gbk")
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().splitlines()
    assert lines[0] == "record_id,person_id" and [line.split(",")[0] for line in lines[1:]] == ["r1", "r2"]


def test_address_match_refuses_a_base_with_a_duplicated_address_id(tmp_path):
    base = tmp_path / "base.csv"
    base.write_text("\n".join([BASE_HEADER, BASE_ROW.format("A1", 301), BASE_ROW.format("A2", 302), BASE_ROW.format("A1", 303)]) + "\n", encoding="utf-8")
    _one_line_error(_run("address", "match", "--base", str(base), stdin=b"x\n"), str(base), "line 2, column address_id: address_id is not unique", "1 more bad row")
    skipped = _run("address", "match", "--base", str(base), "--skip-bad-rows", stdin="东坡路12号湖滨花园3幢2单元302室\n".encode())
    assert skipped.returncode == 0 and b'"A2"' in skipped.stdout and b"skipped" in skipped.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (f"{BASE_HEADER}\n".encode(), ["no data rows"]),
        (b"", ["empty file"]),
        (f"{BASE_HEADER}\n{BASE_ROW.format('A1', 301)}\n".encode("gbk"), ["not valid UTF-8", "reads as GBK"]),
        (f"{BASE_HEADER}\n\"{BASE_ROW.format('A1', 301)}\n".encode(), ["line 2: row has 1 fields"]),
    ],
    ids=["header-only", "empty", "gbk", "unterminated-quote"],
)
def test_address_match_refuses_an_unusable_base(tmp_path, content, expected):
    base = tmp_path / "base.csv"
    base.write_bytes(content)
    _one_line_error(_run("address", "match", "--base", str(base), stdin=b"x\n"), str(base), *expected)


def test_import_base_refuses_a_header_only_base_and_keeps_the_one_in_force(tmp_path, district):
    wh = str(tmp_path / "wh")
    assert _run("address", "import-base", str(district / "landing" / "address_base" / "address_base.csv"), "--warehouse", wh).returncode == 0
    empty = tmp_path / "empty.csv"
    empty.write_text(BASE_HEADER + "\n", encoding="utf-8")
    _one_line_error(_run("address", "import-base", str(empty), "--warehouse", wh), "no data rows")
    from warehouse.storage import Warehouse

    assert Warehouse(wh).read("address", "base", "addresses").height > 0
