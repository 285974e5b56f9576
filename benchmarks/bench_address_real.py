"""Benchmark: parsing real addresses — EnterOnce, jionlp and cpca side by side on an annotated split.

The split is a BIO corpus file (default ``../shared/data/address_corpus/dev.txt``: real, mostly
Zhejiang addresses of Li et al., NAACL 2019, not used in training). For each address the gold
spans give the truth of every part. Measured, per tool where it gives the part:

- admin levels (province, city, district, street, community): *found* = the share of addresses
  whose gold names the level where the tool reports that same division (names compared without
  their suffix; a legacy name, with or without its suffix, matches its successor, and a district that
  gave part of its land to another since (余杭区 → 临平区) matches that one too; a county-level city labelled "city" may be
  reported as the district, a municipality labelled "city" as the province), and precision where
  the tool reports one at that level;
- road, road_no, compound (poi), building (houseno), unit (cellno), floor (floorno), room (roomno):
  micro precision / recall / F1 of the value (numbers compared in canonical form);
- span F1 over all corpus labels (EnterOnce's tagger; the paper's best model: 89.9 on its test split);
- addresses/s: the Python call, and for EnterOnce the CLI (``enteronce address parse --hub``) too,
  whose JSON lines are scored as well (column "EnterOnce CLI").

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/bench_address_real.py --out bench_out/address_real
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

from address_master.gazetteer import SUFFIXES, gazetteer, short_names  # noqa: E402
from address_master.numbers import canonical_number  # noqa: E402
from address_master.parse import FIELDS, parse_frame  # noqa: E402
from address_master.tagger import read_corpus, span_scores, tag  # noqa: E402
from pipelines.reference import legacy_divisions  # noqa: E402

ADMIN = {"prov": ("province", 1), "city": ("city", 2), "district": ("district", 3), "town": ("street", 4), "community": ("community", 5)}
PARTS = {"road": "road", "roadno": "road_no", "poi": "compound", "houseno": "building", "cellno": "unit", "floorno": "floor", "roomno": "room"}
ALSO = {"city": ("district", "province"), "district": ("city",), "province": ("city",)}
NUMBERS = {"road_no", "building", "unit", "floor", "room"}


def cores(name: str | None) -> set[str]:
    """A division name and the names it goes by without its suffix, at any level."""
    if not name:
        return set()
    out = {name}
    for level in SUFFIXES:
        out |= short_names(name, level)
    return out


def same_division(gold: str, reported: str | None, successors: dict[str, set[str]]) -> bool:
    if not reported:
        return False
    g, r = cores(gold), cores(reported)
    return bool(g & r) or bool(cores(reported) & {c for s in successors.get(gold, ()) for c in cores(s)})


CODE_LENGTH = {1: 2, 2: 4, 3: 6, 4: 9, 5: 12}


def known_names(successors: dict[str, set[str]]) -> dict[int, set[str]]:
    """Per admin level, every name (and short name) the gazetteer holds at that level, legacy names
    included: a gold division outside these cannot be reported, since a division is reported only
    when it resolves against the gazetteer (communities exist for Zhejiang only, and as named now)."""
    out: dict[int, set[str]] = {level: set() for level in CODE_LENGTH}
    lengths = {n: level for level, n in CODE_LENGTH.items()}
    for code, name in gazetteer().names.items():
        if len(code) in lengths:
            out[lengths[len(code)]] |= cores(name)
    for old, new in successors.items():
        for level in CODE_LENGTH:
            if any(cores(n) & out[level] for n in new):
                out[level] |= cores(old)
    return out


def score(truth: pl.DataFrame, reported: pl.DataFrame, successors: dict[str, set[str]], known: dict[int, set[str]] | None = None) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for label, (field, level) in ADMIN.items():
        if field not in reported.columns:
            continue
        # the corpus labels a county-level city (诸暨市) as a city now and then, a municipality as a
        # city or a province: the division counts as found at either of the two levels it may be
        also = [c for c in ALSO.get(field, ()) if c in reported.columns]
        gold, got = truth[label].to_list(), reported.select(field, *also).rows()
        present = [(g, r) for g, r in zip(gold, got) if g]
        right = sum(any(same_division(g, name, successors) for name in r) for g, r in present)
        answered = sum(1 for g, r in present if r[0])
        out[field] = {"found": round(right / len(present), 4), "precision": round(right / answered, 4) if answered else 0.0, "support": len(present)}
        if known is not None:  # the same, over the gold divisions the gazetteer can name at all
            reachable = [(g, r) for g, r in present if cores(g) & known[level]]
            hit = sum(any(same_division(g, name, successors) for name in r) for g, r in reachable)
            out[field] |= {"found_of_known": round(hit / len(reachable), 4) if reachable else 0.0, "known": len(reachable)}
    for label, field in PARTS.items():
        if field not in reported.columns:
            continue
        tp = fp = fn = 0
        for g, r in zip(truth[label].to_list(), reported[field].to_list()):
            if field in NUMBERS:
                g, r = canonical_number(g), canonical_number(r)
            if r and g and r == g:
                tp += 1
                continue
            fp += bool(r)
            fn += bool(g)
        p, rc = (tp / (tp + fp) if tp + fp else 0.0), (tp / (tp + fn) if tp + fn else 0.0)
        out[field] = {"precision": round(p, 4), "recall": round(rc, 4), "f1": round(2 * p * rc / (p + rc), 4) if p + rc else 0.0, "support": tp + fn}
    return out


def enteronce(texts: list[str], home: str) -> tuple[pl.DataFrame, float]:
    started = time.perf_counter()
    parsed = parse_frame(pl.DataFrame({"a": texts}), "a", home=home)
    return parsed, time.perf_counter() - started


def jionlp_parse(texts: list[str]) -> tuple[pl.DataFrame, float]:
    import jionlp

    started = time.perf_counter()
    rows = []
    for t in texts:
        r = jionlp.parse_location(t, town_village=True)
        rows.append({"province": r.get("province"), "city": r.get("city"), "district": r.get("county"),
                     "street": r.get("town"), "community": r.get("village")})
    return pl.DataFrame(rows, schema={f: pl.String for f in ("province", "city", "district", "street", "community")}), time.perf_counter() - started


def cpca_parse(texts: list[str]) -> tuple[pl.DataFrame, float]:
    import cpca

    started = time.perf_counter()
    frame = cpca.transform(texts)
    elapsed = time.perf_counter() - started
    column = lambda name: [v if isinstance(v, str) and v else None for v in frame[name].tolist()]  # noqa: E731  (pandas NaN → None)
    return pl.DataFrame({"province": column("省"), "city": column("市"), "district": column("区")},
                        schema={f: pl.String for f in ("province", "city", "district")}), elapsed


def cli_parse(texts: list[str], out: Path, repeat: int, hub: str) -> tuple[pl.DataFrame, float]:
    """``enteronce address parse --hub HUB`` over the texts repeated ``repeat`` times: what it wrote
    for the first copy, and lines/s (process start included)."""
    lines = out / "cli_input.txt"
    lines.write_text("\n".join(texts * repeat) + "\n", encoding="utf-8")
    started = time.perf_counter()
    with lines.open("rb") as stdin, (out / "cli_output.jsonl").open("wb") as stdout:
        subprocess.run([str(Path(sys.executable).parent / "enteronce"), "address", "parse", "--hub", hub], stdin=stdin, stdout=stdout, check=True)
    rate = len(texts) * repeat / (time.perf_counter() - started)
    return pl.read_ndjson(out / "cli_output.jsonl", schema={f: pl.String for f in FIELDS}).head(len(texts)), rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", type=Path, default=ROOT.parent / "shared" / "data" / "address_corpus" / "dev.txt")
    ap.add_argument("--home", default="33", help="the hub's division code prefix (ties between equally fitting divisions go to it)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench_out" / "address_real")
    ap.add_argument("--cli-repeat", type=int, default=4, help="the split repeated this many times through the CLI (distinct texts: the CLI parses each once per chunk)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    corpus = list(read_corpus(args.split))
    texts = [text for text, _ in corpus]
    truth = pl.DataFrame([{label: next((s.text for s in gold if s.label == label), None) for label in [*ADMIN, *PARTS]} for _, gold in corpus],
                         schema={label: pl.String for label in [*ADMIN, *PARTS]})
    successors: dict[str, set[str]] = {}
    names = gazetteer().names
    for row in legacy_divisions().iter_rows(named=True):
        for old in cores(row["old_name"]):  # 江东 is 江东区 written without its suffix: the same legacy name
            successors.setdefault(old, set()).add(names[row["new_code"]])
    for written, parts in gazetteer().ceded.items():  # 余杭区 gave 临平 to 临平区 (2021): an address there lies in 临平区 now
        successors.setdefault(written, set()).update(names[part] for _, part in parts)

    results: dict[str, dict] = {}
    started = time.perf_counter()
    spans = span_scores((gold, tag(text)) for text, gold in corpus)
    tag_seconds = time.perf_counter() - started
    parsed, seconds = enteronce(texts, args.home)
    known = known_names(successors)
    cli_output, cli_rate = cli_parse(texts, args.out, args.cli_repeat, args.home)
    results["EnterOnce"] = {"fields": score(truth, parsed, successors, known), "per_second": round(len(texts) / seconds),
                            "tagger_per_second": round(len(texts) / tag_seconds), "span_f1": spans["_all"], "spans": spans,
                            "cli_per_second": round(cli_rate)}
    # what an outside caller of the CLI gets: the same fields, scored from its JSON lines
    results["EnterOnce CLI"] = {"fields": score(truth, cli_output, successors, known), "per_second": round(cli_rate)}
    for name, run in (("jionlp", jionlp_parse), ("cpca", cpca_parse)):
        try:
            frame, seconds = run(texts)
        except ImportError as exc:
            results[name] = {"error": f"not installed ({exc}); pip install -e '.[bench]'"}
            continue
        results[name] = {"fields": score(truth, frame, successors, known), "per_second": round(len(texts) / seconds)}
    results["_run"] = {"split": str(args.split), "addresses": len(texts), "home": args.home, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                       "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}
    (args.out / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    print_table(results)


def print_table(results: dict) -> None:
    tools = [t for t in results if not t.startswith("_") and "fields" in results[t]]
    print(f"\n{results['_run']}\n")
    print("| field | " + " | ".join(tools) + " |")
    print("|---|" + "---:|" * len(tools))
    for field in ("province", "city", "district", "street", "community"):
        cells = [f"{results[t]['fields'][field]['found']:.3f} ({results[t]['fields'][field]['precision']:.3f})" if field in results[t]["fields"] else "–" for t in tools]
        print(f"| {field} found (precision) | " + " | ".join(cells) + " |")
    for field in ("street", "community"):
        ours = results["EnterOnce"]["fields"][field]
        cells = [f"{results[t]['fields'][field]['found_of_known']:.3f}" if field in results[t]["fields"] else "–" for t in tools]
        print(f"| {field} found, of the {ours['known']} of {ours['support']} the gazetteer names | " + " | ".join(cells) + " |")
    for field in ("road", "road_no", "compound", "building", "unit", "floor", "room"):
        cells = [f"{results[t]['fields'][field]['f1']:.3f}" if field in results[t]["fields"] else "–" for t in tools]
        print(f"| {field} F1 | " + " | ".join(cells) + " |")
    print(f"| span F1, all labels | {results['EnterOnce']['span_f1']['f1']:.3f} | " + " | ".join("–" for _ in tools[1:]) + " |")
    print("| addresses/s (Python call; the CLI: lines/s, process start included) | " + " | ".join(f"{results[t]['per_second']:,}" for t in tools) + " |")


if __name__ == "__main__":
    main()
