"""Simulate realistic model-API traffic with known truth.

Writes contract-format DIR/exchanges.jsonl and DIR/accounts.jsonl, the truth in a separate
DIR/labels.jsonl (account -> population, benign/distillation, campaign) and run metadata in
DIR/simulation.json.  Prompts come from real public collections: the bundled permissive
sample by default, or a full datasets folder with --datasets.  The same seed gives
byte-identical files whatever the number of workers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from distillguard.sim.scenarios import SCENARIOS

HELP = "simulate labelled traffic (benign populations and distillation campaigns)"


def register(parser: argparse.ArgumentParser) -> None:
    """Add the subcommand's options."""
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--exchanges",
        type=int,
        default=200_000,
        help="approximate number of exchanges (default 200000)",
    )
    parser.add_argument(
        "--scenario",
        default="reported-2026",
        choices=sorted(SCENARIOS),
        help="traffic scenario (default reported-2026): "
        + "; ".join(f"{k}: {v}" for k, v in SCENARIOS.items()),
    )
    parser.add_argument(
        "--datasets",
        type=Path,
        default=None,
        help="folder laid out like shared/datasets (default: bundled sample)",
    )
    parser.add_argument(
        "--prompt-split",
        default="all",
        choices=("all", "dev", "holdout"),
        help="use only development or only held-out prompt sources and wrapper phrasings",
    )
    parser.add_argument(
        "--campaign-seed",
        type=int,
        default=None,
        help="draw campaigns' infrastructure, cards and wrappers from this seed instead of "
        "--seed, so two providers simulated with different seeds are hit by the same campaigns",
    )
    parser.add_argument("--workers", type=int, default=None, help="processes (default: CPU count)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run the simulation and print what was written."""
    from distillguard.sim.writer import simulate

    result = simulate(
        args.out,
        seed=args.seed,
        exchanges=args.exchanges,
        scenario_name=args.scenario,
        datasets=args.datasets,
        prompt_split=args.prompt_split,
        campaign_seed=args.campaign_seed,
        progress=not args.no_progress,
        workers=args.workers,
    )
    table = Table(
        title=f"simulated {result.exchanges:,} exchanges, {result.accounts:,} accounts "
        f"in {result.seconds:.1f} s"
    )
    table.add_column("population")
    table.add_column("exchanges", justify="right")
    for population, count in sorted(result.by_population.items(), key=lambda kv: -kv[1]):
        table.add_row(population, f"{count:,}")
    Console().print(table)
    Console().print(
        f"files in {result.out_dir}: exchanges.jsonl accounts.jsonl labels.jsonl simulation.json"
    )
    return 0
