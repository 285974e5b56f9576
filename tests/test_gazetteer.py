"""The whole country's gazetteer and numbers in every written form (issue 11, items 1 and 3)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from address_master.gazetteer import gazetteer, short_names
from address_master.numbers import canonical_number, canonical_numbers
from pipelines.reference import ceded_divisions, country_divisions, legacy_divisions


def resolve(*mentions: tuple[str, str], home: str = "") -> str | None:
    return gazetteer().resolve(tuple(mentions), home)[0]


def test_the_whole_country_is_there():
    d = country_divisions()
    counts = d.group_by("level").len().sort("level")["len"].to_list()
    assert counts[:4] == [31, 342, 2978, 41352]  # the country to street level
    assert counts[4] > 25_000  # and Zhejiang's communities
    assert d["code"].is_unique().all()


def test_every_legacy_name_points_at_a_division_of_today():
    legacy = legacy_divisions()
    today = set(country_divisions()["code"])
    assert legacy["new_code"].is_in(list(today)).all()
    assert {"江干区", "下城区", "江东区", "绍兴县", "萧山市", "余杭市", "富阳市", "临安市"} <= set(legacy["old_name"])
    assert legacy["source"].str.contains("国函").all()  # each with its source


def test_every_ceded_part_is_a_division_of_today_created_from_a_named_one():
    ceded = ceded_divisions()
    today = set(country_divisions()["code"])
    assert ceded["to_code"].is_in(list(today)).all()
    # the division that gave the land is today's or a legacy one (江干区)
    assert ceded["from_code"].is_in([*today, *legacy_divisions()["old_code"]]).all()
    assert ceded["source"].str.contains("国函").all()


@pytest.mark.parametrize("mentions, code", [
    # every province, municipalities both province and city
    ((("province", "北京市"), ("district", "朝阳区")), "110105"),
    ((("province", "上海"), ("district", "浦东新区")), "310115"),
    ((("province", "广西"), ("city", "南宁")), "4501"),
    ((("province", "新疆维吾尔自治区"), ("city", "乌鲁木齐市")), "6501"),
    # short names without suffix, county-level cities (written where a city or a district goes)
    ((("city", "慈溪"),), "330282"),
    ((("district", "嵊州"),), "330683"),
    ((("district", "柯桥"),), "330603"),
    ((("district", "鄞州"),), "330212"),
    ((("district", "玉环"),), "331083"),
    ((("city", "张家港"),), "320582"),
    # 自治州 / 盟 / 地区 by their place names
    ((("city", "恩施"), ("district", "利川")), "422802"),
    ((("province", "内蒙古"), ("city", "锡林郭勒盟")), "1525"),
    ((("city", "阿里地区"),), "5425"),
    ((("district", "景宁"),), "331127"),
    # legacy names resolve to today's division
    ((("province", "浙江省"), ("city", "杭州市"), ("district", "江干区")), "330102"),
    ((("city", "宁波"), ("district", "江东区")), "330212"),
    ((("district", "绍兴县"),), "330603"),
    ((("district", "萧山市"),), "330109"),
    ((("province", "北京"), ("district", "宣武区")), "110102"),
    # a street written with an older suffix; inside Zhejiang down to the community
    ((("district", "萧山"), ("street", "宁围镇")), "330109013"),
    ((("district", "上城区"), ("street", "小营街道"), ("community", "大学路社区")), "330102004058"),
    # a district that gave part of its land to a new one: the new one where a street of that part is named
    ((("district", "余杭区"), ("street", "临平")), "330113001"),
    ((("city", "杭州"), ("district", "江干区"), ("street", "下沙")), "330114001"),
    ((("district", "余杭市"), ("street", "乔司镇")), "330113005"),
    ((("city", "宁波市"), ("district", "鄞州区"), ("street", "横街镇")), "330203101"),
    ((("district", "余杭区"), ("street", "闲林街道")), "330110"),
    ((("district", "余杭区"),), "330110"),
    ((("district", "萧山"),), "330109"),
])
def test_divisions_resolve(mentions, code):
    assert (resolve(*mentions, home="330102") or "").startswith(code)


def test_outside_zhejiang_a_district_resolves_to_its_six_digit_code():
    assert resolve(("province", "江苏省"), ("city", "南京市"), ("district", "鼓楼区")) == "320106"
    assert resolve(("province", "福建省"), ("city", "福州市"), ("district", "鼓楼区")) == "350102"


def test_a_name_that_is_no_division_is_not_reported_as_one():
    code, agree = gazetteer().resolve((("province", "浙江省"), ("city", "杭州市"), ("district", "滨海区")), "")
    assert code == "3301" and agree == (True, True, False)
    assert resolve(("district", "鼓楼区")) is None  # five cities have one: nothing to tell them apart
    assert resolve(("community", "不存在社区")) is None
    # contradicting names: the ones written in full win over a short one
    assert resolve(("city", "杭州市"), ("district", "西湖区"), ("street", "龙山")) == "330106"
    # a city does not fall to the county whose legacy short name it shares (金华县 → 金东区, 绍兴县 → 柯桥区)
    assert resolve(("city", "金华市")) == "3307" and resolve(("city", "绍兴")) == "3306"
    assert resolve(("city", "金华"), ("district", "永康")) == "330784"


@pytest.mark.parametrize(("text", "district"), [
    ("柯桥联合市场C区一楼954", "柯桥区"),  # a county at the start of a compound, in the hub's province
    ("台州黄岩北城开发区康强路152号", "黄岩区"),  # … under the city resolved
    ("杭州市西湖大道18号", None),  # a road named after a place names no division (西湖大道 is in 上城区)
])
def test_division_names_inside_other_spans(text, district):
    from address_master.parse import parse_learned

    got = parse_learned([text], "33").row(0, named=True)
    assert got["district"] == district, got
    if district is None:
        assert got["street"] is None and got["city"] == "杭州市", got


def test_short_names():
    assert short_names("恩施土家族苗族自治州", 2) == {"恩施"}
    assert short_names("景宁畲族自治县", 3) >= {"景宁"}
    assert "广西" in short_names("广西壮族自治区", 1)
    assert short_names("东区", 3) == set()  # never a one-character name


@pytest.mark.parametrize("written, canonical", [
    ("三百四十九号", "349"), ("三四九号", "349"), ("二〇一室", "201"), ("二零一室", "201"), ("５0１", "501"),
    ("附2号", "附2"), ("100号附2号", "100附2"), ("101-8", "101-8"), ("甲", "甲"), ("12号甲", "12甲"), ("十二号乙", "12乙"),
    ("A座", "A"), ("B幢", "B"), ("b幢", "B"), ("负一层", "-1"), ("地下二层", "-2"), ("十一幢", "11"), ("一百零五号", "105"),
    ("两百号", "200"), ("0301室", "301"), ("3号楼", "3"), ("第3幢", "3"), ("3栋", "3"), ("2单元", "2"), ("二单元", "2"),
    ("五层", "5"), ("商铺3", "商铺3"), ("B1幢", "B1"), ("", None), (None, None),
    # words after the number that are none of it: a typo for 室, a room word, a shop
    ("1892窒", "1892"), ("6499房间", "6499"), ("146店", "146"), ("141号店面", "141"), ("12甲东", "12甲东"),
])
def test_numbers_in_every_written_form(written, canonical):
    assert canonical_number(written) == canonical


def to_chinese(number: str) -> str:
    """Digit by digit in Chinese numerals (301 → 三〇一), the way some exports write room numbers."""
    return "".join("〇一二三四五六七八九"[int(d)] if d.isdigit() else d for d in number)


def test_numbers_over_a_column_once_per_distinct_value():
    frame = pl.DataFrame({"v": ["三号", "3号", None, "三号"]})
    assert frame.select(canonical_numbers(pl.col("v")))["v"].to_list() == ["3", "3", None, "3"]


CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "address_corpus"


def test_address_train_retrains_from_a_bio_corpus_and_scores_it(tmp_path):
    """`enteronce address train --corpus FILE --dev FILE`: a district's own annotated addresses make a model."""
    from click.testing import CliRunner

    from address_master import tagger
    from cli.main import main

    blocks = (CORPUS / "train.txt").read_text(encoding="utf-8").split("\n\n")
    (tmp_path / "mine.txt").write_text("\n\n".join(blocks[:300]) + "\n", encoding="utf-8")
    (tmp_path / "held.txt").write_text("\n\n".join(blocks[300:400]) + "\n", encoding="utf-8")
    model = tmp_path / "m.crfsuite"
    result = CliRunner().invoke(main, ["address", "train", "--corpus", str(tmp_path / "mine.txt"), "--dev", str(tmp_path / "held.txt"), "--out", str(model)])
    assert result.exit_code == 0, result.output
    assert "span F1" in result.output and model.exists() and model.with_suffix(".scores.json").exists()
    assert {s.label for s in tagger.tag("浙江省杭州市上城区解放路138号", model)} >= {"prov", "city", "district"}
    (tmp_path / "bad.txt").write_text("浙 B-prov\n江\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.txt:2"):
        list(tagger.read_corpus(tmp_path / "bad.txt"))


def test_the_shipped_model_parses_real_addresses_of_other_provinces():
    from address_master.parse import parse_address

    got = parse_address("江苏省苏州市张家港市杨舍镇人民中路88号")
    assert got["division_code"].startswith("320582") and got["road"] == "人民中路" and got["road_no"] == "88"
    got = parse_address("上海市普陀区同普路1501弄166号2224室")
    assert got["division_code"].startswith("310107") and got["room"] == "2224"


def _with_other_numbers(text: str, seed: int, same_shape: bool) -> str:
    """``text`` with each letter/digit run replaced: by digits of the same length, or by any run."""
    import random
    import re

    rng = random.Random(seed)
    other = lambda m: rng.choice([str(rng.randint(1, 9)) * len(m[0]), str(rng.randint(1, 99999)), "B" * rng.randint(1, 4)])  # noqa: E731
    return re.sub(r"[0-9]+" if same_shape else r"[0-9A-Za-z]+", (lambda m: str(rng.randint(1, 9)) * len(m[0])) if same_shape else other, text)


def test_texts_of_one_shape_pattern_have_the_same_features_and_tags():
    """tag_many tags each shape pattern once: sound only if every text of a pattern has the same
    features, token for token (real addresses, and copies with other numbers and letters)."""
    from address_master import tagger

    real = [text for text, _ in tagger.read_corpus(CORPUS / "dev.txt")][:1500]
    same_shape = [_with_other_numbers(t, seed, True) for seed, t in enumerate(real)]
    texts = [*real, *same_shape, *(_with_other_numbers(t, seed, False) for seed, t in enumerate(real))]
    by_pattern: dict[str, list[list[str]]] = {}
    for text in texts:
        normal = tagger.normalize_chars(text)
        feats = tagger.features(normal, tagger.tokenize(normal))
        assert feats == by_pattern.setdefault(tagger._shape_pattern(normal), feats), text
    pattern = lambda t: tagger._shape_pattern(tagger.normalize_chars(t))  # noqa: E731
    assert all(pattern(a) == pattern(b) for a, b in zip(real, same_shape))  # … so they are tagged once
    one_by_one = tagger._tagger(tagger.MODEL)
    expected = []
    for text in texts:
        normal = tagger.normalize_chars(text)
        offsets = tagger.tokenize(normal)
        expected.append(tagger._decode(normal, offsets, one_by_one.tag(tagger.features(normal, offsets))) if offsets else [])
    assert tagger.tag_many(texts) == expected


def test_learned_texts_shared_out_to_a_second_process_parse_alike():
    """TextParsers(2): the learned path's texts are parsed in pieces by a spawned process and this
    one; every text gets its own parse, as in one process."""
    from address_master.parse import LEARNED_FLOOR, TextParsers, parse_frame
    from address_master.tagger import read_corpus

    texts = pl.Series("a", [text for name in ("train.txt", "dev.txt") for text, _ in read_corpus(CORPUS / name)]).unique(maintain_order=True)
    alone = parse_frame(texts.to_frame(), "a").with_columns(texts.alias("text"))
    with TextParsers(2) as parsers:
        shared = parsers.parse(texts)
        assert parsers.pieces_by_workers > 0 and parsers.pieces_here > 0
    assert texts.len() > LEARNED_FLOOR and shared.height == texts.len()
    assert shared.sort("text").equals(alone.select(shared.columns).sort("text"))
    # not eager (the address CLI): no process for a few texts, one when a batch brings enough
    with TextParsers(2, eager=False) as parsers:
        few = parsers.parse(texts.head(50))
        assert parsers._pool is None and few.sort("text").equals(alone.filter(pl.col("text").is_in(texts.head(50).implode())).select(few.columns).sort("text"))
        assert parsers.parse(texts).sort("text").equals(shared.sort("text")) and parsers._pool is not None


def test_reference_structures_are_built_once_and_rebuilt_when_an_input_changes(tmp_path, monkeypatch):
    from pipelines.reference import built_once

    monkeypatch.setenv("ENTERONCE_CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "table.csv"
    source.write_text("a\n1\n", encoding="utf-8")
    builds: list[str] = []

    def build() -> dict:
        builds.append(source.read_text(encoding="utf-8"))
        return {"rows": source.read_text(encoding="utf-8").splitlines()[1:]}

    assert built_once("t", build, [source]) == {"rows": ["1"]}
    assert built_once("t", build, [source]) == {"rows": ["1"]} and len(builds) == 1  # loaded, not built
    source.write_text("a\n2\n", encoding="utf-8")
    assert built_once("t", build, [source]) == {"rows": ["2"]} and len(builds) == 2  # its input changed
    assert len(list((tmp_path / "cache").glob("t-*.pickle"))) == 1  # the stale one is gone
    # a cache that cannot be read or written is built around
    next((tmp_path / "cache").glob("t-*.pickle")).write_bytes(b"not a pickle")
    assert built_once("t", build, [source]) == {"rows": ["2"]}
    monkeypatch.setenv("ENTERONCE_CACHE_DIR", str(source))  # a file: no directory can be made there
    assert built_once("t", build, [source]) == {"rows": ["2"]}


def test_a_street_or_community_named_inside_a_text_is_found_under_its_division_only():
    gaz = gazetteer()
    # a street of 330102 whose name no other division has
    street = next(c for c, n in gaz.names.items() if len(c) == 9 and c.startswith("330102") and n.endswith("街道") and gaz.by_name[n] == (c,))
    name = gaz.names[street]
    assert gaz.named_within("330102", name + "某某小区") == ("street", name)
    assert gaz.named_within("3301", name + "某某小区") == ("street", name)  # under its city too
    assert gaz.named_within("330106", name + "某某小区") is None  # not under another district
    assert gaz.named_within("33", name) == ("street", name)  # and its province
    assert gaz.named_within("32", name) is None  # not under another province
