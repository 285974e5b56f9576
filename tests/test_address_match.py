"""Address base import, matcher accuracy, review decisions and the stable CLI contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from address_master.base import AddressBaseError, load_base, read_base_csv
import address_master.links as links_module
from address_master.links import link_addresses
from address_master.match import match_addresses
from address_master.parse import FIELDS
from pipelines.demo.noise import render_addresses
from pipelines.reference import five_level_province

ENTERONCE = str(Path(sys.executable).parent / "enteronce")


@pytest.fixture(scope="module")
def base(district):
    addresses, buildings, rejected = load_base(district / "landing" / "address_base" / "address_base.csv")
    assert rejected.height == 0
    return addresses


def review_text(row: dict) -> str:
    """An address of ``row`` with the road left out and the compound misspelt: the matcher can only offer candidates."""
    return f"{row['compound'][:2]}某{row['compound'][3:]}{row['building']}幢{row['unit']}单元{row['room']}室"


def test_matcher_precision_and_recall_on_generated_noise(district, base):
    truth = pl.read_parquet(district / "truth" / "addresses.parquet")
    rng = np.random.default_rng(5)
    sample = truth[rng.integers(0, truth.height, 5000)]
    texts = render_addresses(sample, rng, noise=1.0)
    result = match_addresses(texts, base).with_columns(sample["address_id"].alias("true_id"))
    accepted = result.filter(pl.col("address_id").is_not_null())
    precision = float((accepted["address_id"] == accepted["true_id"]).mean())
    recall = float((result["address_id"] == result["true_id"]).fill_null(False).mean())
    assert precision >= 0.995 and recall >= 0.98, (precision, recall)
    building_truth = sample.select("address_id").join(base.select("address_id", "building_id"), on="address_id", how="left", maintain_order="left")
    right_building = (result["building_id"] == building_truth["building_id"]).fill_null(False)
    assert float(right_building.mean()) >= 0.98


def test_without_its_unit_or_with_a_mistyped_room_an_address_is_answered_at_the_level_that_can_be_told(base):
    full = base.filter(pl.col("unit").is_not_null() & pl.col("room").is_not_null() & pl.col("road").is_not_null())
    rooms = full.group_by("building_id", "room").agg(pl.col("address_id"), pl.col("unit").n_unique().alias("units"))
    shared = rooms.filter(pl.col("units") > 1).sort("building_id", "room").row(0, named=True)  # room 301 in two units
    alone = rooms.filter(pl.col("units") == 1).sort("building_id", "room").row(0, named=True)  # a room number only one unit has
    row_of = lambda address_id: full.filter(pl.col("address_id") == address_id).row(0, named=True)  # noqa: E731
    text = lambda r, unit, room: f"{r['road']}{r['road_no']}号{r['building']}幢{unit}{room}室"  # noqa: E731
    s, a = row_of(shared["address_id"][0]), row_of(alone["address_id"][0])
    taken = set(full.filter(pl.col("building_id") == s["building_id"])["room"])
    missing_room = next(f"{n}" for n in range(9001, 9999) if f"{n}" not in taken)
    out = match_addresses([text(s, "", s["room"]), text(a, "", a["room"]), text(s, f"{s['unit']}单元", missing_room), text(s, f"{s['unit']}单元", s["room"])], base)
    rows = out.to_dicts()
    # two rooms could be meant: the building, not a guess
    assert rows[0]["address_id"] is None and rows[0]["building_id"] == s["building_id"] and rows[0]["level"] == "building"
    # only one unit has that room: the address
    assert rows[1]["address_id"] == alone["address_id"][0] and rows[1]["level"] == "address"
    # a room the building does not have: the building
    assert rows[2]["address_id"] is None and rows[2]["building_id"] == s["building_id"] and rows[2]["level"] == "building"
    assert rows[3]["address_id"] == s["address_id"] and rows[3]["level"] == "address"


def test_matcher_rejects_addresses_not_in_the_base(base):
    out = match_addresses(["杭州市西湖区文三路90号东部软件园3号楼5层", "湖滨街道不存在路1号", "", None], base)
    assert out["address_id"].null_count() == 4


def test_reviewed_decision_is_reused(base):
    text = "上城区某某新村9幢9单元909室"  # unmatched by rules
    records = pl.DataFrame({"source_system": ["zongzhi"] * 2, "source_table": ["grid_events"] * 2, "source_column": ["address"] * 2, "batch_id": ["b1", "b2"], "source_row": [1, 2], "address_text": [text, text + " "]})
    empty = pl.DataFrame(schema={"address_key": pl.String, "address_id": pl.String})
    links, _ = link_addresses(records, base, empty)
    assert links["address_id"].null_count() == 2
    chosen = base["address_id"][0]
    decisions = pl.DataFrame({"address_key": [links["address_key"][0]], "address_id": [chosen]})
    links, _ = link_addresses(records, base, decisions)
    assert links["address_id"].to_list() == [chosen, chosen]
    assert links["method"].to_list() == ["review_decision"] * 2


def test_texts_matched_a_slice_at_a_time_get_the_same_answers_as_all_at_once(district, base, monkeypatch):
    truth = pl.read_parquet(district / "truth" / "addresses.parquet")
    rng = np.random.default_rng(11)
    texts = list(render_addresses(truth[rng.integers(0, truth.height, 560)], rng, noise=1.0))
    homes = truth.filter(pl.col("kind") == "residential").head(30)
    # only candidates, for review
    texts += [review_text(r) for r in homes.iter_rows(named=True)]
    texts += [f"湖滨街道不存在路{i}号" for i in range(10)]
    n = len(texts)
    records = pl.DataFrame({"source_system": ["zongzhi"] * n, "source_table": ["grid_events"] * n, "source_column": ["address"] * n,
                            "batch_id": ["b"] * n, "source_row": list(range(n)), "address_text": texts})
    empty = pl.DataFrame(schema={"address_key": pl.String, "address_id": pl.String})
    whole, whole_candidates = link_addresses(records, base, empty)
    monkeypatch.setattr(links_module, "TEXT_CHUNK", 37)  # 600 texts in 17 slices, the last one short
    sliced, sliced_candidates = link_addresses(records, base, empty)
    assert whole["decision"].n_unique() > 1 and whole_candidates.height > 0  # accepted and reviewed texts both
    assert sliced.sort("source_row").equals(whole.sort("source_row"))
    order = ["address_key", "address_id"]
    assert sliced_candidates.select(sorted(sliced_candidates.columns)).sort(order).equals(whole_candidates.select(sorted(whole_candidates.columns)).sort(order))


def test_base_import_reports_bad_rows(tmp_path):
    path = tmp_path / "base.csv"
    path.write_text(
        "address_id,division_code,road,road_no,compound,building,unit,room\n"
        "A1,330102003057,东坡路,12,湖滨花园,3,2,301\n"
        "A1,330102003057,东坡路,12,湖滨花园,3,2,302\n"
        "A3,3301020030,东坡路,12,湖滨花园,3,2,303\n"
        "A4,330102999999,东坡路,12,湖滨花园,3,2,304\n"
        "A5,330102003057,,不详,,#REF!,2,305\n"
        "A6,330102003057,东坡路,12,,,,\n",
        encoding="utf-8",
    )
    addresses, buildings, rejected = load_base(path)
    assert addresses["address_id"].to_list() == ["A6"]
    assert addresses["full_text"][0] == "浙江省杭州市上城区湖滨街道东坡路社区东坡路12号"
    reasons = dict(zip(rejected["line"].to_list(), rejected["reason"].to_list()))
    assert "not unique" in reasons[2] and "not unique" in reasons[3]
    assert "12-digit" in reasons[4]
    assert "not in the Zhejiang division table" in reasons[5]
    assert "neither road nor compound" in reasons[6] and "road_no is not a number" in reasons[6] and "building is not a number" in reasons[6]
    (tmp_path / "bad.csv").write_text("id,code\n1,2\n", encoding="utf-8")
    with pytest.raises(AddressBaseError, match="missing column"):
        read_base_csv(tmp_path / "bad.csv")


def _as_written(values: pl.Series, word: str, rng: np.random.Generator, words: tuple[str, ...] = ()) -> pl.Series:
    """Numbers the way real 标准地址 exports write them: with their word (one of ``words``), some in Chinese numerals."""
    from tests.test_gazetteer import to_chinese

    out = []
    for v in values.to_list():
        if v is None:
            out.append(None)
            continue
        chosen = words[rng.integers(len(words))] if words else word
        number = to_chinese(v) if rng.random() < 0.2 else v
        out.append(f"{number}{chosen}" if rng.random() < 0.9 else v)
    return pl.Series(values.name, out, dtype=pl.String)


def test_a_base_written_like_real_exports_imports_whole_and_matches_as_well(district, base, tmp_path):
    """301号, 1幢/1栋/1号楼, 1单元, 101室, Chinese numerals, blanks: 0 rejected rows, the same keys and the same links."""
    rng = np.random.default_rng(11)
    plain = pl.read_csv(district / "landing" / "address_base" / "address_base.csv", infer_schema=False)
    written = plain.with_columns(
        _as_written(plain["road_no"], "号", rng), _as_written(plain["building"], "", rng, ("幢", "栋", "号楼")),
        _as_written(plain["unit"], "单元", rng), _as_written(plain["room"], "室", rng),
    )
    assert written["building"].str.contains("栋").any() and written["room"].str.contains("室").any()
    path = tmp_path / "base_as_written.csv"
    written.write_csv(path)
    addresses, buildings, rejected = load_base(path)
    assert rejected.height == 0, rejected.head()
    keys = ["address_id", "road_no", "building", "unit", "room", "building_id"]
    assert addresses.select(keys).equals(base.select(keys))  # the same matching keys as the numeric base
    truth = pl.read_parquet(district / "truth" / "addresses.parquet")
    sample = truth[rng.integers(0, truth.height, 2000)]
    texts = render_addresses(sample, rng, noise=1.0)
    assert match_addresses(texts, addresses)["address_id"].equals(match_addresses(texts, base)["address_id"])


def _run(args: list[str], stdin: bytes) -> subprocess.CompletedProcess:
    return subprocess.run([ENTERONCE, "address", *args], input=stdin, capture_output=True, check=False, timeout=300)


def test_cli_parse_contract():
    lines = ["浙江省杭州市上城区湖滨街道东坡路12号", "", "###", "上城区秋涛路242号近江家园3-2-301", "\udcff"]
    raw = "\n".join(lines[:4]).encode() + b"\n\xff\xfe\n"
    result = _run(["parse", "--chunk", "2"], raw)
    assert result.returncode == 0, result.stderr.decode()
    out = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(out) == 5
    for obj in out:
        assert list(obj) == FIELDS  # exactly these keys, in this order
    assert out[0]["road"] == "东坡路" and out[0]["division_code"] == "330102003"
    assert all(v is None for v in out[1].values()) and all(v is None for v in out[2].values())
    assert out[3]["building"] == "3" and out[3]["room"] == "301"
    assert all(v is None for v in out[4].values())


def test_cli_match_contract(district, base):
    truth = pl.read_parquet(district / "truth" / "addresses.parquet").head(3)
    texts = render_addresses(truth, np.random.default_rng(1), noise=0.0).to_list()
    stdin = ("\n".join([texts[0], "", "湖滨街道不存在路1号", texts[1], texts[2]]) + "\n").encode()
    result = _run(["match", "--base", str(district / "landing" / "address_base" / "address_base.csv"), "--chunk", "2"], stdin)
    assert result.returncode == 0, result.stderr.decode()
    out = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(out) == 5
    assert all(list(o) == ["address_id", "building_id", "level", "score", "method"] for o in out)
    ids = truth["address_id"].to_list()
    assert [o["address_id"] for o in out] == [ids[0], None, None, ids[1], ids[2]]
    assert out[0]["score"] == 1.0 and out[0]["method"] == "exact"


def test_cli_match_reports_a_bad_base(tmp_path):
    bad = tmp_path / "base.csv"
    bad.write_text("foo,bar\n1,2\n", encoding="utf-8")
    result = _run(["match", "--base", str(bad)], b"x\n")
    assert result.returncode != 0 and b"missing column" in result.stderr


def test_review_export_and_apply_round_trip(district, tmp_path):
    """import-base → a queued text → export → a data officer's choice → reused when linking."""
    from click.testing import CliRunner

    from address_master.links import read_decisions, review_queue
    from address_master.store import LAYER, REVIEW_QUEUE, read_base
    from cli.main import main
    from warehouse.storage import Warehouse

    runner = CliRunner()
    wh_root = tmp_path / "wh"
    base_csv = district / "landing" / "address_base" / "address_base.csv"
    imported = runner.invoke(main, ["address", "import-base", str(base_csv), "--warehouse", str(wh_root)])
    assert imported.exit_code == 0, imported.output
    wh = Warehouse(str(wh_root))
    base = read_base(wh)
    truth = pl.read_parquet(district / "truth" / "addresses.parquet").filter(pl.col("kind") == "residential").head(1)
    row = truth.row(0, named=True)
    text = review_text(row)
    records = pl.DataFrame({"source_system": ["zongzhi"], "source_table": ["grid_events"], "source_column": ["address"], "batch_id": ["b"], "source_row": [1], "address_text": [text]})
    links, candidates = link_addresses(records, base, read_decisions(wh))
    assert links["decision"][0] == "review", links.row(0, named=True)
    wh.write(review_queue(links, candidates, base), LAYER, *REVIEW_QUEUE, mode="overwrite")

    export = tmp_path / "queue.csv"
    result = runner.invoke(main, ["address", "review", "export", str(export), "--warehouse", str(wh_root)])
    assert result.exit_code == 0, result.output
    sheet = pl.read_csv(export, infer_schema=False)
    assert sheet["address_id"].fill_null("").str.strip_chars().eq("").all()  # nothing pre-filled: an untouched row decides nothing
    assert row["address_id"] in sheet.select(pl.col("^candidate_.*_address_id$")).row(0)  # the candidates with their ids
    untouched = runner.invoke(main, ["address", "review", "apply", str(export), "--warehouse", str(wh_root)])
    assert untouched.exit_code == 0 and "recorded 0 decisions" in untouched.output
    sheet = sheet.with_columns(pl.lit(row["address_id"]).alias("address_id"))
    sheet.write_csv(export)
    applied = runner.invoke(main, ["address", "review", "apply", str(export), "--warehouse", str(wh_root)])
    assert applied.exit_code == 0, applied.output
    links, _ = link_addresses(records, base, read_decisions(wh))
    assert links["address_id"][0] == row["address_id"] and links["method"][0] == "review_decision"
    bad = sheet.with_columns(pl.lit("NOPE").alias("address_id"))
    bad.write_csv(export)
    refused = runner.invoke(main, ["address", "review", "apply", str(export), "--warehouse", str(wh_root)])
    assert refused.exit_code != 0 and "not in the base" in refused.output


def test_raw_texts_are_located_by_their_normalised_key_when_it_was_accepted(tmp_path):
    """locate_texts (reports place quarantined rows with it): a raw text whose key the links
    accepted gets that address; a key in review, an unknown one and an empty text get no row."""
    from address_master.links import TEXT_RESULT, locate_texts
    from address_master.parse import normalize_address
    from warehouse.storage import Warehouse
    from warehouse.tables import ADDRESS_TEXTS

    wh = Warehouse(str(tmp_path / "wh"))
    written = ["杭州市上城区望江路12号3幢1单元201室", "上城区清泰街8号"]
    keys = pl.DataFrame({"t": written}).select(normalize_address(pl.col("t")))["t"].to_list()
    texts = pl.DataFrame({"address_key": keys, "address_id": ["A1", "A2"], "building_id": ["B1", "B2"], "score": [1.0, 0.7],
                          "method": ["exact", "fuzzy"], "decision": ["accept", "review"]}).select(TEXT_RESULT)
    wh.write(texts, "address", *ADDRESS_TEXTS)
    raw = pl.Series(["杭州市上城区望江路１２号３幢１单元２０１室", "杭州市 上城区望江路12号3幢1单元201室", "上城区清泰街8号", "没有的地址1号", None])
    located = locate_texts(wh, raw).sort("address_text")
    assert located.to_dicts() == [{"address_text": "杭州市 上城区望江路12号3幢1单元201室", "address_id": "A1"},
                                  {"address_text": "杭州市上城区望江路１２号３幢１单元２０１室", "address_id": "A1"}]


def test_cli_parse_hub_from_the_option_the_environment_or_the_warehouse(base, tmp_path):
    """A county written inside a compound (柯桥联合市场) is looked for in the hub's province: the hub
    comes from --hub, else $ENTERONCE_HUB, else the district of the warehouse's address base, else
    the province of the shipped five-level table."""
    import os

    from address_master.store import write_base
    from warehouse.storage import Warehouse

    text = "柯桥联合市场C区一楼954\n".encode()

    def district_of(args: list[str], **env: str) -> str | None:
        environ = {k: v for k, v in os.environ.items() if k != "ENTERONCE_HUB"} | env
        result = subprocess.run([ENTERONCE, "address", "parse", *args], input=text, capture_output=True, env=environ, timeout=300)
        assert result.returncode == 0, result.stderr.decode()
        return json.loads(result.stdout)["district"]

    empty = str(tmp_path / "no_lake")
    assert district_of(["--hub", ""], ENTERONCE_WAREHOUSE=empty) is None  # no hub: nothing to prefer
    assert district_of(["--hub", "33"], ENTERONCE_WAREHOUSE=empty) == "柯桥区"
    assert district_of([], ENTERONCE_WAREHOUSE=empty, ENTERONCE_HUB="3306") == "柯桥区"
    assert district_of(["--hub", "32"], ENTERONCE_WAREHOUSE=empty, ENTERONCE_HUB="33") is None  # the option wins
    # nothing configured: the province whose five levels ship (Zhejiang's)
    assert five_level_province() == "33"
    assert district_of([], ENTERONCE_WAREHOUSE=empty) == "柯桥区"
    lake = tmp_path / "lake"
    write_base(Warehouse(str(lake)), base, pl.DataFrame({"building_id": ["b"]}), pl.DataFrame({"line": [1]}), "address_base.csv")
    assert district_of([], ENTERONCE_WAREHOUSE=str(lake)) == "柯桥区"  # the base's district is in 33
    bad = subprocess.run([ENTERONCE, "address", "parse", "--hub", "浙江"], input=text, capture_output=True, timeout=300)
    assert bad.returncode == 2 and b"not a division code" in bad.stderr
