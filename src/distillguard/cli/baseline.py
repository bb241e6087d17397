"""Run a baseline detector over an ingested store and write contract results.

Baselines show what a provider catches today without distillguard: `rate-limit` flags
accounts over per-account tier limits, `isolation-forest` flags the most anomalous
accounts by behaviour.  The output directory has the same files as `distillguard scan`
(accounts.jsonl, clusters.jsonl, summary.json, report.html), so `distillguard evaluate`
scores both the same way.

example:
  distillguard baseline rate-limit --store logs.duckdb --out out/rate-limit \\
      --param hour_hard=1000 --param day_hard=5000
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from distillguard.errors import UserError

HELP = "run a baseline detector (rate-limit, isolation-forest) over a store"


def _epilog() -> str:
    from distillguard.evaluation.baselines import BASELINES, describe_parameters

    lines = ["parameters (--param NAME=VALUE) and their defaults:"]
    for baseline in BASELINES.values():
        params = ", ".join(f"{k}={v:g}" for k, v in describe_parameters(baseline).items())
        lines.append(f"  {baseline.name}: {params}")
    return "\n".join(lines)


def register(parser: argparse.ArgumentParser) -> None:
    """Add the baseline's arguments."""
    from distillguard.evaluation.baselines import BASELINES

    parser.epilog = _epilog()
    parser.add_argument("name", choices=sorted(BASELINES), help="which baseline to run")
    parser.add_argument("--store", type=Path, required=True, help="DuckDB store written by ingest")
    parser.add_argument("--out", type=Path, required=True, help="results directory to write")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a parameter (repeatable)",
    )
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all)")


def run(args: argparse.Namespace) -> int:
    """Run the baseline, write its results and print counts and timings."""
    from distillguard.engine.store import open_store
    from distillguard.evaluation.baselines import run_baseline

    store: Path = args.store
    if not store.is_file():
        raise UserError(f"store {store} not found: create it with `distillguard ingest`")
    console = Console(stderr=True)
    with console.status(f"running baseline {args.name} over {store}…"):
        con = open_store(store, threads=args.threads)
        try:
            summary = run_baseline(args.name, con, args.out, args.param)
        finally:
            con.disconnect()

    counts = summary["counts"]
    table = Table(title=f"baseline {args.name}", show_header=False)
    table.add_row("exchanges", f"{counts['exchanges']:,}")
    table.add_row("accounts", f"{counts['accounts']:,}")
    for verdict, count in counts["verdicts"].items():
        table.add_row(f"verdict {verdict}", f"{count:,}")
    for stage, seconds in summary["wall_time_s"].items():
        table.add_row(f"{stage} time", f"{seconds:.2f} s")
    console.print(table)
    console.print(f"results written to [bold]{args.out}[/]")
    return 0
