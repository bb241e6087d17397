"""Score a results directory against ground truth.

A detector for distillation is only useful if it catches campaigns *and* leaves paying
customers alone, so besides precision and recall this module reports how often each
benign population is flagged (the hard negatives: NAT'd corporate teams, benchmark
companies, labeling firms...), recall per campaign, recall weighted by harvested
exchanges, ranking quality (ROC-AUC, recall at a fixed benign false-positive rate) and
how well predicted clusters match campaigns.

Joining rules: an account in the labels but not in the results counts as score 0 and
verdict ``benign`` (a scan that skips an account has not flagged it); an account in the
results but not in the labels is counted and otherwise ignored.  Every ratio whose
denominator is zero is ``None`` and a note says why, never a made-up 0 or 1.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from distillguard.evaluation.labels import LabelRecord
from distillguard.results.model import FLAGGED_VERDICTS, AccountResult

DEFAULT_FPR_TARGETS = (0.01, 0.001)
UNATTRIBUTED = "(unattributed)"
"""Campaign name given to distillation accounts whose label has no campaign."""


@dataclass(frozen=True)
class BinaryMetrics:
    """Confusion counts and the usual ratios for one way of calling an account positive.

    ``f1`` is ``2·tp / (2·tp + fp + fn)``, defined whenever there is any positive label
    or prediction, so a detector that flags nothing scores 0 rather than ``None``.
    """

    tp: int
    fp: int
    fn: int
    tn: int
    precision: float | None
    recall: float | None
    f1: float | None


@dataclass(frozen=True)
class PopulationFlags:
    """How often a benign population is flagged: each flag is a false positive."""

    population: str
    accounts: int
    flagged: int
    distillation: int
    flag_rate: float
    distillation_rate: float


@dataclass(frozen=True)
class CampaignRecall:
    """How much of one campaign was caught, by accounts and by harvested exchanges."""

    campaign: str
    accounts: int
    exchanges: int
    flagged: int
    distillation: int
    recall_flagged: float
    recall_distillation: float
    exchange_recall_flagged: float | None


@dataclass(frozen=True)
class RecallAtFpr:
    """Recall of the score at the loosest threshold whose benign FPR stays ≤ the target.

    An account is flagged when ``score >= threshold``.  Ties are conservative: every
    benign account scoring exactly the threshold counts as a false positive, so the
    threshold is strictly above the (k+1)-th highest benign score, k = ⌊target · benign⌋,
    and a distillation account tied with that benign score is *not* caught.
    ``threshold`` is the lowest observed score meeting that bound (``None``: flag
    nothing); ``benign_fpr`` is the false-positive rate actually reached.
    """

    target_fpr: float
    threshold: float | None
    benign_fpr: float | None
    recall: float | None


@dataclass(frozen=True)
class ClusterMetrics:
    """How predicted clusters line up with campaigns.

    The true group of a distillation account is its campaign; benign accounts form one
    group, ``benign``.  Only labelled accounts with a ``cluster_id`` are in a predicted
    cluster.  Clusters of benign accounts only (a company team, a class) are real groups
    of related customers and are judged by the flag rates, not here.

    * ``purity`` = Σ_k max_g |k ∩ g| / Σ_k |k| over the *campaign clusters* k (those with
      at least one distillation account): the size-weighted share of each cluster's
      accounts that belong to its majority group, so a cluster that mixes two campaigns, or
      a campaign and customers, is impure.  ``None`` when no cluster holds a campaign.
    * ``completeness`` = Σ_c max_k |c ∩ k| / Σ_c |c| over campaigns c: per campaign, the
      share of its accounts in its single largest predicted cluster, averaged over
      campaigns weighted by size (unclustered accounts count against it, so with no
      clusters it is 0).  ``None`` when there are no distillation accounts.
    """

    clusters: int
    clustered_accounts: int
    purity: float | None
    completeness: float | None


@dataclass(frozen=True)
class Coverage:
    """How the labels and the results overlap."""

    labelled_accounts: int
    result_accounts: int
    missing_from_results: int
    unlabelled_in_results: int
    distillation_accounts: int
    benign_accounts: int


@dataclass(frozen=True)
class Evaluation:
    """Everything :func:`evaluate` measures; ``to_dict`` gives the JSON form."""

    coverage: Coverage
    distillation: BinaryMetrics
    flagged: BinaryMetrics
    exchange_recall_flagged: float | None
    exchange_recall_distillation: float | None
    roc_auc: float | None
    recall_at_fpr: list[RecallAtFpr]
    benign_populations: list[PopulationFlags]
    campaigns: list[CampaignRecall]
    clusters: ClusterMetrics
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def binary_metrics(truth: np.ndarray, predicted: np.ndarray) -> BinaryMetrics:
    """Confusion counts, precision, recall and F1 of boolean predictions."""
    tp = int(np.sum(truth & predicted))
    fp = int(np.sum(~truth & predicted))
    fn = int(np.sum(truth & ~predicted))
    tn = int(np.sum(~truth & ~predicted))
    return BinaryMetrics(
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
        precision=_ratio(tp, tp + fp),
        recall=_ratio(tp, tp + fn),
        f1=_ratio(2 * tp, 2 * tp + fp + fn),
    )


def roc_auc(truth: np.ndarray, scores: np.ndarray) -> tuple[float | None, str | None]:
    """ROC-AUC of the score, or ``None`` with the reason it is undefined."""
    if truth.all() or not truth.any():
        return None, "ROC-AUC undefined: the labels hold only one class"
    if np.all(scores == scores[0]):
        return None, "ROC-AUC undefined: every account has the same score"
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(truth, scores)), None


def recall_at_fpr(truth: np.ndarray, scores: np.ndarray, target: float) -> RecallAtFpr:
    """Recall at the loosest threshold keeping benign FPR ≤ ``target`` (see RecallAtFpr)."""
    positives = scores[truth]
    negatives = np.sort(scores[~truth])[::-1]
    if positives.size == 0 or negatives.size == 0:
        return RecallAtFpr(target, None, None, None)
    allowed = math.floor(target * negatives.size + 1e-9)
    if allowed >= negatives.size:
        return RecallAtFpr(target, float(scores.min()), 1.0, 1.0)
    cut = negatives[allowed]
    above = scores[scores > cut]
    threshold = float(above.min()) if above.size else None
    return RecallAtFpr(
        target_fpr=target,
        threshold=threshold,
        benign_fpr=float(np.sum(negatives > cut)) / negatives.size,
        recall=float(np.sum(positives > cut)) / positives.size,
    )


def _campaign(label: LabelRecord) -> str:
    return label.campaign if label.campaign is not None else UNATTRIBUTED


def cluster_metrics(
    labels: Sequence[LabelRecord], cluster_ids: Sequence[str | None]
) -> ClusterMetrics:
    """Purity and completeness of predicted clusters (definitions on ClusterMetrics)."""
    members: dict[str, Counter[str]] = defaultdict(Counter)
    for label, cluster_id in zip(labels, cluster_ids, strict=True):
        if cluster_id is None:
            continue
        group = f"campaign:{_campaign(label)}" if label.is_distillation else "benign"
        members[cluster_id][group] += 1
    clustered = sum(sum(c.values()) for c in members.values())
    campaign_clusters = [c for c in members.values() if set(c) != {"benign"}]
    purity = _ratio(
        sum(max(c.values()) for c in campaign_clusters),
        sum(sum(c.values()) for c in campaign_clusters),
    )

    campaign_sizes: Counter[str] = Counter(_campaign(lb) for lb in labels if lb.is_distillation)
    largest: dict[str, int] = dict.fromkeys(campaign_sizes, 0)
    for counts in members.values():
        for group, count in counts.items():
            if group.startswith("campaign:"):
                name = group.removeprefix("campaign:")
                largest[name] = max(largest[name], count)
    completeness = _ratio(sum(largest.values()), sum(campaign_sizes.values()))
    return ClusterMetrics(
        clusters=len(members),
        clustered_accounts=clustered,
        purity=purity,
        completeness=completeness,
    )


def evaluate(
    labels: Mapping[str, LabelRecord],
    accounts: Sequence[AccountResult],
    fpr_targets: Sequence[float] = DEFAULT_FPR_TARGETS,
) -> Evaluation:
    """Measure ``accounts`` (a results directory's accounts) against ``labels``.

    Labelled accounts that sent no exchange are left out: they never appear in the logs,
    so no detector can see them (the contract lists only accounts seen in exchanges).
    """
    notes: list[str] = []
    silent = sum(1 for lb in labels.values() if lb.exchanges == 0)
    if silent:
        notes.append(f"{silent} labelled accounts sent no exchange: left out (invisible in logs)")
        labels = {k: lb for k, lb in labels.items() if lb.exchanges > 0}
    by_id = {a.account_id: a for a in accounts}
    ordered = [labels[k] for k in sorted(labels)]
    found = [by_id.get(lb.account_id) for lb in ordered]
    missing = sum(1 for r in found if r is None)
    unlabelled = sum(1 for k in by_id if k not in labels)
    if missing:
        notes.append(
            f"{missing} labelled accounts are not in the results: counted as score 0, benign"
        )
    if unlabelled:
        notes.append(f"{unlabelled} result accounts are not in the labels: ignored")

    truth = np.array([lb.is_distillation for lb in ordered], dtype=bool)
    scores = np.array([r.score if r else 0.0 for r in found], dtype=float)
    verdicts = [r.verdict if r else "benign" for r in found]
    is_distillation = np.array([v == "distillation" for v in verdicts], dtype=bool)
    is_flagged = np.array([v in FLAGGED_VERDICTS for v in verdicts], dtype=bool)
    exchanges = np.array([lb.exchanges for lb in ordered], dtype=float)
    if not truth.any():
        notes.append("no distillation accounts in the labels: recall is undefined")
    if truth.all():
        notes.append("no benign accounts in the labels: false-positive rates are undefined")

    auc, auc_note = roc_auc(truth, scores)
    if auc_note:
        notes.append(auc_note)

    positive_exchanges = float(exchanges[truth].sum())
    populations: dict[str, list[int]] = defaultdict(list)
    campaigns: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(ordered):
        if label.is_distillation:
            campaigns[_campaign(label)].append(index)
        else:
            populations[label.population].append(index)

    benign_rows = []
    for population in sorted(populations):
        idx = populations[population]
        flagged, dist = int(is_flagged[idx].sum()), int(is_distillation[idx].sum())
        benign_rows.append(
            PopulationFlags(
                population, len(idx), flagged, dist, flagged / len(idx), dist / len(idx)
            )
        )
    campaign_rows = []
    for campaign in sorted(campaigns):
        idx = campaigns[campaign]
        flagged, dist = int(is_flagged[idx].sum()), int(is_distillation[idx].sum())
        total = float(exchanges[idx].sum())
        campaign_rows.append(
            CampaignRecall(
                campaign=campaign,
                accounts=len(idx),
                exchanges=int(total),
                flagged=flagged,
                distillation=dist,
                recall_flagged=flagged / len(idx),
                recall_distillation=dist / len(idx),
                exchange_recall_flagged=_ratio(float(exchanges[idx][is_flagged[idx]].sum()), total),
            )
        )

    clusters = cluster_metrics(ordered, [r.cluster_id if r else None for r in found])
    if clusters.clusters == 0:
        notes.append("no clusters in the results: purity is undefined")

    return Evaluation(
        coverage=Coverage(
            labelled_accounts=len(ordered),
            result_accounts=len(by_id),
            missing_from_results=missing,
            unlabelled_in_results=unlabelled,
            distillation_accounts=int(truth.sum()),
            benign_accounts=int((~truth).sum()),
        ),
        distillation=binary_metrics(truth, is_distillation),
        flagged=binary_metrics(truth, is_flagged),
        exchange_recall_flagged=_ratio(
            float(exchanges[truth & is_flagged].sum()), positive_exchanges
        ),
        exchange_recall_distillation=_ratio(
            float(exchanges[truth & is_distillation].sum()), positive_exchanges
        ),
        roc_auc=auc,
        recall_at_fpr=[recall_at_fpr(truth, scores, t) for t in fpr_targets],
        benign_populations=benign_rows,
        campaigns=campaign_rows,
        clusters=clusters,
        notes=notes,
    )
