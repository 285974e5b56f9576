"""The person master kept current incrementally gives what a full resolve gives."""

from __future__ import annotations

import shutil

import polars as pl
import pytest

from address_master.person_records import count_person_records
from address_master.person_master import GOLDEN, HOUSEHOLDS, PERSON_LINKS, PERSON_RECORDS, update_person_master
from pipelines.demo.nextday import next_day, read_register
from pipelines.sources import all_specs
from tests.helpers import materialize_all
from warehouse.storage import Warehouse


@pytest.fixture(scope="module")
def next_day_lake(district, tmp_path_factory):
    """A lake after a clean run, then a next day (5 % of residents changed, births, a power day)
    processed by the assets: the person master updates incrementally."""
    base = tmp_path_factory.mktemp("person_master")
    shutil.copytree(district / "landing", base / "landing")
    assert materialize_all(base / "landing", base / "wh", base).success
    wh = Warehouse(str(base / "wh"))
    links_before = wh.read(*PERSON_LINKS)
    delivered = next_day(base, share=0.05, seed=3)
    late = _late_entries(base / "landing")
    result = materialize_all(base / "landing", base / "wh", base)
    assert result.success
    return base, wh, links_before, delivered, late, result


def _late_entries(landing):
    """The register delivered again whole, with known residents' IDs mistyped in a few rows: half
    with two digits of the serial swapped (an ID of no one: placed by name, birth and room), half
    with a wrong check character (placed by the ID's first 17 characters)."""
    register = read_register(landing)
    id_number = pl.col("公民身份号码")
    typo = (id_number.str.len_chars() == 18) & (id_number.str.slice(14, 1) != id_number.str.slice(15, 1)) & (pl.int_range(pl.len()).hash(5) % 50 == 0)
    register = register.with_columns(typo.alias("_typo")).with_columns(pl.col("_typo").cum_sum().alias("_n"))
    wrong_check = pl.when(id_number.str.ends_with("0")).then(pl.lit("1")).otherwise(pl.lit("0"))
    swapped = id_number.str.slice(0, 14) + id_number.str.slice(15, 1) + id_number.str.slice(14, 1) + id_number.str.slice(16)
    mistyped = pl.when(~pl.col("_typo")).then(id_number).when(pl.col("_n") % 2 == 0).then(swapped).otherwise(id_number.str.slice(0, 17) + wrong_check)
    late = register.with_columns(mistyped.alias("公民身份号码")).drop("_typo", "_n")
    (landing / "gongan" / "gongan_hjrk_20991231_补录.csv").write_bytes(late.write_csv().encode("gbk"))
    return late.height


def _mode(result) -> str:
    [event] = [m for m in result.get_asset_materialization_events() if m.asset_key.path == ["person", "links", "person_links"]]
    return event.materialization.metadata["mode"].value


def test_next_day_is_resolved_incrementally_and_known_records_keep_their_person(next_day_lake):
    _, wh, before, delivered, late_entries, result = next_day_lake
    assert _mode(result) == "incremental"
    after = wh.read(*PERSON_LINKS)
    kept = before.join(after, on="record_id", how="left", suffix="_after")
    assert kept["person_id_after"].null_count() == 0
    assert (kept["person_id"] == kept["person_id_after"]).all()
    new = after.join(before, on="record_id", how="anti")
    assert after.height == count_person_records(wh, all_specs())  # every silver row, none twice
    assert delivered.moved + delivered.new_phone + delivered.births + late_entries * 0.99 <= new.height <= delivered.moved + delivered.new_phone + delivered.births + late_entries
    assert new["person_id"].null_count() == 0
    # movers, new phones and the late entries are known people; babies are new ones
    known = new.filter(pl.col("person_id").is_in(before["person_id"].implode()))
    assert known.height >= delivered.moved + delivered.new_phone + late_entries * 0.9
    late = new.filter(pl.col("batch_id").is_in(known.filter(pl.col("rule").is_in(["fuzzy", "id_first17"]))["batch_id"].implode()))
    assert set(late["rule"]) >= {"fuzzy", "id_first17"}


def test_incremental_update_equals_a_full_resolve(next_day_lake, tmp_path):
    base, wh, *_ = next_day_lake
    shutil.copytree(base / "wh", tmp_path / "wh")
    full = Warehouse(str(tmp_path / "wh"))
    from click.testing import CliRunner

    from cli.main import main

    done = CliRunner().invoke(main, ["persons", "re-resolve", "--warehouse", str(tmp_path / "wh")])  # the full re-resolve, as a command
    assert done.exit_code == 0 and done.output.startswith("full:"), done.output
    for table, key in ((PERSON_LINKS, "record_id"), (GOLDEN, "person_id"), (HOUSEHOLDS, "household_key")):
        incremental, rebuilt = wh.read(*table).sort(key), full.read(*table).sort(key)
        assert incremental.columns == rebuilt.columns, table
        assert incremental.equals(rebuilt), table


def test_nothing_new_changes_nothing(next_day_lake, tmp_path):
    base, *_ = next_day_lake
    shutil.copytree(base / "wh", tmp_path / "wh")
    wh = Warehouse(str(tmp_path / "wh"))
    versions = {t: wh.table(*t).version() for t in (PERSON_LINKS, GOLDEN, HOUSEHOLDS)}
    assert update_person_master(wh, all_specs()).mode == "unchanged"
    assert {t: wh.table(*t).version() for t in versions} == versions


_KILLED_UPDATE = """
import sys
from address_master.person_master import update_person_master
from pipelines.sources import all_specs
from warehouse.storage import Warehouse
update_person_master(Warehouse(sys.argv[1]), all_specs())
"""


@pytest.mark.parametrize("commits", [3, 4])
def test_an_update_killed_before_its_records_are_stored_is_redone_whole(next_day_lake, tmp_path, commits):
    """Killed after its state, golden persons and households (3 commits), or after the links too
    (4), the update stored no records of the new batches: the next update redoes them and ends
    where an update that was never killed ends."""
    import os
    import subprocess
    import sys

    from assets.address import LINKS_KEY, QUEUE_KEY
    from assets.sources import bronze_key, quarantine_key, silver_key

    base, *_ = next_day_lake
    shutil.copytree(base / "wh", tmp_path / "wh")
    shutil.copytree(base / "landing", tmp_path / "landing")
    next_day(tmp_path, share=0.02, seed=5)
    gongan = all_specs()["gongan"]
    to_silver = [bronze_key(gongan), silver_key(gongan), quarantine_key(gongan), LINKS_KEY, QUEUE_KEY]
    assert materialize_all(tmp_path / "landing", tmp_path / "wh", tmp_path, selection=to_silver, report=False).success
    shutil.copytree(tmp_path / "wh", tmp_path / "never_killed")
    whole = update_person_master(Warehouse(str(tmp_path / "never_killed")), all_specs())
    assert whole.mode == "incremental" and whole.resolved > 0

    env = {**os.environ, "ENTERONCE_KILL_AFTER_COMMITS": str(commits)}
    killed = subprocess.run([sys.executable, "-c", _KILLED_UPDATE, str(tmp_path / "wh")], env=env, cwd=os.getcwd(), capture_output=True, text=True)
    assert killed.returncode == 137, killed.stderr[-2000:]
    wh = Warehouse(str(tmp_path / "wh"))
    redo = update_person_master(wh, all_specs())
    assert redo.mode == "incremental" and redo.resolved == whole.resolved
    expected = Warehouse(str(tmp_path / "never_killed"))
    for table, key in ((PERSON_LINKS, "record_id"), (PERSON_RECORDS, "record_id"), (GOLDEN, "person_id"), (HOUSEHOLDS, "household_key")):
        got, want = wh.read(*table).sort(key), expected.read(*table).sort(key)
        assert got.equals(want), table


def test_a_table_built_from_person_links_follows_its_known_records_that_moved(next_day_lake, tmp_path):
    """An update moves a known record to another person when the records delivered beside it
    resolve it there (as a full resolve would). A curated table keyed by person and built from
    that record's system is then rebuilt, though no batch of its own system is new.

    Set-up: a retiree's 企退 record is linked to a person of its own, and the retirees table
    published from that link (as after an earlier, poorer resolve); the 公安 register row of the
    same resident is then delivered again."""
    from pipelines.gold import BUILDERS
    from warehouse.publish import diff_by_key
    from warehouse.registry import GOLD_BY_NAME

    base, *_ = next_day_lake
    shutil.copytree(base / "wh", tmp_path / "wh")
    shutil.copytree(base / "landing", tmp_path / "landing")
    wh = Warehouse(str(tmp_path / "wh"))
    links = wh.read(*PERSON_LINKS)
    retirees = wh.read("gold", "curated", "retirees")
    golden = wh.read(*GOLDEN).filter(pl.col("id_number").str.len_chars() == 18)
    # a retiree whose person also has a 公安 record and an 18-digit ID
    shared = links.filter(pl.col("source") == "gongan").select("person_id").join(retirees.select("person_id"), on="person_id").join(golden.select("person_id"), on="person_id")
    person = shared.sort("person_id")["person_id"][0]
    record = links.filter((pl.col("source") == "qitui") & (pl.col("person_id") == person))["record_id"][0]
    apart = "P-APART-0001"
    wh.write(links.with_columns(pl.when(pl.col("record_id") == record).then(pl.lit(apart)).otherwise(pl.col("person_id")).alias("person_id")), *PERSON_LINKS, mode="overwrite")
    wh.write(retirees.with_columns(pl.when(pl.col("person_id") == person).then(pl.lit(apart)).otherwise(pl.col("person_id")).alias("person_id")),
             "gold", "curated", "retirees", mode="overwrite")
    id_number = golden.filter(pl.col("person_id") == person)["id_number"][0]
    again = read_register(tmp_path / "landing").filter(pl.col("公民身份号码") == id_number)
    assert again.height == 1
    (tmp_path / "landing" / "gongan" / "gongan_hjrk_20991230_补录.csv").write_bytes(again.write_csv().encode("gbk"))

    assert materialize_all(tmp_path / "landing", tmp_path / "wh", tmp_path).success
    assert wh.read(*PERSON_LINKS).filter(pl.col("record_id") == record)["person_id"][0] == person  # moved back
    published = wh.read("gold", "curated", "retirees")
    assert apart not in published["person_id"].to_list()
    fresh = BUILDERS["retirees"](wh)
    _, counts = diff_by_key(published.select(fresh.columns), fresh, GOLD_BY_NAME["retirees"].keys)
    assert counts.total == 0, counts
