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
from distillguard.detectors.semantic.frame import bare, semantic_frame

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


@dataclass(frozen=True)
class AccountTable:
    """Every sampled account as flat arrays, accounts in id order (as :func:`accounts`).

    The rows of account ``i`` are ``order[starts[i] : starts[i] + sizes[i]]``, ascending: the
    groups of :func:`~distillguard.detectors.semantic.frame.account_rows`.  A detector can
    then judge all accounts of one sample size in one array operation and build a
    :class:`Subject` only for the few it reports (349k accounts at 16M exchanges).
    """

    ids: list[str]
    order: npt.NDArray[np.int64]
    starts: npt.NDArray[np.int64]
    sizes: npt.NDArray[np.int64]
    exchanges: npt.NDArray[np.int64]
    distinct_prompts: npt.NDArray[np.int64]

    def rows(self, account: int) -> npt.NDArray[np.int64]:
        """The frame rows of account number ``account`` (ascending)."""
        start = int(self.starts[account])
        return self.order[start : start + int(self.sizes[account])]

    def rows_of(self, chosen: npt.NDArray[np.intp], size: int) -> npt.NDArray[np.int64]:
        """The rows of the ``chosen`` accounts, all of ``size`` rows: one row of the result
        per account."""
        offsets = np.arange(size, dtype=np.int64)
        result: npt.NDArray[np.int64] = self.order[self.starts[chosen][:, None] + offsets]
        return result

    def sums(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Each account's sum of a per-row value (in row order)."""
        if len(self.ids) == 0:
            return np.zeros(0)
        result: npt.NDArray[np.float64] = np.add.reduceat(values[self.order], self.starts)
        return result

    def subject(self, account: int) -> Subject:
        """The :class:`Subject` of account number ``account``."""
        name = self.ids[account]
        return Subject(
            subject=name,
            kind="account",
            rows=self.rows(account),
            members=(name,),
            exchanges=int(self.exchanges[account]),
            distinct_prompts=int(self.distinct_prompts[account]),
        )


def account_table(frame: pd.DataFrame) -> AccountTable:
    """The :class:`AccountTable` of the semantic frame."""
    codes, uniques = pd.factorize(bare(frame)["account_id"], sort=True)
    ids = [str(a) for a in uniques.tolist()]
    order = np.argsort(codes, kind="stable").astype(np.int64)
    sizes = np.bincount(codes, minlength=len(ids)).astype(np.int64)
    starts = np.cumsum(sizes) - sizes
    counts = frame.attrs["accounts"]
    where = pd.Index([str(a) for a in counts.index.tolist()]).get_indexer(ids)
    if (where < 0).any():
        raise KeyError(ids[int(np.flatnonzero(where < 0)[0])])
    return AccountTable(
        ids=ids,
        order=order,
        starts=starts,
        sizes=sizes,
        exchanges=counts["exchanges"].to_numpy()[where].astype(np.int64),
        distinct_prompts=counts["distinct_prompts"].to_numpy()[where].astype(np.int64),
    )


def accounts(context: ScanContext) -> list[Subject]:
    """Every account with at least one sampled prompt, in id order."""
    table = account_table(semantic_frame(context))
    return [table.subject(account) for account in range(len(table.ids))]


def fleets(context: ScanContext, fleet_cap: int) -> list[Subject]:
    """Every coordinated cluster with at least two sampled members, in id order."""
    from distillguard.detectors.coordination import find_clusters
    from distillguard.detectors.coordination.scoring import tied_by_content_only

    frame = semantic_frame(context)
    table = account_table(frame)
    number = {account: i for i, account in enumerate(table.ids)}
    ranks = bare(frame)["rank"].to_numpy()
    findings = find_clusters(context)
    out = []
    for cid in sorted(findings.clusters):
        members = tuple(m for m in findings.clusters[cid] if m in number)
        if len(members) < 2:
            continue
        rows = np.concatenate([table.rows(number[m]) for m in members])
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
                exchanges=sum(int(table.exchanges[number[m]]) for m in members),
                distinct_prompts=sum(int(table.distinct_prompts[number[m]]) for m in members),
                diversity=float(profile.diversity) if profile is not None else 1.0,
                family="template" if content_only else None,
            )
        )
    return out


def tag_mix(frame: pd.DataFrame, rows: npt.NDArray[np.int64]) -> list[tuple[str, float]]:
    """(tag, share) of a subject's sampled prompts, largest first."""
    shares = bare(frame)["tag"].iloc[rows].value_counts(normalize=True)
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
