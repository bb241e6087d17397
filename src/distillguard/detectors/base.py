"""What every detector shares: its identity card and the evidence it emits.

Detectors only observe: they return typed `Evidence` with a strength in [0, 1] and a plain
summary with numbers.  Scoring turns evidence into scores and verdicts, the policy into
actions; no detector decides or blocks.  Evidence belongs to a *family* (prompt, template,
behaviour, infrastructure, coordination, drift, ...) so that a confident verdict can require
several independent kinds of evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FAMILIES = (
    "prompt",
    "template",
    "semantic",
    "behaviour",
    "infrastructure",
    "coordination",
    "drift",
    "intel",
)
"""Independent kinds of evidence; a `distillation` verdict needs at least two."""

ATLAS = {
    "extract_model": "AML.T0024.002",  # Extract AI Model
    "establish_accounts": "AML.T0021",  # Establish Accounts
    "ai_service_proxies": "AML.T0008.005",  # AI Service Proxies
}


@dataclass(frozen=True)
class DetectorInfo:
    """A detector's stable identity: results record id and version."""

    id: str
    """Stable id such as ``DG-101``; never reused for another meaning."""
    version: str
    name: str
    description: str
    family: str
    atlas: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.id.startswith("DG-"):
            raise ValueError(f"detector id {self.id!r} must look like DG-123")
        if self.family not in FAMILIES:
            raise ValueError(f"detector {self.id}: unknown family {self.family!r}")


EXPLAINED = "explained"
"""Key of an evidence's ``details`` for the share (0 to 1) of its undiscounted strength that
a known benign cause accounts for (a customer's own application instruction, DG-205); the
strength is already discounted by it.  Scoring does not let evidence mostly explained put
an account up for review on its own harvest evidence (scoring/combine.py, step 4)."""


@dataclass(frozen=True)
class Evidence:
    """One observation about one account or cluster, with its strength and its words."""

    detector: str
    """The emitting detector's id (``DG-xxx``)."""
    family: str
    subject: str
    """An account id, or a cluster id when ``subject_kind`` is ``cluster``."""
    strength: float
    """How strongly this points at distillation, in [0, 1]."""
    summary: str
    """Plain words with numbers, e.g. '91% of 1,204 prompts ask for step-by-step reasoning'."""
    subject_kind: str = "account"
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.strength <= 1.0:
            raise ValueError(f"{self.detector}: strength {self.strength} outside [0, 1]")
        if self.family not in FAMILIES:
            raise ValueError(f"{self.detector}: unknown family {self.family!r}")
        if self.subject_kind not in ("account", "cluster"):
            raise ValueError(f"{self.detector}: subject_kind must be account or cluster")
