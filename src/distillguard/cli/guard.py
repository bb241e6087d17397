"""Run the online guard as an HTTP verdict webhook beside your gateway.

`guard serve` loads the policy (and optionally a scan's results directory and an appeals
file), keeps streaming state in memory or in Redis, and answers `POST /v1/decide` with
{verdict, action, score, reasons}.  Policy, verdicts and appeals are reloaded when their
files change, without a restart; a broken new file is reported and the previous one kept.

examples:
  distillguard guard serve --policy examples/policy.yaml --results out/scan
  distillguard guard serve --settings guard.yaml --store redis://127.0.0.1:6379/0 --port 8787
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from rich.console import Console

from distillguard.errors import UserError

HELP = "run the online guard (HTTP verdict webhook)"
DEFAULT_PORT = 8787


def register(parser: argparse.ArgumentParser) -> None:
    """Add `guard serve` and its arguments."""
    actions = parser.add_subparsers(dest="guard_command", metavar="ACTION", required=True)
    serve = actions.add_parser("serve", help="serve the verdict webhook", description=__doc__)
    serve.add_argument("--settings", type=Path, help="guard settings YAML (see docs/guard.md)")
    serve.add_argument("--policy", type=Path, help="policy YAML (overrides the settings file)")
    serve.add_argument("--results", type=Path, help="a scan's --out directory (batch verdicts)")
    serve.add_argument("--store", help="'memory' (default) or a Redis URL for a gateway fleet")
    serve.add_argument("--audit", type=Path, help="append-only audit log (JSON Lines)")
    serve.add_argument("--appeals", type=Path, help="appeals file written by `distillguard appeal`")
    serve.add_argument("--timeout-ms", type=float, help="decision deadline (default 50)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on")


def _settings(args: argparse.Namespace) -> object:
    from distillguard.guard.settings import GuardSettings, load_settings

    base = load_settings(args.settings) if args.settings else None
    if base is None and args.policy is None:
        raise UserError("guard serve needs --policy FILE (or --settings FILE naming one)")
    overrides = {
        "policy": args.policy,
        "results": args.results,
        "store": args.store,
        "audit": args.audit,
        "appeals": args.appeals,
        "timeout_ms": args.timeout_ms,
    }
    given = {k: v for k, v in overrides.items() if v is not None}
    if base is None:
        return GuardSettings(**given)
    return dataclasses.replace(base, **given)


def run(args: argparse.Namespace) -> int:
    """Load everything (clear errors before listening), then serve until interrupted."""
    import uvicorn

    from distillguard.guard.adapters.webhook import create_app
    from distillguard.guard.settings import GuardSettings, build_runtime

    settings = _settings(args)
    assert isinstance(settings, GuardSettings)
    runtime = build_runtime(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    policy = runtime.policy.value
    Console(stderr=True).print(
        f"distillguard guard: policy {policy.name} revision {policy.revision}, "
        f"store {settings.store}, fail-{policy.fail_mode.value}, "
        f"listening on http://{args.host}:{args.port}/v1/decide",
        highlight=False,
    )
    uvicorn.run(create_app(runtime), host=args.host, port=args.port, log_level="warning")
    return 0
