"""200 randomly corrupted deliveries (seeded): every file is either fully accounted for
(received = loaded + quarantined, counted from the file) or rejected whole with a reason.
Nothing crashes the batch, nothing is lost."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines.ingest import FILES_TABLE, REJECTED, build_silver, ingest_bronze
from pipelines.sources import get_spec
from quality.conservation import row_conservation

FILES = 200
SEED = 20261202
SYSTEMS = ["gongan", "canlian", "qitui", "renshe", "zongzhi", "shichang", "qixiang", "minzheng", "dianli"]
TEXT_LINES = 40  # text deliveries are cut to their first lines: corruption, not volume, is the point


def _sample(district: Path, system: str) -> bytes:
    spec = get_spec(system)
    data = sorted((district / "landing" / system).glob(spec.file_glob))[0].read_bytes()
    if spec.format.kind in {"csv", "jsonl"}:
        return b"\n".join(data.split(b"\n")[: TEXT_LINES + 1]) + b"\n"
    return data


def _pick(rng: np.random.Generator, options: list):
    return options[int(rng.integers(0, len(options)))]


def _truncate(data: bytes, rng: np.random.Generator) -> bytes:
    return data[: int(rng.integers(1, len(data)))]


def _flip(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for i in rng.integers(0, len(out), int(rng.integers(1, 8))):
        out[i] ^= int(rng.integers(1, 256))
    return bytes(out)


def _quotes(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for i in sorted(rng.integers(0, len(out), int(rng.integers(1, 4))), reverse=True):
        out[i:i] = _pick(rng, [b'"', b"'", b"\\", b'""'])
    return bytes(out)


def _unquote(data: bytes, rng: np.random.Generator) -> bytes:
    quotes = [m.start() for m in re.finditer(rb'"', data)]
    if not quotes:
        return _quotes(data, rng)
    i = _pick(rng, quotes)
    return data[:i] + data[i + 1:]


def _swap_encoding(data: bytes, rng: np.random.Generator) -> bytes:
    for source, target in (("utf-8", "gb18030"), ("gb18030", "utf-8")):
        try:
            return data.decode(source).encode(target)
        except (UnicodeDecodeError, UnicodeEncodeError):
            continue
    return _flip(data, rng)


def _header(data: bytes, rng: np.random.Generator) -> bytes:
    first, _, rest = data.partition(b"\n")
    fields = first.split(b",")
    how = int(rng.integers(0, 4))
    if how == 0 and len(fields) > 1:
        fields.append(fields[int(rng.integers(0, len(fields)))])  # a duplicated column
    elif how == 1 and len(fields) > 1:
        fields.pop(int(rng.integers(0, len(fields))))  # a column gone from the header only
    elif how == 2:
        return rest  # no header line at all
    else:
        fields[int(rng.integers(0, len(fields)))] = "改名".encode()  # a renamed column
    return b",".join(fields) + b"\n" + rest


def _nested(data: bytes, rng: np.random.Generator) -> bytes:
    values = [m.span(1) for m in re.finditer(rb':\s*("[^"\\]*")', data)]
    if not values:
        return _flip(data, rng)
    start, end = values[int(rng.integers(0, len(values)))]
    return data[:start] + _pick(rng, [b'{"a": {"b": 1}}', b"[1, 2]", b"null", b"12345678901234567890"]) + data[end:]


def _lines(data: bytes, rng: np.random.Generator) -> bytes:
    lines = data.split(b"\n")
    i = int(rng.integers(1, max(2, len(lines))))
    return b"\n".join(lines[:i] + _pick(rng, [[b""], [b"\r"], [lines[i - 1] + b",extra,cells"], [b"\x00\x00"]]) + lines[i:])


TEXT_DAMAGE = [_truncate, _flip, _quotes, _unquote, _swap_encoding, _header, _lines]
DAMAGE = {"csv": TEXT_DAMAGE, "jsonl": [*TEXT_DAMAGE, _nested], "json": [_truncate, _flip, _quotes, _unquote, _swap_encoding, _nested],
          "xml": [_truncate, _flip, _quotes, _swap_encoding], "xlsx": [_truncate, _flip], "parquet": [_truncate, _flip]}


def _deliver_corrupted(district: Path, landing: Path) -> Counter:
    rng = np.random.default_rng(SEED)
    samples = {s: _sample(district, s) for s in SYSTEMS}
    made: Counter = Counter()
    for i in range(FILES):
        system = SYSTEMS[i % len(SYSTEMS)]
        spec = get_spec(system)
        damage = DAMAGE[spec.format.kind][int(rng.integers(0, len(DAMAGE[spec.format.kind])))]
        data = damage(samples[system], rng) or b" "
        folder = landing / system
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"fuzz_{i:03d}_{damage.__name__.strip('_')}{spec.file_glob.lstrip('*')}").write_bytes(data)
        made[damage.__name__] += 1
    return made


@pytest.mark.parametrize("seed", [SEED])
def test_200_corrupted_files_are_each_accounted_for_or_rejected(district, tmp_path, seed):
    from warehouse.storage import Warehouse

    landing, wh = tmp_path / "landing", Warehouse(str(tmp_path / "wh"))
    made = _deliver_corrupted(district, landing)
    assert sum(made.values()) == FILES and len(made) >= 7, made
    outcome = Counter()
    for system in SYSTEMS:
        spec = get_spec(system)
        delivered = sorted(p.name for p in (landing / system).iterdir())
        ingest_bronze(spec, landing, wh)  # must not raise: a bad file is isolated, never a crash
        build_silver(spec, wh)
        files = wh.read("bronze", system, FILES_TABLE)
        assert sorted(files["file_name"].to_list()) == delivered, f"{system}: every delivered file has exactly one decision"
        rejected = files.filter(pl.col("status") == "rejected")
        assert rejected["message"].str.len_chars().min() or rejected.height == 0, "a rejection always says why"
        if rejected.height:
            table = wh.read(*REJECTED).filter(pl.col("system") == system)
            assert sorted(table["file_name"].to_list()) == sorted(rejected["file_name"].to_list())
            assert all((landing / "_rejected" / system / n).exists() for n in rejected["file_name"])
        ingested = files.filter(pl.col("status") == "ingested")
        assert ingested["received"].null_count() == 0, "received is counted from every file taken in"
        counts = row_conservation(spec, wh)
        assert counts["balanced"].all(), counts.filter(~pl.col("balanced"))
        assert counts.height == ingested["batch_id"].n_unique()
        outcome.update(files["status"].to_list())
        outcome["received"] += int(ingested["received"].sum())  # records (physical lines) counted from the files
        outcome["read"] += int(counts["bronze_lines"].sum())  # lines the rows taken in span
        outcome["rows"] += int(counts["bronze_rows"].sum())
        outcome["loaded"] += int(counts["silver_rows"].sum())
        outcome["quarantined"] += int(counts["quarantined_rows"].sum())
    assert outcome["received"] == outcome["read"] and outcome["rows"] == outcome["loaded"] + outcome["quarantined"]  # lost = 0
    assert outcome["ingested"] and outcome["rejected"] and outcome["quarantined"], outcome  # the fuzzer reaches every outcome
    print(dict(outcome), dict(made))


def test_the_fuzzer_is_seeded(district, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _deliver_corrupted(district, a)
    _deliver_corrupted(district, b)
    for path in a.rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (b / path.relative_to(a)).read_bytes()
    shutil.rmtree(a)
    shutil.rmtree(b)
