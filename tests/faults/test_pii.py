"""No ID number, phone or name in logs, event logs, tracebacks or alerts; an owner-only lake."""

from __future__ import annotations

import logging
import shutil
import stat
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml

from pipelines.ingest import QUARANTINE_TABLE
from pipelines.notify import notification
from pipelines.pii import ScrubbedError, install, scrub, scrubbed_errors
from tests.helpers import materialize_all
from warehouse.storage import Warehouse

ID, PHONE, NAME = "330102198807154312", "13857146620", "欧阳子墨"


def test_scrub_masks_ids_phones_and_quoted_values_but_not_column_names():
    text = f"invalid id_number: '{ID}'; phone {PHONE}; name '{NAME}' in column '联系电话' of 公安 户籍"
    cleaned = scrub(text)
    assert ID not in cleaned and PHONE not in cleaned and NAME not in cleaned
    assert "'联系电话'" in cleaned and "公安 户籍" in cleaned and "330" in cleaned  # still says what and where
    assert NAME not in scrub(f"could not parse line 5: {NAME},{ID}", strict=True)
    assert "姓名" in scrub("duplicate column 姓名", strict=True)


def test_every_log_record_is_scrubbed_as_it_is_made(caplog):
    install()
    with caplog.at_level(logging.INFO):
        logging.getLogger("pipelines.somewhere.deep").info("row of %s with %s", NAME and f"'{NAME}'", ID)
        try:
            raise ValueError(f"bad phone {PHONE}")
        except ValueError:
            logging.getLogger("enteronce").exception("failed")
    text = caplog.text
    assert caplog.records and ID not in text and PHONE not in text and NAME not in text
    assert "bad phone 138" in text  # the traceback is kept, scrubbed


def test_alert_texts_are_scrubbed():
    payload = notification("gate_failure", f"闸门 {ID}", f"value '{NAME}' phone {PHONE}")
    assert all(v not in str(payload) for v in (ID, PHONE, NAME))


def test_an_exception_leaving_an_asset_reaches_the_event_log_scrubbed(tmp_path):
    @dg.asset
    @scrubbed_errors
    def fails() -> None:
        raise ValueError(f"cannot parse row: {NAME},{ID},{PHONE}")

    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        result = dg.materialize([fails], instance=instance, raise_on_error=False)
        assert not result.success
        failure = result.get_step_failure_events()[0].step_failure_data.error.cause
        assert failure.cls_name == ScrubbedError.__name__ and "ValueError: cannot parse row" in failure.message
    _assert_absent(tmp_path / "dagster", [ID, PHONE, NAME])


def _planted_district(district: Path, landing: Path) -> list[str]:
    """The demo district with faults planted in one resident's rows: a birth date in 2099, the
    same values in a file with a duplicated header and in an unterminated quote. Returns the
    planted values."""
    shutil.copytree(district / "landing", landing)
    source = sorted((landing / "gongan").glob("*.csv"))[0]
    header, *rows = source.read_bytes().decode("gb18030").splitlines()
    names = header.split(",")
    cells = rows[0].split(",")
    cells[names.index("姓名")], cells[names.index("公民身份号码")], cells[names.index("联系电话")] = NAME, ID, PHONE
    cells[names.index("出生日期")] = "20990101"
    planted = ",".join(cells)
    (landing / "gongan" / "gongan_fault_a.csv").write_bytes(f"{header}\n{planted}\n\"{planted}\n{rows[1]}\n".encode("gbk"))
    (landing / "gongan" / "gongan_fault_b.csv").write_bytes(f"{header},姓名\n{planted},{NAME}\n".encode("gbk"))
    return [ID, PHONE, NAME]


def _assert_absent(folder: Path, values: list[str]) -> None:
    """No planted value in any file below ``folder``: as UTF-8, as JSON \\u escapes, as GBK."""
    import json

    forms = {v: [v.encode(), json.dumps(v).strip('"').encode(), v.encode("gbk")] for v in values}
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{v} in {path}" for v, encodings in forms.items() for e in encodings if e in data]
    assert not found, found


def test_a_run_with_faults_leaves_no_personal_data_in_dagster_storage_or_output(district, tmp_path, capfd):
    landing, root = tmp_path / "landing", tmp_path / "wh"
    planted = _planted_district(district, landing)
    (tmp_path / "dagster").mkdir()
    logs = yaml.safe_load((Path(__file__).parents[2] / "dagster.yaml").read_text())["python_logs"]  # the instance's own setting
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster"), overrides={"python_logs": logs}) as instance:
        result = materialize_all(landing, root, tmp_path, instance, raise_on_error=False)
        checks = {(e.asset_key.path[-2], e.check_name): e.passed for e in result.get_asset_check_evaluations()}
        assert checks[("gongan", "files_readable")] is False  # the duplicated header was rejected …
    wh = Warehouse(str(root))
    quarantine = wh.read("quarantine", "gongan", QUARANTINE_TABLE)
    assert quarantine.filter(pl.col("reason").str.contains(ID) | pl.col("raw_values").cast(pl.String).str.contains(ID)).height  # … the rows were kept, in the lake
    _assert_absent(tmp_path / "dagster", planted)
    _assert_absent(tmp_path / "reports", planted)
    out, err = capfd.readouterr()
    assert not [v for v in planted if v in out or v in err]


def test_the_lake_is_owner_only(tmp_path, monkeypatch):
    monkeypatch.delenv("ENTERONCE_LAKE_SHARED", raising=False)
    wh = Warehouse(str(tmp_path / "lake"))
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake").chmod(0o755)  # as a default umask would make it
    wh.write(pl.DataFrame({"id_number": [ID]}), "gold", "curated", "t")
    assert stat.S_IMODE((tmp_path / "lake").stat().st_mode) == 0o700
    files = [p for p in (tmp_path / "lake").rglob("*")]
    assert files and all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in files), [(p, oct(p.stat().st_mode)) for p in files]


@pytest.mark.parametrize("shared", ["1"])
def test_a_shared_lake_is_a_choice(tmp_path, monkeypatch, shared):
    monkeypatch.setenv("ENTERONCE_LAKE_SHARED", shared)
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake").chmod(0o755)  # as a default umask would make it
    Warehouse(str(tmp_path / "lake")).write(pl.DataFrame({"a": [1]}), "gold", "curated", "t")
    assert stat.S_IMODE((tmp_path / "lake").stat().st_mode) == 0o755
