"""The demo generator: real divisions, valid identities, native formats, deterministic output."""

from __future__ import annotations

import hashlib

import polars as pl

from pipelines.demo.generate import generate
from pipelines.ids import credit_valid_expr, id_sex_expr, id_valid_expr, id_birth_date_expr
from pipelines.reference import divisions
from pipelines.sources import all_specs
from pipelines.sources.readers import read_source_file


def _digest(folder):
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_deterministic_per_seed(tmp_path):
    a = generate(tmp_path / "a", persons=400, seed=3, power_days=2, progress=False)
    b = generate(tmp_path / "b", persons=400, seed=3, power_days=2, progress=False)
    generate(tmp_path / "c", persons=400, seed=4, power_days=2, progress=False)
    assert _digest(tmp_path / "a" / "landing") == _digest(tmp_path / "b" / "landing")
    assert _digest(tmp_path / "a" / "landing") != _digest(tmp_path / "c" / "landing")
    assert a.records == b.records


def test_persons_have_valid_ids_matching_sex_and_birth(district):
    persons = pl.read_parquet(district / "truth" / "persons.parquet")
    checked = persons.select(
        id_valid_expr(pl.col("id_number")).alias("valid"),
        (id_sex_expr(pl.col("id_number")) == pl.col("sex")).alias("sex_ok"),
        (id_birth_date_expr(pl.col("id_number")) == pl.col("birth_date")).alias("birth_ok"),
    )
    assert checked["valid"].all() and checked["sex_ok"].all() and checked["birth_ok"].all()
    assert persons["id_number"].n_unique() == persons.height
    assert persons["person_id"].n_unique() == persons.height
    # a realistic age pyramid: children, working age and elderly all present
    ages = persons["age"]
    assert (ages < 15).mean() > 0.05 and (ages >= 60).mean() > 0.15 and (ages >= 80).sum() > 0


def test_addresses_use_real_divisions(district):
    base = pl.read_parquet(district / "truth" / "addresses.parquet")
    real = divisions().filter(pl.col("level") == 5).select("code", "name")
    joined = base.join(real, left_on="community_code", right_on="code", how="left")
    assert joined["name"].null_count() == 0
    assert (joined["name"] == joined["community_name"]).all()
    assert base["address_id"].n_unique() == base.height
    assert base["community_code"].str.starts_with("330102").all()
    csv = pl.read_csv(district / "landing" / "address_base" / "address_base.csv", infer_schema=False)
    assert csv.columns[:8] == ["address_id", "division_code", "road", "road_no", "compound", "building", "unit", "room"]
    assert csv.height == base.height


def test_businesses_have_valid_credit_codes(district):
    b = pl.read_parquet(district / "truth" / "businesses.parquet")
    assert b.select(credit_valid_expr(pl.col("credit_code")).alias("ok"))["ok"].all()
    assert b["credit_code"].n_unique() == b.height


def test_every_system_delivers_in_its_native_format(district):
    expected_ext = {"csv", "xlsx", "jsonl", "json", "xml", "parquet"}
    seen = set()
    for spec in all_specs().values():
        if spec.on_demand:  # corrections come from the nodes' inboxes, not from the generator
            continue
        files = sorted((district / "landing" / spec.system).glob(spec.file_glob))
        assert files, f"{spec.system} delivered nothing"
        seen.add(spec.format.kind)
        for path in files:
            frame = read_source_file(path, spec.format)
            assert frame.height > 0
    assert seen == expected_ext
    gongan = next((district / "landing" / "gongan").glob("*.csv")).read_bytes()
    assert gongan.decode("gb18030").startswith("户号")  # GBK
    canlian = next((district / "landing" / "canlian").glob("*.csv")).read_bytes()
    assert canlian.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM


def test_truth_covers_every_delivered_row(district):
    truth = pl.read_parquet(district / "truth" / "records.parquet")
    for spec in all_specs().values():
        if spec.system == "dianli":
            continue
        for path in (district / "landing" / spec.system).glob(spec.file_glob):
            frame = read_source_file(path, spec.format)
            rows = truth.filter((pl.col("system") == spec.system) & (pl.col("file") == path.name))
            assert sorted(frame["_source_row"].to_list()) == sorted(rows["source_row"].to_list()), path.name


def test_noise_is_present(district):
    """The exports carry the messiness the pipelines must handle."""
    text = "".join(
        p.read_bytes().decode("gb18030") for p in (district / "landing" / "gongan").glob("*.csv")
    ) + "".join(p.read_text(encoding="utf-8") for p in (district / "landing" / "renshe").glob("*.jsonl"))
    qitui = next((district / "landing" / "qitui").glob("*.csv")).read_bytes().decode("gb18030")
    assert "江干区" in text  # legacy district name
    assert "单元" in text and "-" in text  # both long form and 3-2-301 shorthand
    assert any(ch in text for ch in "區號園單")  # traditional characters
    assert any("\uff10" <= ch <= "\uff19" for ch in text)  # full-width digits
    assert any(len(line.split(",")[1]) == 15 for line in qitui.splitlines()[1:])  # 15-digit IDs
    assert "年" in next((district / "landing" / "jisheng").glob("*.csv")).read_text(encoding="utf-8")


def test_next_days_of_power_stay_inside_the_first_deliverys_range(tmp_path):
    """Many next days in a row (a long-lived demo lake) never drift past the first delivery's
    largest reading, so the 0–500 kWh rule keeps passing."""
    from datetime import date, timedelta

    import numpy as np

    from pipelines.demo.nextday import _next_power_day

    folder = tmp_path / "landing" / "dianli"
    folder.mkdir(parents=True)
    first = pl.DataFrame({"cons_no": [f"A{i:04d}" for i in range(400)], "data_date": [date(2026, 1, 1)] * 400,
                          "pap_e": np.linspace(0.0, 60.0, 400)})
    first.write_parquet(folder / "dianli_rydl_20260101.parquet")
    rng = np.random.default_rng(1)
    for d in range(1, 61):
        path, rows = _next_power_day(tmp_path / "landing", date(2026, 1, 1) + timedelta(days=d), rng)
        assert rows == 400
    readings = pl.read_parquet(path)
    assert readings["pap_e"].max() <= 60.0
    assert readings["pap_e"].min() >= 0.0 and readings["pap_e"].n_unique() > 100
