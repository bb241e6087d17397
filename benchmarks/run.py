"""Benchmarks: simulator throughput and memory, ingest throughput, baseline quality.

Each result is written as JSON under --out and printed as a Markdown table row, ready for
docs/benchmarks.md.  Performance targets live here, never in timed unit tests.

    .venv/bin/python benchmarks/run.py --out bench-out                  # everything
    .venv/bin/python benchmarks/run.py --out bench-out simulate --sizes 1000000
    .venv/bin/python benchmarks/run.py --out bench-out baselines --seeds 101 102
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory import run_measured
from scenario_order import CAMPAIGN_SCENARIOS as SCENARIO_NAMES

PYTHON = sys.executable
GIB = 1 << 30


def machine() -> str:
    """One line naming the machine the numbers came from."""
    import os

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    python = platform.python_version()
    return f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB, Python {python}"


def _save(out: Path, name: str, payload: dict[str, Any]) -> None:
    payload = {"date": datetime.now(UTC).strftime("%Y-%m-%d"), "machine": machine(), **payload}
    (out / f"{name}.json").write_text(json.dumps(payload, indent=2, sort_keys=True))


def bench_simulate(out: Path, sizes: list[int], keep: bool) -> None:
    """Wall time, rows/s and peak memory of `distillguard simulate` at each size."""
    rows = []
    for size in sizes:
        target = out / f"sim-{size}"
        shutil.rmtree(target, ignore_errors=True)
        command = [
            PYTHON,
            "-m",
            "distillguard",
            "simulate",
            "--out",
            str(target),
            "--exchanges",
            str(size),
            "--seed",
            "1",
            "--no-progress",
        ]
        measured = run_measured(command)
        meta = json.loads((target / "simulation.json").read_text())
        size_bytes = (target / "exchanges.jsonl").stat().st_size
        row = {
            "requested": size,
            "exchanges": meta["exchanges"],
            "seconds": round(measured.seconds, 1),
            "rows_per_s": round(meta["exchanges"] / measured.seconds),
            "peak_gib": round(measured.peak_bytes / GIB, 2),
            "jsonl_gib": round(size_bytes / GIB, 2),
            "command": " ".join(command[1:]),
        }
        rows.append(row)
        print(
            f"| {row['exchanges']:,} | {row['seconds']} s | {row['rows_per_s']:,}/s | "
            f"{row['peak_gib']} GiB | {row['jsonl_gib']} GiB |",
            flush=True,
        )
        if not keep:
            shutil.rmtree(target, ignore_errors=True)
    _save(out, "simulate", {"runs": rows})


def bench_ingest(out: Path, size: int) -> None:
    """Rows/s of `distillguard ingest` on a simulated file."""
    sim = out / f"ingest-sim-{size}"
    shutil.rmtree(sim, ignore_errors=True)
    from distillguard.sim.writer import simulate

    simulate(sim, seed=2, exchanges=size, progress=False)
    store = out / "ingest.duckdb"
    store.unlink(missing_ok=True)
    command = [
        PYTHON,
        "-m",
        "distillguard",
        "ingest",
        "--exchanges",
        str(sim / "exchanges.jsonl"),
        "--accounts",
        str(sim / "accounts.jsonl"),
        "--store",
        str(store),
        "--no-progress",
    ]
    measured = run_measured(command)
    exchanges = sum(1 for _ in (sim / "exchanges.jsonl").open("rb"))
    row = {
        "exchanges": exchanges,
        "seconds": round(measured.seconds, 1),
        "rows_per_s": round(exchanges / measured.seconds),
        "peak_gib": round(measured.peak_bytes / GIB, 2),
        "command": " ".join(command[1:]),
    }
    print(
        f"| ingest {exchanges:,} | {row['seconds']} s | {row['rows_per_s']:,}/s "
        f"| {row['peak_gib']} GiB |"
    )
    _save(out, "ingest", row)
    shutil.rmtree(sim, ignore_errors=True)
    store.unlink(missing_ok=True)


def bench_baselines(out: Path, scenarios: list[str], seeds: list[int], size: int) -> None:
    """Both baselines on each scenario and seed, through the yardstick."""
    from distillguard.engine.store import open_store
    from distillguard.evaluation.baselines import run_baseline
    from distillguard.evaluation.labels import read_labels
    from distillguard.ingest import ingest_files
    from distillguard.sim.writer import simulate

    results = []
    for scenario in scenarios:
        for seed in seeds:
            work = out / f"baseline-{scenario}-{seed}"
            shutil.rmtree(work, ignore_errors=True)
            simulate(
                work / "sim", seed=seed, exchanges=size, scenario_name=scenario, progress=False
            )
            con = open_store(None)
            ingest_files(
                con,
                [work / "sim/exchanges.jsonl"],
                [work / "sim/accounts.jsonl"],
                quarantine_path=work / "q.jsonl",
                progress=False,
            )
            labels = read_labels(work / "sim/labels.jsonl")
            for name in ("rate-limit", "isolation-forest"):
                started = time.perf_counter()
                run_baseline(name, con, work / name)
                results.append(_scored(labels, work / name, scenario, seed, name, size, started))
            shutil.rmtree(work, ignore_errors=True)
    _save(out, "baselines", {"runs": results, "command": " ".join(sys.argv)})
    print_population_table(results)


def print_population_table(results: list[dict[str, Any]]) -> None:
    """Benign flag rate per population and recall per campaign, pooled over seeds."""
    groups: dict[tuple[str, str], dict[str, list[int]]] = {}
    for run in results:
        cell = groups.setdefault((run["scenario"], run["baseline"]), {})
        for population in run["benign_populations"]:
            pair = cell.setdefault(population["population"], [0, 0])
            pair[0] += population["flagged"]
            pair[1] += population["accounts"]
        for campaign in run["campaigns"]:
            pair = cell.setdefault("campaign:" + campaign["campaign"], [0, 0])
            pair[0] += campaign["flagged"]
            pair[1] += campaign["accounts"]
    names = sorted({name for cell in groups.values() for name in cell})
    print("\n| scenario | baseline | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for (scenario, baseline), cell in sorted(groups.items()):
        values = [
            _pct(cell[name][0] / cell[name][1]) if name in cell and cell[name][1] else "—"
            for name in names
        ]
        print(f"| {scenario} | {baseline} | " + " | ".join(values) + " |")


def bench_scan(
    out: Path,
    scenarios: list[str],
    seeds: list[int],
    size: int,
    tag: str,
    datasets: Path | None = None,
    prompt_split: str = "all",
) -> None:
    """`distillguard scan` on each scenario and seed, through the yardstick.

    ``datasets`` and ``prompt_split`` are the simulator's: with the shared datasets and
    ``holdout``, the traffic comes from prompt collections and wrapper phrasings that no
    detector was trained or tuned on."""
    from distillguard.engine.config import ScanConfig
    from distillguard.engine.scan import run_scan
    from distillguard.evaluation.labels import read_labels
    from distillguard.sim.writer import simulate

    results = []
    for scenario in scenarios:
        for seed in seeds:
            work = out / f"scan-{scenario}-{seed}"
            shutil.rmtree(work, ignore_errors=True)
            simulate(
                work / "sim",
                seed=seed,
                exchanges=size,
                scenario_name=scenario,
                datasets=datasets,
                prompt_split=prompt_split,
                progress=False,
            )
            started = time.perf_counter()
            run_scan(
                [work / "sim/exchanges.jsonl"],
                [work / "sim/accounts.jsonl"],
                work / "scan",
                config=ScanConfig(),
                progress=False,
            )
            labels = read_labels(work / "sim/labels.jsonl")
            results.append(_scored(labels, work / "scan", scenario, seed, "scan", size, started))
            shutil.rmtree(work / "sim", ignore_errors=True)
    _save(out, f"scan-{tag}", {"runs": results, "command": " ".join(sys.argv)})
    print_population_table(results)


def _scored(
    labels: Any, results_dir: Path, scenario: str, seed: int, name: str, size: int, started: float
) -> dict[str, Any]:
    """Evaluate one results directory, print its Markdown row, return the evaluation."""
    from distillguard.evaluation.metrics import evaluate
    from distillguard.results import read_results

    evaluation = evaluate(labels, read_results(results_dir).accounts).to_dict()
    evaluation.update(
        scenario=scenario,
        seed=seed,
        baseline=name,
        exchanges=size,
        seconds=round(time.perf_counter() - started, 1),
    )
    d, f = evaluation["distillation"], evaluation["flagged"]
    worst = max(evaluation["benign_populations"], key=lambda p: p["flag_rate"])
    print(
        f"| {scenario} | {seed} | {name} | {_pct(d['precision'])} "
        f"| {_pct(d['recall'])} | {_pct(f['precision'])} | {_pct(f['recall'])} "
        f"| {_num(evaluation['roc_auc'])} | "
        f"{_pct(worst['flag_rate'])} ({worst['population']}) |",
        flush=True,
    )
    return evaluation


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--keep", action="store_true", help="keep generated files")
    sub = parser.add_subparsers(dest="which")
    sim = sub.add_parser("simulate")
    sim.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 4_000_000, 16_000_000])
    ing = sub.add_parser("ingest")
    ing.add_argument("--size", type=int, default=1_000_000)
    base = sub.add_parser("baselines")
    base.add_argument(
        "--scenarios",
        nargs="+",
        default=["reported-2026", "evasive", "low-and-slow", "hydra-proxy", "randomized"],
    )
    base.add_argument("--seeds", type=int, nargs="+", default=[101, 102])
    base.add_argument("--size", type=int, default=200_000)
    scan = sub.add_parser("scan")
    scan.add_argument("--scenarios", nargs="+", default=list(SCENARIO_NAMES))
    scan.add_argument("--seeds", type=int, nargs="+", default=[101, 102])
    scan.add_argument("--size", type=int, default=200_000)
    scan.add_argument("--tag", default="heldout", help="name of the saved result file")
    scan.add_argument(
        "--datasets",
        type=Path,
        default=None,
        help="prompt collections (default: the bundled sample)",
    )
    scan.add_argument(
        "--prompt-split",
        choices=["all", "dev", "holdout"],
        default="all",
        help="holdout: prompt sources and phrasings no detector was tuned on (needs --datasets)",
    )
    speed = sub.add_parser("throughput", help="scan wall time, memory and floor per size")
    speed.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 4_000_000, 16_000_000])
    speed.add_argument("--seed", type=int, default=1)
    speed.add_argument("--prepare-only", action="store_true", help="only simulate and convert")
    speed.add_argument(
        "--datasets", type=Path, default=None, help="draw prompts from this shared datasets folder"
    )
    speed.add_argument(
        "--store-dir",
        type=Path,
        default=None,
        help="scan with --store DIR/store-SIZE.duckdb (a fresh file each run) instead of in memory",
    )
    speed.add_argument(
        "--memory-limit", default=None, help="pass --memory-limit SIZE to the scan (e.g. 5GB)"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}")
    if args.which in (None, "simulate"):
        bench_simulate(
            args.out, getattr(args, "sizes", [1_000_000, 4_000_000, 16_000_000]), args.keep
        )
    if args.which in (None, "ingest"):
        bench_ingest(args.out, getattr(args, "size", 1_000_000))
    if args.which == "scan":
        bench_scan(
            args.out,
            args.scenarios,
            args.seeds,
            args.size,
            args.tag,
            datasets=args.datasets,
            prompt_split=args.prompt_split,
        )
    if args.which == "throughput":
        from throughput import bench_throughput

        runs = bench_throughput(
            args.out,
            args.sizes,
            args.seed,
            prepare_only=args.prepare_only,
            datasets=args.datasets,
            store_dir=args.store_dir,
            memory_limit=args.memory_limit,
        )
        if not args.prepare_only:
            name = "throughput" if args.datasets is None else "throughput-datasets"
            _save(args.out, name, {"runs": runs})
    if args.which in (None, "baselines"):
        bench_baselines(
            args.out,
            getattr(
                args,
                "scenarios",
                ["reported-2026", "evasive", "low-and-slow", "hydra-proxy", "randomized"],
            ),
            getattr(args, "seeds", [101, 102]),
            getattr(args, "size", 200_000),
        )


if __name__ == "__main__":
    main()
