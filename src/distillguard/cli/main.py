"""The `distillguard` command: a thin dispatcher over one module per subcommand."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

from distillguard import __version__
from distillguard.errors import UserError

# name -> module under distillguard.cli; each module has register(parser) and run(args) -> int.
SUBCOMMANDS: dict[str, str] = {
    "simulate": "simulate",
    "ingest": "ingest",
    "baseline": "baseline",
    "evaluate": "evaluate",
    "demo": "demo",
    "scan": "scan",
    "guard": "guard",
    "policy": "policy",
    "appeal": "appeal",
    "intel": "intel",
}


def build_parser() -> argparse.ArgumentParser:
    """Build the parser; subcommand modules are imported here, not at package import."""
    parser = argparse.ArgumentParser(
        prog="distillguard",
        description="Detect and stop distillation attacks against model APIs.",
    )
    parser.add_argument("--version", action="version", version=f"distillguard {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(f"distillguard.cli.{module_name}")
        sub = subparsers.add_parser(
            name,
            help=module.HELP,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.register(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status (0 ok, 1 findings/failure, 2 usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        status: int = args._run(args)
    except UserError as error:
        message = Text("error: ", style="bold red")
        message.append(str(error))  # plain text: brackets in paths and keys stay as they are
        Console(stderr=True).print(message, highlight=False)
        return 2
    except KeyboardInterrupt:
        Console(stderr=True).print("[yellow]interrupted[/]")
        return 130
    return status


def entrypoint() -> None:
    """Console-script entry point."""
    sys.exit(main())
