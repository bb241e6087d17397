"""Read the simulator's ground truth, ``labels.jsonl`` (one line per account).

Each line is ``{"account_id", "population", "label", "campaign", "exchanges"}`` where
``label`` is ``benign`` or ``distillation`` and ``campaign`` names the attack campaign of
a distillation account (``null`` for benign ones).  Population and campaign names are an
open set: a new simulator population must not need a change here.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from distillguard.errors import UserError

LABELS = ("benign", "distillation")
FIX_HINT = "fix that line, or regenerate the labels with `distillguard simulate`"


@dataclass(frozen=True)
class LabelRecord:
    """The truth about one account."""

    account_id: str
    population: str
    label: str
    campaign: str | None
    exchanges: int

    @property
    def is_distillation(self) -> bool:
        return self.label == "distillation"


def _open(path: Path) -> io.BufferedIOBase:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return path.open("rb")


def _field(path: Path, number: int, record: dict[str, Any], name: str, kind: type) -> Any:
    where = f"{path}, line {number}, field '{name}'"
    if name not in record:
        raise UserError(f"{where}: is missing; {FIX_HINT}")
    value = record[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise UserError(f"{where}: must be {kind.__name__}, got {type(value).__name__}; {FIX_HINT}")
    return value


def read_labels(path: Path) -> dict[str, LabelRecord]:
    """Read and validate a labels file; keyed by account id.

    Every problem (invalid JSON, a missing or mistyped field, an unknown label, a
    negative exchange count, a duplicate account) is a ``UserError`` naming the line.
    """
    if not path.is_file():
        raise UserError(f"{path} not found: pass the labels.jsonl written by the simulator")
    out: dict[str, LabelRecord] = {}
    with _open(path) as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as error:
                raise UserError(
                    f"{path}, line {number}: invalid JSON ({error}); {FIX_HINT}"
                ) from None
            if not isinstance(record, dict):
                raise UserError(f"{path}, line {number}: must be a JSON object; {FIX_HINT}")
            account_id = _field(path, number, record, "account_id", str)
            population = _field(path, number, record, "population", str)
            label = _field(path, number, record, "label", str)
            if label not in LABELS:
                raise UserError(
                    f"{path}, line {number}, field 'label': must be benign or distillation, "
                    f"got {label!r}; {FIX_HINT}"
                )
            campaign = record.get("campaign")
            if campaign is not None and not isinstance(campaign, str):
                raise UserError(
                    f"{path}, line {number}, field 'campaign': must be a string or null; {FIX_HINT}"
                )
            exchanges = _field(path, number, record, "exchanges", int)
            if exchanges < 0:
                raise UserError(
                    f"{path}, line {number}, field 'exchanges': must be >= 0; {FIX_HINT}"
                )
            if account_id in out:
                raise UserError(
                    f"{path}, line {number}, field 'account_id': {account_id!r} appears on an "
                    f"earlier line; {FIX_HINT}"
                )
            out[account_id] = LabelRecord(account_id, population, label, campaign, exchanges)
    return out
