"""Run the whole batch job on the embedded default: simulate, ingest, detect, evaluate.

Simulates labelled traffic from the bundled prompt sample, scans it (ingest into an
embedded DuckDB store, features, detectors, clusters, scoring), runs the baseline detectors
on the same store (what a plain rate limiter and an off-the-shelf anomaly detector catch)
and scores each against the truth, side by side.

example:
  distillguard demo --out demo-out --exchanges 200000 --seed 7
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

HELP = "simulate, ingest, detect and evaluate end to end on the embedded default"

DETECTORS = ("scan", "rate-limit", "isolation-forest")


def register(parser: argparse.ArgumentParser) -> None:
    """Add the demo's options."""
    parser.add_argument("--out", type=Path, default=Path("demo-out"), help="working directory")
    parser.add_argument("--exchanges", type=int, default=200_000, help="exchanges to simulate")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    parser.add_argument("--scenario", default="reported-2026", help="simulator scenario")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def run(args: argparse.Namespace) -> int:
    """Run every stage and print the comparison."""
    from distillguard.engine.config import ScanConfig
    from distillguard.engine.scan import run_scan
    from distillguard.engine.store import open_store
    from distillguard.evaluation.baselines import run_baseline
    from distillguard.evaluation.labels import read_labels
    from distillguard.evaluation.metrics import evaluate
    from distillguard.results import read_results
    from distillguard.sim.writer import simulate

    console = Console()
    progress = not args.no_progress
    out: Path = args.out
    sim_dir = out / "sim"
    started = time.perf_counter()
    console.rule("[bold]1. simulate")
    result = simulate(
        sim_dir,
        seed=args.seed,
        exchanges=args.exchanges,
        scenario_name=args.scenario,
        progress=progress,
    )
    console.print(f"{result.exchanges:,} exchanges, {result.accounts:,} accounts in {sim_dir}")

    console.rule("[bold]2. scan")
    store_path = out / "store.duckdb"
    store_path.unlink(missing_ok=True)
    outcome = run_scan(
        [sim_dir / "exchanges.jsonl"],
        [sim_dir / "accounts.jsonl"],
        out / "scan",
        config=ScanConfig(),
        store_path=store_path,
        progress=progress,
        console=console,
    )
    counts = outcome.summary["counts"]
    console.print(
        f"loaded {counts['exchanges_loaded']:,} exchanges, quarantined {counts['quarantined']:,}, "
        f"{counts['clusters']:,} clusters; results and report.html in {out / 'scan'}"
    )
    con = open_store(store_path)

    labels = read_labels(sim_dir / "labels.jsonl")
    comparison = Table(title=f"Detectors against the truth ({args.scenario}, seed {args.seed})")
    comparison.add_column("detector", no_wrap=True)
    for column in (
        "precision",
        "recall",
        "recall flagged",
        "worst benign flag rate",
        "ROC-AUC",
        "recall @1% FPR",
    ):
        comparison.add_column(column, justify="right")
    for name in DETECTORS:
        results_dir = out / name
        if name != "scan":
            console.rule(f"[bold]3. baseline: {name}")
            run_baseline(name, con, results_dir)
        evaluation = evaluate(labels, read_results(results_dir).accounts)
        worst = max(evaluation.benign_populations, key=lambda p: p.flag_rate, default=None)
        at_one = next((p for p in evaluation.recall_at_fpr if p.target_fpr == 0.01), None)
        comparison.add_row(
            name,
            _pct(evaluation.distillation.precision),
            _pct(evaluation.distillation.recall),
            _pct(evaluation.flagged.recall),
            f"{_pct(worst.flag_rate)} ({worst.population})" if worst else "—",
            "—" if evaluation.roc_auc is None else f"{evaluation.roc_auc:.3f}",
            _pct(at_one.recall if at_one else None),
        )
        console.print(f"results and report in {results_dir}")
    console.rule("[bold]4. evaluate")
    console.print(comparison)
    console.print(
        "precision and recall are for verdict `distillation`; flagged = review or "
        "distillation; benign flag rate = share of a benign population flagged"
    )
    console.print(
        f"done in {time.perf_counter() - started:.0f} s; run "
        f"`distillguard evaluate --labels {sim_dir}/labels.jsonl --results {out}/<detector>`"
        " for the full breakdown"
    )
    return 0
