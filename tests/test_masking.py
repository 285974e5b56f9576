"""One masking policy, by field kind: reports now, replicas and the API later."""

from __future__ import annotations

import json

import polars as pl

from warehouse.masking import POLICY, mask_examples, mask_expr, mask_text


def test_policy_by_kind_in_python_and_in_polars_agree():
    frame = pl.DataFrame({
        "id_number": ["330102198807154312", "33010219880715431", None],
        "phone": ["13857146620", "0571-8888", "12"],
        "name": ["欧阳子墨", "张伟", "李"],
        "address": ["东坡路12号3幢2单元301室", None, "湖滨"],
        "hospital": ["杭州市妇产科医院", None, None],
    })
    masked = frame.select(mask_expr(c) for c in frame.columns)
    assert masked.row(0) == ("330102********4312", "138****6620", "欧***", "东坡路**号*幢*单元***室", "杭州市妇产科医院")
    assert masked["name"][1] == "张*" and masked["name"][2] == "李"  # one character: nothing left to hide
    for column in ("id_number", "phone", "name", "address"):
        rule = POLICY[{"id_number": "id_number", "phone": "phone", "name": "name", "address": "address"}[column]]
        assert masked[column].to_list() == [mask_text(v, rule) for v in frame[column].to_list()], column


def test_report_examples_are_masked_by_their_column():
    examples = json.dumps(["330102198807154312", "11010519491231002X"])
    assert json.loads(mask_examples(examples, "id_number")) == ["330102********4312", "110105********002X"]
    assert json.loads(mask_examples(json.dumps(["欧阳子墨"]), "mother_name")) == ["欧***"]
    assert mask_examples(examples, "hospital") == examples  # not personal: shown as is
