"""Scan model-API logs for distillation campaigns and write the contract's outputs.

Reads contract JSONL/Parquet (or OpenTelemetry GenAI / LiteLLM logs), computes features once,
runs every detector (prompt signals, behaviour, drift, coordination), finds coordinated
clusters, scores accounts and clusters and writes DIR/accounts.jsonl, DIR/clusters.jsonl,
DIR/summary.json and DIR/report.html.

example:
  distillguard scan --exchanges logs/exchanges.jsonl --accounts logs/accounts.jsonl --out scan-out
  distillguard scan --exchanges today.jsonl --store dg.duckdb --out scan-today   # daily runs
  distillguard scan --exchanges logs/*.jsonl --out scan-out --engine pyspark   # needs [spark]
  distillguard scan --exchanges big.parquet --out scan-out --memory-limit 6GB --temp-dir /data/tmp
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from distillguard.engine.backends import ENGINES
from distillguard.engine.room import add_room_options, room_from

HELP = "detect distillation campaigns in logs and write accounts/clusters/summary/report"


def register(parser: argparse.ArgumentParser) -> None:
    """Add the scan's options."""
    parser.add_argument("--exchanges", type=Path, nargs="+", required=True, help="exchange logs")
    parser.add_argument("--accounts", type=Path, nargs="*", default=[], help="account records")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="DuckDB file kept between runs (default: in memory)",
    )
    parser.add_argument("--config", type=Path, default=None, help="TOML configuration")
    parser.add_argument(
        "--engine",
        default="duckdb",
        choices=ENGINES,
        help="where the stages after ingestion run: the embedded DuckDB store (default) or "
        "a local Spark session (needs pip install 'distillguard[spark]' and Java 17+)",
    )
    parser.add_argument(
        "--format",
        default="auto",
        choices=("auto", "contract", "otel", "litellm"),
        help="input format (default: sniffed)",
    )
    parser.add_argument(
        "--intel",
        type=Path,
        nargs="+",
        default=[],
        help="peers' STIX bundles to hunt for as evidence DG-601 (see `distillguard intel`)",
    )
    parser.add_argument(
        "--intel-key", type=Path, default=None, help="sharing key file for --intel (hex)"
    )
    add_room_options(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    """Run the scan and print a short summary."""
    from distillguard.detectors.intel.cli_options import with_intel
    from distillguard.engine.config import load_config
    from distillguard.engine.scan import detector_infos, require_inputs, run_scan

    require_inputs([*args.exchanges, *args.accounts])
    config = load_config(args.config, {info.id for info in detector_infos()})
    if args.intel:
        config = with_intel(config, args.intel, args.intel_key)
    console = Console()
    outcome = run_scan(
        args.exchanges,
        args.accounts,
        args.out,
        config=config,
        store_path=args.store,
        input_format=args.format,
        progress=not args.no_progress,
        console=console,
        engine=args.engine,
        room=room_from(args),
    )
    counts = outcome.summary["counts"]
    table = Table(title=f"scan written to {outcome.out_dir}", show_header=False)
    table.add_row("exchanges loaded", f"{counts['exchanges_loaded']:,}")
    table.add_row("quarantined", f"{counts['quarantined']:,}")
    table.add_row("accounts", f"{counts['accounts']:,}")
    table.add_row("clusters", f"{counts['clusters']:,}")
    for verdict, number in counts["verdicts"].items():
        table.add_row(f"verdict {verdict}", f"{number:,}")
    console.print(table)
    return 0
