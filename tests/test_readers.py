"""Readers for each native format keep rows as received and number them as a person would."""

from __future__ import annotations

import json

import polars as pl
import pytest
import xlsxwriter

from pipelines.sources.readers import MALFORMED, ROW, SourceFileError, read_source_file
from pipelines.sources.spec import JsonFormat, JsonLinesFormat, ParquetFormat, XlsxFormat, XmlFormat


def test_xlsx_title_and_merged_header_rows(tmp_path):
    path = tmp_path / "report.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.merge_range(0, 0, 0, 4, "上城区2026年10月救助金发放表")
    ws.merge_range(1, 0, 2, 0, "序号")
    ws.merge_range(1, 1, 1, 2, "户主信息")
    ws.write_row(2, 1, ["姓名", "身份证号"])
    ws.merge_range(1, 3, 1, 4, "救助信息")
    ws.write_row(2, 3, ["救助类别", "姓名"])  # a repeated leaf name gets its group prefix
    ws.write_row(3, 0, [1, "张三", "330102198001010022", "低保", "代领人"])
    ws.write_row(5, 0, [2, "李四", "330102198001010030", "特困", ""])  # row 5 left blank
    wb.close()
    frame = read_source_file(path, XlsxFormat(title_rows=1, header_rows=2))
    assert frame.columns == [ROW, "序号", "户主信息/姓名", "身份证号", "救助类别", "救助信息/姓名"]
    assert frame[ROW].to_list() == [4, 6]  # Excel row numbers
    assert frame["户主信息/姓名"].to_list() == ["张三", "李四"]
    assert frame["序号"].to_list() == ["1", "2"]


def test_jsonl_broken_line_is_kept_as_malformed(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"xm": "张三", "sfzh": "1"}\n\n{"xm": "李\n{"xm": "王五", "csrq": 19800101}\n', encoding="utf-8")
    frame = read_source_file(path, JsonLinesFormat())
    assert frame[ROW].to_list() == [1, 3, 4]
    assert frame[MALFORMED].is_null().to_list() == [True, False, True]
    assert frame.filter(pl.col(ROW) == 4)["csrq"].to_list() == ["19800101"]


def test_json_records_under_a_key(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"total": 2, "data": [{"entName": "甲", "regCap": 50}, {"entName": "乙"}]}, ensure_ascii=False), encoding="utf-8")
    frame = read_source_file(path, JsonFormat(records_key="data"))
    assert frame["regCap"].to_list() == ["50", None] and frame[ROW].to_list() == [1, 2]
    with pytest.raises(SourceFileError, match="key 'rows'"):
        read_source_file(path, JsonFormat(records_key="rows"))


def test_xml_elements_and_broken_xml(tmp_path):
    path = tmp_path / "w.xml"
    path.write_text("<alerts><alert><identifier>1</identifier><areaCode>330102</areaCode></alert><alert><identifier>2</identifier></alert></alerts>", encoding="utf-8")
    frame = read_source_file(path, XmlFormat(record_tag="alert"))
    assert frame["identifier"].to_list() == ["1", "2"] and frame["areaCode"].to_list() == ["330102", None]
    path.write_text("<alerts><alert><identifier>1</alert>", encoding="utf-8")
    with pytest.raises(SourceFileError, match="broken XML at line 1"):
        read_source_file(path, XmlFormat(record_tag="alert"))


def test_parquet_keeps_types_and_rejects_damage(tmp_path):
    path = tmp_path / "p.parquet"
    pl.DataFrame({"cons_no": ["3300000001"], "pap_e": [3.5]}).write_parquet(path)
    frame = read_source_file(path, ParquetFormat())
    assert frame.schema["pap_e"] == pl.Float64 and frame[ROW].to_list() == [1]
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(SourceFileError, match="cannot read as Parquet"):
        read_source_file(path, ParquetFormat())
