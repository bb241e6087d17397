"""Typed records of a scan's outputs (CONTRACT.md, "Outputs of distillguard scan").

Detectors, baselines and the real scan all hand these records to one writer, so that
every results directory has the same shape and the same validation; the reader turns a
directory back into the same records.  Validation lives here, next to the fields it
checks, so writer and reader cannot drift apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from distillguard.schema import VERDICTS

FLAGGED_VERDICTS = ("review", "distillation")
"""Verdicts that put an account in front of a person (or beyond)."""


@dataclass(frozen=True)
class Reason:
    """One piece of evidence behind a score, in plain words.

    ``weight`` is how much this evidence contributed; reasons are written strongest
    (largest absolute weight) first.
    """

    detector: str
    summary: str
    weight: float


@dataclass(frozen=True)
class Indicator:
    """Something a cluster's accounts share: infrastructure or a template fingerprint.

    ``kind`` names what is shared (``client_ip``, ``user_agent``, ``payment_fingerprint``,
    ``template``...), ``value`` is the shared value (hashed where it would leak data) and
    ``accounts`` how many of the cluster's accounts share it.
    """

    kind: str
    value: str
    accounts: int


@dataclass(frozen=True)
class AccountResult:
    """One line of ``accounts.jsonl``: an account's score, verdict and evidence."""

    account_id: str
    score: float
    verdict: str
    cluster_id: str | None = None
    reasons: list[Reason] = field(default_factory=list)


@dataclass(frozen=True)
class ClusterResult:
    """One line of ``clusters.jsonl``: a coordinated group of accounts and what ties it."""

    cluster_id: str
    account_ids: list[str]
    score: float
    verdict: str
    exchanges: int
    capabilities: list[str] = field(default_factory=list)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    reasons: list[Reason] = field(default_factory=list)
    indicators: list[Indicator] = field(default_factory=list)


def score_problem(score: object) -> str | None:
    """Why ``score`` is not a valid contract score, or ``None`` when it is."""
    if isinstance(score, bool) or not isinstance(score, int | float):
        return f"must be a number in [0, 1], got {type(score).__name__}"
    if not math.isfinite(score) or not 0.0 <= score <= 1.0:
        return f"must be a number in [0, 1], got {score!r}"
    return None


def verdict_problem(verdict: object) -> str | None:
    """Why ``verdict`` is not one of the contract's verdicts, or ``None`` when it is."""
    if verdict not in VERDICTS:
        return f"must be one of {', '.join(VERDICTS)}, got {verdict!r}"
    return None


def weight_problem(weight: object) -> str | None:
    """Why a reason's ``weight`` is not a finite number, or ``None`` when it is."""
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        return f"must be a number, got {type(weight).__name__}"
    if not math.isfinite(weight):
        return f"must be a finite number, got {weight!r}"
    return None
