"""Appeals: an analyst reverses the guard's decision about an account, on the record.

A false positive costs a paying customer their access, so a person must be able to undo a
decision at once and the guard must honour it on its next request.  An appeal is a line in
an append-only appeals file (and a matching ``appeal`` entry in the audit log) that caps
the action the guard may take against an account (``restore``: ``allow`` by default, or
``monitor``).  A later line for the same account with ``withdrawn: true`` ends the cap.
The guard re-reads the file when it changes; the latest line per account wins.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from distillguard.errors import UserError
from distillguard.policy.audit import AuditLog, json_lines
from distillguard.policy.model import Action

RESTORABLE = (Action.ALLOW, Action.MONITOR, Action.PROTECT_OUTPUTS)


@dataclass(frozen=True)
class Appeal:
    """One analyst's reversal (or its withdrawal)."""

    appeal_id: str
    account_id: str
    analyst: str
    reason: str
    restore: Action
    decision_id: str | None
    timestamp: float
    withdrawn: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "appeal_id": self.appeal_id,
            "account_id": self.account_id,
            "analyst": self.analyst,
            "reason": self.reason,
            "restore": self.restore.value,
            "decision_id": self.decision_id,
            "timestamp": self.timestamp,
            "withdrawn": self.withdrawn,
        }


def _appeal_from(record: dict[str, Any], path: Path, number: int) -> Appeal:
    def fail(field: str, problem: str) -> UserError:
        return UserError(
            f"{path}, line {number}, field '{field}': {problem}; appeals files are written by "
            "`distillguard appeal`, fix or remove that line"
        )

    for field in ("appeal_id", "account_id", "analyst", "reason"):
        if not isinstance(record.get(field), str) or not record[field]:
            raise fail(field, "must be a non-empty string")
    try:
        restore = Action(record.get("restore", "allow"))
    except ValueError:
        raise fail("restore", f"must be one of {', '.join(a.value for a in RESTORABLE)}") from None
    if restore not in RESTORABLE:
        raise fail("restore", f"must be one of {', '.join(a.value for a in RESTORABLE)}")
    stamp = record.get("timestamp")
    if not isinstance(stamp, int | float) or isinstance(stamp, bool):
        raise fail("timestamp", "must be epoch seconds")
    return Appeal(
        appeal_id=record["appeal_id"],
        account_id=record["account_id"],
        analyst=record["analyst"],
        reason=record["reason"],
        restore=restore,
        decision_id=record.get("decision_id")
        if isinstance(record.get("decision_id"), str)
        else None,
        timestamp=float(stamp),
        withdrawn=bool(record.get("withdrawn", False)),
    )


def read_appeals(path: Path) -> dict[str, Appeal]:
    """The standing appeal of each account (withdrawn ones removed); missing file: none."""
    standing: dict[str, Appeal] = {}
    if not path.exists():
        return standing
    for number, record in json_lines(path, "appeals are written by `distillguard appeal`"):
        appeal = _appeal_from(record, path, number)
        if appeal.withdrawn:
            standing.pop(appeal.account_id, None)
        else:
            standing[appeal.account_id] = appeal
    return standing


def record_appeal(
    appeals_path: Path,
    audit: AuditLog | None,
    *,
    account_id: str,
    analyst: str,
    reason: str,
    restore: Action = Action.ALLOW,
    decision_id: str | None = None,
    withdrawn: bool = False,
) -> Appeal:
    """Append an appeal (and its audit entry); the guard applies it on its next reload."""
    if restore not in RESTORABLE:
        raise UserError(
            f"--restore {restore.value}: an appeal can restore only "
            f"{', '.join(a.value for a in RESTORABLE)}"
        )
    if not reason.strip():
        raise UserError("--reason is empty: say why the decision is reversed (it is audited)")
    appeal = Appeal(
        appeal_id=uuid.uuid4().hex,
        account_id=account_id,
        analyst=analyst,
        reason=reason,
        restore=restore,
        decision_id=decision_id,
        timestamp=time.time(),
        withdrawn=withdrawn,
    )
    appeals_path.parent.mkdir(parents=True, exist_ok=True)
    with appeals_path.open("ab") as handle:
        handle.write(orjson.dumps(appeal.to_json(), option=orjson.OPT_APPEND_NEWLINE))
    if audit is not None:
        audit.append({"kind": "appeal", **appeal.to_json()})
    return appeal
