"""Subjects of the semantic detectors: single accounts and fleets, with their prompt sample.

A *fleet* is a coordinated cluster found by the coordination stage (accounts tied by rare
shared infrastructure, payment, sign-up or templates).  Per-account query detectors fail when
a campaign spreads its traffic over many accounts, each too small to judge; the fleet pools
its members' samples so the semantic tests see the campaign as one subject.  A fleet's sample
is capped (``fleet_cap`` prompts, the lowest-ranked ones, so it is the same in every run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from distillguard.detectors.base import DetectorInfo, Evidence
from distillguard.detectors.behaviour.common import ramp, rounded
from distillguard.detectors.semantic.frame import account_rows, semantic_frame

if TYPE_CHECKING:
    from distillguard.detectors.context import ScanContext

FLEET_FRAME = "semantic.fleets"


@dataclass(frozen=True)
class Subject:
    """One account or one fleet and the rows of its sampled prompts in the semantic frame."""

    subject: str
    kind: str
    """``account`` or ``cluster``."""
    rows: npt.NDArray[np.int64]
    members: tuple[str, ...]
    exchanges: int
    distinct_prompts: int
    diversity: float = 1.0
    """For a fleet: 1 − the largest declared identity's share of members (0: one company)."""
    family: str | None = None
    """The family its evidence counts in, when not the detector's own: ``template`` for a
    fleet tied by nothing but what its members send (see :func:`fleets`)."""


def _counts(frame: pd.DataFrame) -> tuple[dict[str, int], dict[str, int]]:
    """Exchanges and distinct prompts of each account, as dicts: thousands of ``.at``
    lookups on the frame's counts took longer than the rest of :func:`accounts`."""
    counts = frame.attrs["accounts"]
    ids = [str(a) for a in counts.index.tolist()]
    return (
        dict(zip(ids, counts["exchanges"].tolist(), strict=True)),
        dict(zip(ids, counts["distinct_prompts"].tolist(), strict=True)),
    )


def accounts(context: ScanContext) -> list[Subject]:
    """Every account with at least one sampled prompt, in id order."""
    frame = semantic_frame(context)
    exchanges, distinct = _counts(frame)
    out = []
    for account, rows in account_rows(frame).items():
        out.append(
            Subject(
                subject=account,
                kind="account",
                rows=rows,
                members=(account,),
                exchanges=int(exchanges[account]),
                distinct_prompts=int(distinct[account]),
            )
        )
    return out


def fleets(context: ScanContext, fleet_cap: int) -> list[Subject]:
    """Every coordinated cluster with at least two sampled members, in id order."""
    from distillguard.detectors.coordination import find_clusters
    from distillguard.detectors.coordination.scoring import tied_by_content_only

    frame = semantic_frame(context)
    exchanges, distinct = _counts(frame)
    by_account = account_rows(frame)
    ranks = frame["rank"].to_numpy()
    findings = find_clusters(context)
    out = []
    for cid in sorted(findings.clusters):
        members = tuple(m for m in findings.clusters[cid] if m in by_account)
        if len(members) < 2:
            continue
        rows = np.concatenate([by_account[m] for m in members])
        rows = rows[np.argsort(ranks[rows], kind="stable")][:fleet_cap]
        profile = findings.profiles.get(cid)
        # A crowd tied only by what it sends (a public benchmark harness, a stock phrase):
        # its tie and what its pooled prompts cover are one observation, one family, as
        # for DG-205's pooled signals; a second family must come from elsewhere.
        content_only = profile is not None and tied_by_content_only(profile)
        out.append(
            Subject(
                subject=cid,
                kind="cluster",
                rows=np.sort(rows),
                members=members,
                exchanges=sum(int(exchanges[m]) for m in members),
                distinct_prompts=sum(int(distinct[m]) for m in members),
                diversity=float(profile.diversity) if profile is not None else 1.0,
                family="template" if content_only else None,
            )
        )
    return out


def tag_mix(frame: pd.DataFrame, rows: npt.NDArray[np.int64]) -> list[tuple[str, float]]:
    """(tag, share) of a subject's sampled prompts, largest first."""
    shares = frame["tag"].iloc[rows].value_counts(normalize=True)
    return sorted(((str(t), float(s)) for t, s in shares.items()), key=lambda p: (-p[1], p[0]))


def describe_mix(mix: list[tuple[str, float]], top: int = 3) -> str:
    """'reasoning 62%, grading 20%, chat 9%'."""
    return ", ".join(f"{tag} {100 * share:.0f}%" for tag, share in mix[:top])


def who(subject: Subject) -> str:
    """'account' or 'fleet of 12 accounts', for summaries."""
    if subject.kind == "cluster":
        return f"fleet of {len(subject.members)} accounts"
    return "account"


def subject_cap(
    subject: Subject, account_cap: float, fleet_cap: float, diversity: tuple[float, float]
) -> float:
    """A subject's strength cap: a fleet's is scaled by its identity diversity (one declared
    company running many accounts of its own is not a hydra)."""
    if subject.kind == "cluster":
        return fleet_cap * float(ramp(subject.diversity, *diversity))
    return account_cap


def ramp_product(cap: float, *factors: Callable[[], float]) -> float:
    """``cap × factors[0]() × factors[1]() × …``, left to right, a factor computed only while
    the product is not 0.

    The factors are ramps (in [0, 1]), so a product that reached 0 stays 0 and the value is
    that of the plain product; most subjects fail the first ramp, and a ramp call costs tens
    of microseconds (thousands of accounts are judged by each detector).
    """
    product = cap
    for factor in factors:
        if product == 0.0:
            return 0.0
        product *= factor()
    return product


def make_evidence(
    info: DetectorInfo, subject: Subject, strength: float, summary: str, details: dict[str, object]
) -> Evidence:
    """One semantic observation about an account or a fleet."""
    return Evidence(
        detector=info.id,
        family=subject.family or info.family,
        subject=subject.subject,
        subject_kind=subject.kind,
        strength=rounded(strength),
        summary=summary,
        details={**details, "members": len(subject.members)},
    )
