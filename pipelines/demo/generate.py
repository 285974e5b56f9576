"""``enteronce demo generate``: a synthetic district with 13 departmental exports and ground truth.

Layout of the output folder::

    landing/<system>/…        the exports, in each system's native format (pipelines read these)
    landing/address_base/     the district's unified address base in the import format (CSV)
    truth/                    ground truth (pipelines never read it; tests and benchmarks do)
        persons.parquet, businesses.parquet, addresses.parquet,
        records.parquet       one row per delivered record: file, source_row → ids, expect
        dianli_accounts.parquet, dianli_missing.parquet
        alerts_planted.parquet  cases the proactive alert rules must find (rule_id; key: ID number,
                                credit code or warning id; the action expected where the rule decides one)
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from tqdm import tqdm

from pipelines.demo.kit import ExportContext
from pipelines.demo.population import build_population, plant_alert_cases
from pipelines.sources import demo_exports

BASE_COLUMNS = ["address_id", "division_code", "road", "road_no", "compound", "building", "unit", "room", "full_text"]


@dataclass
class GenerationSummary:
    out: Path
    persons: int
    households: int
    addresses: int
    buildings: int
    businesses: int
    files: dict[str, list[str]] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)


def generate(
    out: Path,
    district: str = "330102",
    persons: int = 20_000,
    seed: int = 42,
    power_days: int = 30,
    noise: float = 1.0,
    progress: bool = True,
) -> GenerationSummary:
    """Generate a district into ``out`` (its landing/ and truth/ folders are replaced)."""
    if persons < 200:
        raise ValueError("--persons must be at least 200 so every system has records")
    out = Path(out)
    for sub in ("landing", "truth"):
        shutil.rmtree(out / sub, ignore_errors=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    exports = demo_exports()  # each system's own demo export (pipelines/sources/<system>/demo.py)
    steps = tqdm(total=len(exports) + 2, desc="generating", unit="step", disable=not progress)

    steps.set_postfix_str("population")
    pop, planted = plant_alert_cases(build_population(seed, district, persons), seed)
    steps.update()
    ctx = ExportContext(pop=pop, landing=out / "landing", seed=seed, noise=noise, power_days=power_days, truth=out / "truth")

    truths = []
    for system, export in exports.items():
        steps.set_postfix_str(system)
        truth = export(ctx)
        if truth is not None:
            truths.append(truth)
        steps.update()

    steps.set_postfix_str("truth")
    records = pl.concat(truths)
    records.write_parquet(out / "truth" / "records.parquet")
    pl.concat([planted, *ctx.planted]).write_parquet(out / "truth" / "alerts_planted.parquet")
    pop.persons.write_parquet(out / "truth" / "persons.parquet")
    pop.businesses.write_parquet(out / "truth" / "businesses.parquet")
    pop.addresses.write_parquet(out / "truth" / "addresses.parquet")
    (out / "landing" / "address_base").mkdir(parents=True, exist_ok=True)
    pop.addresses.select(pl.col("community_code").alias("division_code"), pl.exclude("community_code")).select(BASE_COLUMNS).write_csv(
        out / "landing" / "address_base" / "address_base.csv"
    )
    steps.update()
    steps.close()

    summary = GenerationSummary(
        out=out,
        persons=pop.persons.height,
        households=pop.persons["household_no"].n_unique(),
        addresses=pop.addresses.height,
        buildings=pop.buildings.height,
        businesses=pop.businesses.height,
    )
    for system_dir in sorted((out / "landing").iterdir()):
        summary.files[system_dir.name] = sorted(p.name for p in system_dir.iterdir())
    counts = records.group_by("system").len()
    summary.records = {**dict(zip(counts["system"].to_list(), counts["len"].to_list())), **ctx.counts}
    summary.records["address_base"] = pop.addresses.height
    return summary
