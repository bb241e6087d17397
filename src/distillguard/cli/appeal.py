"""Reverse a guard decision about an account, on the record, or list standing appeals.

The reversal is appended to the appeals file (which a running guard reloads within a
second and honours on the account's next request) and to the audit log.  `--restore`
caps what the guard may do to the account from now on (allow by default); `--withdraw`
ends a standing appeal.  Every appeal needs an analyst and a reason: both are audited.

examples:
  distillguard appeal acct-123 --analyst maria --reason "university cohort, verified" \\
      --appeals guard/appeals.jsonl --audit guard/audit.jsonl --decision 9f2c...
  distillguard appeal --list --appeals guard/appeals.jsonl
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from distillguard.errors import UserError

HELP = "reverse a guard decision (appeal) or list standing appeals"


def register(parser: argparse.ArgumentParser) -> None:
    """Add the appeal's arguments."""
    parser.add_argument("account", nargs="?", help="the account whose decision is reversed")
    parser.add_argument("--appeals", type=Path, required=True, help="the guard's appeals file")
    parser.add_argument("--audit", type=Path, help="the guard's audit log (appeal is recorded)")
    parser.add_argument("--analyst", help="who decides (recorded)")
    parser.add_argument("--reason", help="why (recorded)")
    parser.add_argument("--decision", help="decision_id being reversed (from the audit log)")
    parser.add_argument(
        "--restore",
        default="allow",
        choices=["allow", "monitor", "protect_outputs"],
        help="the most the guard may do to the account from now on (default allow)",
    )
    parser.add_argument("--withdraw", action="store_true", help="end the account's appeal")
    parser.add_argument("--list", action="store_true", help="list standing appeals and exit")


def _list(path: Path) -> int:
    from distillguard.policy.appeals import read_appeals

    table = Table("account", "restore", "analyst", "reason", "decision", "appeal")
    for appeal in read_appeals(path).values():
        table.add_row(
            appeal.account_id,
            appeal.restore.value,
            appeal.analyst,
            appeal.reason,
            appeal.decision_id or "—",
            appeal.appeal_id,
        )
    Console().print(table)
    return 0


def run(args: argparse.Namespace) -> int:
    """Record the appeal (or list)."""
    from distillguard.policy.appeals import record_appeal
    from distillguard.policy.audit import AuditLog
    from distillguard.policy.model import Action

    if args.list:
        return _list(args.appeals)
    missing = [f for f in ("account", "analyst", "reason") if not getattr(args, f)]
    if missing:
        names = ", ".join("ACCOUNT" if f == "account" else f"--{f}" for f in missing)
        raise UserError(f"an appeal needs {names}: who is reversed, by whom and why")
    audit = AuditLog(args.audit) if args.audit else None
    appeal = record_appeal(
        args.appeals,
        audit,
        account_id=args.account,
        analyst=args.analyst,
        reason=args.reason,
        restore=Action(args.restore),
        decision_id=args.decision,
        withdrawn=args.withdraw,
    )
    if audit is not None:
        audit.close()
    verb = "withdrew the appeal for" if args.withdraw else f"restored {args.restore} for"
    Console().print(f"appeal {appeal.appeal_id}: {args.analyst} {verb} {args.account}")
    return 0
