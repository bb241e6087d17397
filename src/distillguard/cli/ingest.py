"""Load API logs into the store: contract JSON Lines/Parquet, OpenTelemetry GenAI (OTLP
JSON) or LiteLLM logs.  Every record is validated; records that break the contract go to
a quarantine file with the reason, and the summary counts them.

Exit status: 0 when the run completed (quarantined records are expected and reported),
2 when a file is missing or unreadable.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from distillguard.engine.room import add_room_options, room_from, stopping_clearly
from distillguard.engine.store import open_store
from distillguard.ingest import FORMATS, IngestReport, ingest_files

HELP = "load exchange and account logs into the store, quarantining bad records"


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ingest options."""
    parser.add_argument(
        "--exchanges", nargs="+", type=Path, required=True, metavar="FILE",
        help="exchange logs (.jsonl, .jsonl.gz, .json, .parquet, OTLP JSON, LiteLLM JSONL)",
    )  # fmt: skip
    parser.add_argument(
        "--accounts", nargs="+", type=Path, default=[], metavar="FILE",
        help="account records (contract JSON Lines or Parquet)",
    )  # fmt: skip
    parser.add_argument("--store", type=Path, required=True, help="DuckDB store file")
    parser.add_argument(
        "--format", choices=("auto", *FORMATS), default="auto",
        help="format of the exchange files (default: sniff each file)",
    )  # fmt: skip
    parser.add_argument(
        "--quarantine", type=Path, default=None, metavar="FILE",
        help="where rejected records go (default: <store>.quarantine.jsonl)",
    )  # fmt: skip
    parser.add_argument(
        "--account-field", action="append", default=None, metavar="NAME", dest="account_fields",
        help="OTel attribute or LiteLLM field naming the account, in order of preference "
        "(repeat; default: user.id, enduser.id / end_user, user_api_key_user_id, user, ...)",
    )  # fmt: skip
    add_room_options(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Ingest, print the summary table, return 0."""
    store: Path = args.store
    quarantine: Path = args.quarantine or store.with_name(store.name + ".quarantine.jsonl")
    console = Console()
    room = room_from(args)
    con = open_store(store, room=room)
    try:
        with stopping_clearly(room, store):
            report = ingest_files(
                con,
                args.exchanges,
                args.accounts,
                fmt=args.format,
                quarantine_path=quarantine,
                progress=not args.no_progress,
                account_fields=args.account_fields,
            )
    finally:
        con.disconnect()
    console.print(summary_table(report))
    if report.quarantined:
        console.print(
            f"[yellow]{report.quarantined:,}[/] record(s) quarantined, with reasons, in "
            f"{report.quarantine_path}"
        )
        for reason, count in report.reasons.most_common(10):
            console.print(f"  {count:>10,}  {reason}", highlight=False)
    else:
        console.print("[green]all records loaded[/]")
    return 0


def summary_table(report: IngestReport) -> Table:
    """One row per file and a total: read, loaded, quarantined, skipped."""
    table = Table(title=f"ingest ({report.seconds:.1f} s)")
    for column in ("file", "table", "format", "read", "loaded", "quarantined", "skipped"):
        table.add_column(column, justify="right" if column in {"read", "loaded"} else "left")
    for item in report.files:
        table.add_row(
            item.path, item.table, item.format, f"{item.read:,}", f"{item.loaded:,}",
            f"{item.quarantined:,}", f"{sum(item.skipped.values()):,}",
        )  # fmt: skip
    table.add_row(
        "total", "", "", f"{report.read:,}", f"{report.loaded:,}",
        f"{report.quarantined:,}", f"{sum(report.skipped.values()):,}", style="bold",
    )  # fmt: skip
    return table
