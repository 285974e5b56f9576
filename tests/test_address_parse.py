"""Address parser: every variant the issue lists, on hand-written real-world Hangzhou addresses."""

from __future__ import annotations

import polars as pl
import pytest

from address_master.parse import FIELDS, parse_address, parse_frame


def _check(text: str, **expected):
    got = parse_address(text)
    assert list(got) == FIELDS
    for key, value in expected.items():
        assert got[key] == value, (key, got)
    return got


@pytest.mark.parametrize(
    "text, expected",
    [
        # full five levels, standard form
        ("浙江省杭州市上城区湖滨街道东坡路社区东坡路12号", dict(province="浙江省", city="杭州市", district="上城区", street="湖滨街道", road="东坡路", road_no="12", division_code="330102003057")),
        # suffix variants: 街道办事处 / 社区居委会 / 村委会
        ("上城区小营街道办事处紫金社区居委会湖堡弄106号", dict(street="小营街道", community="紫金社区", division_code="330102004053")),
        ("杭州市上城区彭埠街道云峰社区居民委员会云峰路5号", dict(street="彭埠街道", road="云峰路", road_no="5")),
        # legacy district names fold onto today's districts
        ("杭州市江干区凯旋街道凯旋路10号", dict(district="上城区", street="凯旋街道", road="凯旋路", division_code="330102011")),
        # a community written under the wrong street is still recognised as a community
        ("杭州市上城区凯旋街道清泰门社区凯旋路10号", dict(street="凯旋街道", community="清泰门社区", road="凯旋路", division_code="330102011")),
        ("杭州市下城区武林街道体育场路218号", dict(district="拱墅区", street="武林街道", road="体育场路", road_no="218")),
        # missing levels: higher ones inferred from lower ones when unique
        ("湖滨街道东坡路12号", dict(province="浙江省", city="杭州市", district="上城区", street="湖滨街道", division_code="330102003")),
        ("杭州西湖区翠苑街道文三路90号", dict(city="杭州市", district="西湖区", street="翠苑街道", division_code="330106005")),
        ("滨江区长河街道江南大道3888号", dict(district="滨江区", road="江南大道", road_no="3888", division_code="330108002")),
        ("余杭区五常街道文一西路969号", dict(district="余杭区", street="五常街道", road="文一西路", road_no="969")),
        ("宁波市海曙区鼓楼街道中山西路2号", dict(city="宁波市", district="海曙区", division_code="330203005")),
        # Chinese numerals, full-width digits, traditional characters
        ("上城区东坡路12号湖滨花园三幢二单元五零一室", dict(building="3", unit="2", room="501")),
        ("上城区东坡路十二号湖滨花园十一幢二单元301室", dict(road_no="12", building="11", unit="2", room="301")),
        ("上城區東坡路１２號湖濱花園３幢２單元３０１室", dict(district="上城区", road="东坡路", road_no="12", compound="湖滨花园", building="3", unit="2", room="301")),
        # building words: 号楼 / 栋 / 幢 / 座 and shorthand
        ("西湖区文三路90号东部软件园3号楼5层", dict(compound="东部软件园", building="3", floor="5", room=None)),
        ("上城区秋涛路242号近江家园5栋2单元1102", dict(compound="近江家园", building="5", unit="2", room="1102", floor=None)),
        ("上城区秋涛路242号近江家园B座1201室", dict(road_no="242", room="1201")),
        ("上城区秋涛路242号近江家园3-2-301", dict(building="3", unit="2", room="301", floor=None)),
        ("上城区秋涛路242号近江家园3幢2-301", dict(building="3", unit="2", room="301")),
        ("上城区秋涛路242号近江家园3幢301室", dict(building="3", unit=None, room="301")),
        # floor words
        ("上城区秋涛路242号近江家园3幢2单元3楼301", dict(building="3", unit="2", floor="3", room="301")),
        # stray punctuation, spaces and noise words
        ("地址：杭州市上城区（湖滨街道）东坡路 12 号，湖滨花园 3幢", dict(street="湖滨街道", road="东坡路", road_no="12", compound="湖滨花园", building="3")),
        ("中国浙江省杭州市上城区解放路138号", dict(district="上城区", road="解放路", road_no="138")),
    ],
)
def test_parse_variants(text, expected):
    _check(text, **expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a tail the deterministic path cannot read to its end: it would keep 气象局7楼1029 as the compound
        ("上城区钱江路332号气象局7楼1029", dict(road="钱江路", compound="气象局", floor="7", room="1029")),
        ("浙江省杭州市拱墅区莫干山路1744号美都广场C座1391", dict(compound="美都广场", building="C", room="1391")),
        # a place no division table holds before the road: it would take 东洲工业园东望路 for the road
        ("浙江省富阳市东洲工业园东望路46号润达物流", dict(road="东望路", road_no="46")),
        # a street the table does not hold in the district it is written under: not reported under a
        # district it is not in (下沙 went to 钱塘区 in 2021)
        ("杭州市江干区下沙街道学林街1号", dict(district="钱塘区", street="下沙街道", division_code="330114001", road="学林街", road_no="1")),
    ],
)
def test_texts_the_deterministic_path_cannot_finish_go_the_learned_path(text, expected):
    _check(text, **expected)


@pytest.mark.parametrize("text", ["", "   ", "###", "！！！", None, "abc"])
def test_unparseable_gives_nulls_not_errors(text):
    got = parse_address(text)
    assert list(got) == FIELDS
    assert got["division_code"] is None and got["road"] is None and got["building"] is None


def test_vectorised_form_keeps_order_and_length():
    texts = ["湖滨街道东坡路12号", None, "上城区秋涛路242号近江家园3-2-301", ""] * 250
    out = parse_frame(pl.DataFrame({"a": texts}, schema={"a": pl.String}), "a")
    assert out.height == 1000 and out.columns == FIELDS
    assert out["road"].to_list()[:4] == ["东坡路", None, "秋涛路", None]
    assert out["room"].to_list()[2::4] == ["301"] * 250


def test_generated_addresses_parse_to_their_components(district):
    import numpy as np

    from pipelines.demo.noise import render_addresses

    truth = pl.read_parquet(district / "truth" / "addresses.parquet").filter(pl.col("kind") == "residential").head(2000)
    texts = render_addresses(truth, np.random.default_rng(11), noise=1.0)
    out = parse_frame(pl.DataFrame({"a": texts}), "a")
    same = lambda col, expected: float((out[col] == expected.cast(pl.String)).fill_null(False).mean())  # noqa: E731
    assert same("building", truth["building"]) > 0.99
    assert same("unit", truth["unit"]) > 0.99
    assert same("room", truth["room"]) > 0.99
    has_road = out["road"].is_not_null()
    assert float((out["road"].filter(has_road) == truth["road"].filter(has_road)).mean()) > 0.97
    assert float(out["division_code"].str.starts_with("330102").fill_null(False).mean()) > 0.9


def test_a_city_written_twice_is_not_taken_for_the_legacy_county_of_its_name():
    """金华县 (now 金东区) is matched as 金华县: a second 金华市 is the city written again."""
    from address_master.parse import parse_standard

    text = "浙江省金华金华市婺城区八一北街117号"
    assert parse_standard(pl.DataFrame({"a": [text]}), "a")["district"].item() != "金东区"
    assert parse_address(text)["district"] == "婺城区"
    assert parse_address("杭州市江干区凯旋路10号")["district"] == "上城区"  # a legacy name with its own suffix still folds
