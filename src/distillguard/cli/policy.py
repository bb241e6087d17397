"""Check a guard policy file and show what it will do.

Validates every field (collecting all problems, each with its line) and prints the rules
in the order the guard tries them.  Exit status 0 when the policy is valid, 2 otherwise,
so it can gate a deployment.

example:
  distillguard policy check examples/policy.yaml
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

HELP = "validate a guard policy file"


def register(parser: argparse.ArgumentParser) -> None:
    """Add `policy check FILE`."""
    actions = parser.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate a policy file", description=__doc__)
    check.add_argument("file", type=Path, help="policy YAML")


def _condition(rule: object) -> str:
    from distillguard.policy.model import Rule

    assert isinstance(rule, Rule)
    when = rule.when
    parts = []
    if when.verdicts:
        parts.append("verdict in " + "/".join(sorted(when.verdicts)))
    if when.min_score is not None:
        parts.append(f"score >= {when.min_score:g}")
    if when.max_score is not None:
        parts.append(f"score < {when.max_score:g}")
    if when.cluster_verdicts:
        parts.append("cluster verdict in " + "/".join(sorted(when.cluster_verdicts)))
    if when.min_cluster_score is not None:
        parts.append(f"cluster score >= {when.min_cluster_score:g}")
    return " and ".join(parts) or "always"


def run(args: argparse.Namespace) -> int:
    """Validate and summarise the policy."""
    from distillguard.policy.parser import load_policy

    policy = load_policy(args.file)
    console = Console()
    console.print(
        f"[green]ok[/] {args.file}: policy {policy.name!r} revision {policy.revision!r}, "
        f"fail-{policy.fail_mode.value}, bands review {policy.bands.review:g} / "
        f"distillation {policy.bands.distillation:g}",
        highlight=False,
    )
    table = Table("#", "rule", "when", "action", "protect outputs")
    for index, rule in enumerate((*policy.rules, policy.default), start=1):
        table.add_row(
            str(index),
            rule.name,
            _condition(rule),
            rule.action.value,
            rule.protect_outputs.value,
        )
    console.print(table)
    return 0
