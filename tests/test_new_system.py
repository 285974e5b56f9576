"""A 14th source system is one folder: its spec (and, person-bearing, its persons) and nothing else."""

from __future__ import annotations

import shutil

import dagster as dg
import polars as pl

from pipelines.sources import ENV_SOURCE_DIRS, all_specs, feeders
from tests.helpers import resources_for
from warehouse.storage import Warehouse

SPEC = '''"""团委 志愿者 — youth league volunteers: CSV, UTF-8."""

from pipelines.sources.spec import CsvFormat, PersonRole, SourceSpec

SPEC = SourceSpec(
    system="tuanwei",
    label="团委 志愿者",
    table="volunteers",
    entity="person",
    format=CsvFormat(encoding="utf-8"),
    file_glob="*.csv",
    columns={"姓名": "name", "身份证号": "id_number", "住址": "address", "联系电话": "phone"},
    required=("name", "id_number"),
    cadence_days=30,
    persons=(PersonRole("person", "name", id_number="id_number"),),
    identity_rank=50,
    feeds=("persons",),
)
'''


def test_a_fourteenth_system_is_one_folder(district, tmp_path, monkeypatch):
    folder = tmp_path / "systems" / "tuanwei"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(SPEC, encoding="utf-8")
    landing = tmp_path / "landing"
    shutil.copytree(district / "landing", landing)
    register = pl.read_csv(next((landing / "gongan").glob("gongan_hjrk_20261101.csv")), encoding="gb18030", infer_schema=False)
    volunteers = register.filter(pl.col("公民身份号码").str.len_chars() == 18).head(25).select(
        pl.col("姓名"), pl.col("公民身份号码").alias("身份证号"), pl.col("现住址").alias("住址"), pl.col("联系电话")
    )
    (landing / "tuanwei").mkdir()
    volunteers.write_csv(landing / "tuanwei" / "tuanwei_zyz_202611.csv")

    monkeypatch.setenv(ENV_SOURCE_DIRS, str(tmp_path / "systems"))
    all_specs.cache_clear()
    try:
        from assets.definitions import all_assets

        assert "tuanwei" in all_specs() and "tuanwei" in feeders("persons")
        result = dg.materialize(all_assets(), resources=resources_for(landing, tmp_path / "wh", tmp_path), raise_on_error=False)
        assert result.success, [e.description for e in result.get_asset_check_evaluations() if not e.passed]
    finally:
        monkeypatch.delenv(ENV_SOURCE_DIRS)
        all_specs.cache_clear()
    wh = Warehouse(str(tmp_path / "wh"))
    assert wh.read("silver", "tuanwei", "volunteers").height == volunteers.height  # reached silver
    links = wh.read("person", "links", "person_links")
    theirs = links.filter(pl.col("source") == "tuanwei")
    assert theirs.height == volunteers.height  # reached the person master
    # each volunteer is the same person the police register knows under that ID
    register_persons = links.filter(pl.col("source") == "gongan").join(
        wh.read("silver", "gongan", "household_register").select("batch_id", "source_row", "id_number"), on=["batch_id", "source_row"]
    ).select("id_number", "person_id").unique()
    mine = theirs.join(wh.read("silver", "tuanwei", "volunteers").select("batch_id", "source_row", "id_number"), on=["batch_id", "source_row"])
    paired = mine.join(register_persons, on="id_number", suffix="_register")
    assert paired.height == volunteers.height and (paired["person_id"] == paired["person_id_register"]).all()
    persons = wh.read("gold", "curated", "persons").filter(pl.col("person_id").is_in(theirs["person_id"].implode()))
    assert persons["systems"].str.contains("tuanwei").all()
