"""One masking policy, by field kind: reports now, replicas and the API later."""

from __future__ import annotations

import json

import polars as pl
import pytest

from warehouse.masking import level_policy, mask_examples, mask_expr, mask_frame


def test_policy_by_kind():
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
    assert masked.row(1)[:2] == ("330102*******5431", "057**8888") and masked["phone"][2] == "1*"  # short: first character only


def test_policy_by_level_and_column():
    frame = pl.DataFrame({"person_id": ["P1"], "name": ["欧阳子墨"], "phone": ["13857146620"], "phone_raw": ["138-5714-6620"],
                          "mother_id_number": ["330102198807154312"], "living_status": ["独居"]})
    province, community = mask_frame(frame, level_policy("province")), mask_frame(frame, level_policy("community"))
    assert province.row(0) == ("P1", "欧***", "138****6620", "138******6620", "330102********4312", "独居")
    assert community.row(0) == ("P1", "欧阳子墨", "138****6620", "138******6620", "330102********4312", "独居")
    opened = mask_frame(frame, level_policy("street", {"street": {"phone": "clear", "living_status": "name_1"}}))
    assert opened["phone"][0] == "13857146620" and opened["phone_raw"][0] == "138-5714-6620"  # "phone" names the kind: every phone column and opened["living_status"][0] == "独*"


def test_report_examples_are_masked_by_their_column():
    examples = json.dumps(["330102198807154312", "11010519491231002X"])
    assert json.loads(mask_examples(examples, "id_number")) == ["330102********4312", "110105********002X"]
    assert json.loads(mask_examples(json.dumps(["欧阳子墨"]), "mother_name")) == ["欧***"]
    assert mask_examples(examples, "hospital") == examples  # not personal: shown as is


def test_no_level_sees_a_disability_certificate_number_in_clear():
    """The certificate number is the holder's ID number plus two digits: every replica masks it as
    it masks ID numbers (it once went to the province and the city in clear)."""
    from warehouse.masking import LEVELS, level_policy

    frame = pl.DataFrame({"id_number": ["330102199001011234"], "disability_cert_no": ["33010219900101123411"]})
    for level in LEVELS:
        row = mask_frame(frame, level_policy(level)).row(0, named=True)
        assert row["disability_cert_no"] == "330102**********3411" and row["id_number"] == "330102********1234", level


def test_a_role_adds_to_its_level_policy():
    from warehouse.masking import role_policy

    frame = pl.DataFrame({"name": ["张三丰"], "id_number": ["330102199001011234"], "disability_cert_no": ["33010219900101123411"]})
    caseworker = mask_frame(frame, role_policy("community", "caseworker")).row(0, named=True)
    analyst = mask_frame(frame, role_policy("community", "analyst")).row(0, named=True)
    assert caseworker["name"] == "张三丰" and analyst["name"] == "张**"
    assert caseworker["id_number"] == analyst["id_number"] == "330102********1234"
    assert caseworker["disability_cert_no"] == "330102**********3411"
    with pytest.raises(ValueError, match="unknown role"):
        role_policy("community", "mayor")
