"""Benchmark: parse + match of 1,000,000 addresses against a base of ≥ 300,000, end to end.

1. Builds a synthetic district (``--persons`` residents → its unified address base) and renders
   ``--addresses`` noisy address texts from random base rows (default noise), keeping truth.
2. Runs the stable CLI exactly as an external caller would —
   ``enteronce address match --base base.csv < addresses.txt > links.jsonl`` — in a child
   process: wall time, addresses/s and peak RSS (``os.wait4``) cover reading, parsing,
   matching and writing JSON.
3. Scores the output against truth: precision (accepted links that are right) and recall
   (inputs linked to the right address).
4. Runs a naive baseline — rapidfuzz ``process.extractOne`` of each normalised text against
   every base address's standard text — on a sample, and the same sample through the matcher.

    .venv/bin/python benchmarks/bench_address.py --persons 1000000 --addresses 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from address_master.base import load_base  # noqa: E402
from address_master.match import match_addresses  # noqa: E402
from address_master.parse import normalize_address  # noqa: E402
from pipelines.demo.noise import render_addresses  # noqa: E402
from pipelines.demo.population import build_population  # noqa: E402
from pipelines.demo.generate import BASE_COLUMNS  # noqa: E402


def hard_cases(addresses: pl.DataFrame, base: pl.DataFrame, rng: np.random.Generator, n: int) -> dict:
    """Texts written cleanly but for one hard fault — the unit left out (``3幢301室``), or one digit
    of the room mistyped — matched in-process: share answered at address and at building level,
    and how many of those answers are right (a mistyped room that is another real room is that
    room as written, so room-typo precision is counted at building level only)."""
    rows = addresses.filter(pl.col("unit").is_not_null() & pl.col("room").is_not_null() & pl.col("road").is_not_null())
    rows = rows[rng.integers(0, rows.height, n)].drop("building_id", strict=False)
    # the base's own building ids (its natural key when the file carries none)
    rows = rows.join(base.select("address_id", "building_id"), on="address_id", how="left", maintain_order="left")
    room = pl.col("room").cast(pl.String)
    at = pl.Series(rng.random(n)) * room.str.len_chars().cast(pl.Float64)
    digit = pl.Series(rng.integers(1, 10, n))
    position = at.floor().cast(pl.Int64)
    typo = (pl.concat_str([room.str.slice(0, position), ((room.str.slice(position, 1).cast(pl.Int64, strict=False).fill_null(0) + digit) % 10).cast(pl.String),
                           room.str.slice(position + 1)]))
    head = pl.concat_str([pl.col("road"), pl.col("road_no").cast(pl.String), pl.lit("号"), pl.col("compound").fill_null(""), pl.col("building").cast(pl.String), pl.lit("幢")])
    cases = {
        "unit_left_out": rows.select(pl.concat_str([head, room, pl.lit("室")]).alias("t"))["t"],
        "room_mistyped": rows.select(pl.concat_str([head, pl.col("unit").cast(pl.String), pl.lit("单元"), typo, pl.lit("室")]).alias("t"))["t"],
    }
    out = {}
    for name, texts in cases.items():
        got = match_addresses(texts, base).with_columns(rows["address_id"].alias("true_id"), rows["building_id"].alias("true_building"))
        addressed = got.filter(pl.col("level") == "address")
        buildings = got.filter(pl.col("building_id").is_not_null())
        out[name] = {
            "texts": n,
            "answered_address": round(addressed.height / n, 4),
            "address_precision": round(float((addressed["address_id"] == addressed["true_id"]).mean()), 4) if addressed.height and name == "unit_left_out" else None,
            "answered_building": round(got.filter(pl.col("level") == "building").height / n, 4),
            "building_precision": round(float((buildings["building_id"] == buildings["true_building"]).mean()), 4) if buildings.height else None,
            "no_answer": round(got.filter(pl.col("level").is_null()).height / n, 4),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--addresses", type=int, default=1_000_000)
    parser.add_argument("--baseline-sample", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--district", default="330102", help="district code of the generated population (another one is held out)")
    parser.add_argument("--hard-sample", type=int, default=20_000, help="texts per hard case (unit left out, room mistyped)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_out" / "address")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    t = time.perf_counter()
    pop = build_population(args.seed, args.district, args.persons)
    base_csv = args.out / "base.csv"
    pop.addresses.select(pl.col("community_code").alias("division_code"), pl.exclude("community_code")).select(BASE_COLUMNS).write_csv(base_csv)
    rng = np.random.default_rng(args.seed + 1)
    sample = pop.addresses[rng.integers(0, pop.addresses.height, args.addresses)]
    texts = render_addresses(sample, rng, 1.0)
    input_txt = args.out / "addresses.txt"
    input_txt.write_text("\n".join(texts.to_list()) + "\n", encoding="utf-8")
    print(f"prepared base of {pop.addresses.height:,} addresses and {args.addresses:,} texts in {time.perf_counter() - t:.1f}s", flush=True)

    output = args.out / "links.jsonl"
    cli = [str(ROOT / ".venv" / "bin" / "enteronce"), "address", "match", "--base", str(base_csv)]
    started = time.perf_counter()
    with open(input_txt, "rb") as stdin, open(output, "wb") as stdout:
        proc = subprocess.Popen(cli, stdin=stdin, stdout=stdout, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"address match failed (status {status})")
    peak = usage.ru_maxrss / 1024**2

    links = pl.read_ndjson(output)
    assert links.height == args.addresses, "one output line per input line"
    scored = links.with_columns(sample["address_id"].alias("true_id"))
    accepted = scored.filter(pl.col("address_id").is_not_null())
    precision = float((accepted["address_id"] == accepted["true_id"]).mean())
    recall = float((scored["address_id"] == scored["true_id"]).fill_null(False).mean())
    methods = scored.group_by("method").len().sort("len", descending=True)

    # naive baseline on a sample: extractOne over every standard address text
    from rapidfuzz import fuzz, process

    n = min(args.baseline_sample, args.addresses)
    base_frame, _, _ = load_base(base_csv)
    choices = base_frame.select(normalize_address(pl.col("full_text")).alias("t"))["t"].to_list()
    queries = pl.DataFrame({"t": texts[:n]}).select(normalize_address(pl.col("t")).alias("t"))["t"].to_list()
    t = time.perf_counter()
    picks = [process.extractOne(q, choices, scorer=fuzz.ratio) for q in queries]
    naive_seconds = time.perf_counter() - t
    naive_ids = [base_frame["address_id"][p[2]] if p else None for p in picks]
    naive_right = float(np.mean([a == b for a, b in zip(naive_ids, sample["address_id"][:n].to_list())]))
    t = time.perf_counter()
    ours = match_addresses(texts[:n], base_frame)
    ours_seconds = time.perf_counter() - t
    ours_acc = ours.with_columns(sample["address_id"][:n].alias("true_id"))
    ours_right = float((ours_acc["address_id"] == ours_acc["true_id"]).fill_null(False).mean())

    # calibration: how often the best candidate is right, by score band (in-process, a sample)
    m = min(args.addresses, 200_000)
    calib = match_addresses(texts[:m], base_frame).with_columns(sample["address_id"][:m].alias("true_id"))
    bands = (
        calib.filter(pl.col("candidate_id").is_not_null())
        .with_columns(((pl.col("score") * 20).floor() / 20).round(2).alias("band"))  # 0.05-wide bands, by lower bound
        .group_by("band")
        .agg(pl.len().alias("n"), (pl.col("candidate_id") == pl.col("true_id")).mean().round(4).alias("best_candidate_right"), pl.col("decision").mode().first())
        .sort("band")
    )

    hard = hard_cases(pop.addresses, base_frame, np.random.default_rng(args.seed + 2), args.hard_sample)

    machine = f"{platform.machine()}, {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1024**3:.0f} GiB, Python {platform.python_version()}"
    result = {
        "base_addresses": pop.addresses.height,
        "addresses": args.addresses,
        "seconds": round(seconds, 1),
        "addresses_per_second": round(args.addresses / seconds),
        "peak_rss_gib": round(peak, 2),
        "precision": round(precision, 5),
        "recall": round(recall, 5),
        "methods": dict(zip(methods["method"].to_list(), methods["len"].to_list())),
        "baseline_sample": n,
        "naive_seconds": round(naive_seconds, 2),
        "naive_per_second": round(n / naive_seconds, 1),
        "naive_correct": round(naive_right, 4),
        "matcher_on_sample_correct": round(ours_right, 4),
        "matcher_on_sample_seconds": round(ours_seconds, 3),
        "calibration_sample": m,
        "calibration": bands.to_dicts(),
        "hard_cases": hard,
        "machine": machine,
    }
    (args.out / "results.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
