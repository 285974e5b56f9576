"""Benchmark: person resolution of ~1,000,000 records from the person-bearing systems,
our resolver and Splink (DuckDB backend) side by side on the same records.

1. prepare — generate a district (``--persons``), ingest the seven person-bearing systems
   (公安, 民政, 残联, 老龄, 人社, 企退, 卫健: mother and baby) bronze → silver with the pipeline functions, link
   their addresses to the address base, collect the person records exactly as the
   ``person_master`` asset does, and attach the ground-truth person of each record.
2. ours — a child process reads the records and runs ``resolve_persons``: wall time and peak
   RSS (``os.wait4``) are the resolver's alone.
3. splink — a child process gives Splink the same records with the same standardisation
   (``prepare_records``: ID upgraded and validated, name key, pinyin key, birth date, sex, room,
   building), sensible blocking rules and comparisons, trains it (u by random sampling, λ from
   deterministic ID rule, m by EM), predicts and clusters at 0.95.
4. both clusterings are scored pairwise against truth (precision, recall, F1).

    .venv/bin/pip install -e '.[bench]'      # splink, duckdb
    .venv/bin/python benchmarks/bench_persons.py --persons 475000

5. the same records through the CLI contract, ``enteronce persons resolve FILE.csv``, in its own
   process: wall time (reading the CSV, place keys from the address text, resolving, writing),
   peak RSS, and the same pairwise scores.
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

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PERSON_SYSTEMS = ["gongan", "minzheng", "canlian", "laoling", "renshe", "qitui", "jisheng"]


def prepare(args: argparse.Namespace) -> dict:
    from address_master.base import load_base
    from address_master.links import collect_addresses, link_addresses
    from address_master.person_records import collect_person_records
    from address_master.store import LAYER, LINKS
    from pipelines.demo.generate import generate
    from pipelines.ingest import build_silver, ingest_bronze
    from pipelines.sources import all_specs
    from warehouse.storage import Warehouse

    t = time.perf_counter()
    generate(args.out, district=args.district, persons=args.persons, seed=args.seed, power_days=1, progress=False)
    specs = {s: all_specs()[s] for s in PERSON_SYSTEMS}
    wh = Warehouse(str(args.out / "warehouse"))
    for spec in specs.values():
        ingest_bronze(spec, args.out / "landing", wh)
        build_silver(spec, wh)
    base, _, _ = load_base(args.out / "landing" / "address_base" / "address_base.csv")
    addresses = collect_addresses(wh, list(specs.values()))
    links, _ = link_addresses(addresses, base, pl.DataFrame(schema={"address_key": pl.String, "address_id": pl.String}))
    wh.write(links, LAYER, *LINKS, mode="overwrite")
    records = collect_person_records(wh, specs)
    files = pl.concat([wh.read("bronze", s, "_files").select("batch_id", "file_name") for s in PERSON_SYSTEMS]).unique("batch_id")
    truth = pl.read_parquet(args.out / "truth" / "records.parquet").select(
        pl.col("system").alias("source"), pl.col("file").alias("file_name"), "source_row", pl.col("person_id").alias("true_id"), "child_person_id"
    )
    records = records.join(files, on="batch_id").join(truth, on=["source", "file_name", "source_row"], how="left")
    records = records.with_columns(
        pl.when(pl.col("role") == "child").then(pl.col("child_person_id")).otherwise(pl.col("true_id")).alias("true_id")
    ).drop("child_person_id")
    records.write_parquet(args.out / "person_records.parquet")
    return {"records": records.height, "true_persons": records["true_id"].n_unique(), "prepare_seconds": round(time.perf_counter() - t, 1)}


def run_ours(args: argparse.Namespace) -> dict:
    from address_master.persons import resolve_persons

    records = pl.read_parquet(args.out / "person_records.parquet")
    t = time.perf_counter()
    out = resolve_persons(records.drop("true_id"))
    seconds = time.perf_counter() - t
    out.select("record_id", "person_id").write_parquet(args.out / "ours.parquet")
    return {"resolve_seconds": round(seconds, 2), "rules": dict(out.group_by("rule").len().iter_rows())}


def run_cli(args: argparse.Namespace) -> dict:
    """The stable contract end to end: ``enteronce persons resolve FILE.csv`` in its own process
    (room and building keys come from the address text there, there is no base)."""
    records = pl.read_parquet(args.out / "person_records.parquet")
    csv = args.out / "person_records.csv"
    records.select("record_id", "source", "name", "id_number", pl.col("birth_date").cast(pl.String), "sex", pl.col("address_text").alias("address")).write_csv(csv)
    started = time.perf_counter()
    with open(args.out / "cli.csv", "wb") as out:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "enteronce"), "persons", "resolve", str(csv)], stdout=out, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        return {"error": f"enteronce persons resolve failed (status {status})"}
    pl.read_csv(args.out / "cli.csv", infer_schema=False).write_parquet(args.out / "cli.parquet")
    return {"records": records.height, "wall_seconds": round(time.perf_counter() - started, 1), "peak_rss_gib": round(usage.ru_maxrss / 1024**2, 2)}


def run_splink(args: argparse.Namespace) -> dict:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from address_master.persons import prepare_records

    records = pl.read_parquet(args.out / "person_records.parquet")
    t = time.perf_counter()
    rec = prepare_records(records.drop("true_id")).select(
        "record_id",
        pl.when(pl.col("id_valid")).then(pl.col("id18")).alias("id18"),
        "id17", "name_key", "pinyin_key", "birth", "sex_norm", "room_key", "building_key",
    )
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        blocking_rules_to_generate_predictions=[
            block_on("id18"),
            block_on("id17"),
            block_on("name_key", "birth"),
            block_on("pinyin_key", "birth"),
            block_on("name_key", "room_key"),
            block_on("birth", "room_key"),
        ],
        comparisons=[
            cl.ExactMatch("id18"),
            cl.ExactMatch("id17"),
            cl.JaroWinklerAtThresholds("name_key", [0.9, 0.75]),
            cl.ExactMatch("pinyin_key"),
            cl.DateOfBirthComparison("birth", input_is_string=False),
            cl.ExactMatch("sex_norm"),
            cl.ExactMatch("room_key"),
            cl.ExactMatch("building_key"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    db = DuckDBAPI()
    linker = Linker(db.register(rec.to_arrow()), settings)
    linker.training.estimate_probability_two_random_records_match([block_on("id18")], recall=0.95)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name_key", "birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("room_key"))
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.95)
    out = pl.from_arrow(clusters.as_duckdbpyrelation().select("record_id, cluster_id").arrow())
    seconds = time.perf_counter() - t
    out.write_parquet(args.out / "splink.parquet")
    return {"resolve_seconds": round(seconds, 2)}


def child(args: argparse.Namespace, phase: str) -> dict:
    cmd = [sys.executable, __file__, "--phase", phase, "--persons", str(args.persons), "--seed", str(args.seed), "--out", str(args.out)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=ROOT)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        return {"error": f"phase {phase} failed (status {status})"}
    result = json.loads(out.decode().strip().splitlines()[-1])
    result.update(wall_seconds=round(time.perf_counter() - started, 1), peak_rss_gib=round(usage.ru_maxrss / 1024**2, 2))
    return result


def score(args: argparse.Namespace, name: str, cluster_col: str) -> dict:
    from address_master.persons import pairwise_scores

    truth = pl.read_parquet(args.out / "person_records.parquet", columns=["record_id", "true_id"])
    pred = pl.read_parquet(args.out / f"{name}.parquet")
    joined = truth.join(pred, on="record_id", how="left").with_columns(pl.coalesce(pl.col(cluster_col).cast(pl.String), pl.col("record_id")).alias("_c"))
    s = pairwise_scores(joined["_c"], joined["true_id"])
    return {k: round(v, 5) for k, v in s.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=475_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--district", default="330102", help="6-digit Zhejiang district code of the generated district")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_out" / "persons")
    parser.add_argument("--phase", choices=["ours", "splink"])
    parser.add_argument("--skip-splink", action="store_true")
    parser.add_argument("--skip-prepare", action="store_true", help="reuse OUT/person_records.parquet")
    args = parser.parse_args()
    args.out = args.out.absolute()
    if args.phase:
        print(json.dumps({"ours": run_ours, "splink": run_splink}[args.phase](args)))
        return
    result = {"prepare": {"reused": str(args.out / "person_records.parquet")} if args.skip_prepare else prepare(args)}
    print(json.dumps(result["prepare"]), flush=True)
    result["ours"] = child(args, "ours")
    result["ours"].update(score(args, "ours", "person_id"))
    print(json.dumps(result["ours"]), flush=True)
    result["cli"] = run_cli(args)
    if "error" not in result["cli"]:
        result["cli"].update(score(args, "cli", "person_id"))
    print(json.dumps(result["cli"]), flush=True)
    if not args.skip_splink:
        result["splink"] = child(args, "splink")
        if "error" not in result["splink"]:
            result["splink"].update(score(args, "splink", "cluster_id"))
        print(json.dumps(result["splink"]), flush=True)
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1024**3:.0f} GiB, Python {platform.python_version()}"
    (args.out / "results.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
