"""Turn what the guard knows about one request into a score, a verdict and plain reasons.

Three independent families of evidence, each a contribution in [0, 1]:

``batch``         (DG-711…713) the latest scan's verdict on the account, on its cluster,
                  or on a flagged cluster whose indicator (wrapper, template, subnet,
                  organisation) this request carries; the strongest one counts.
``coordination``  (DG-702) distinct *busy* accounts sending the same instruction wrapper
                  in the window, ramped between ``shared_wrapper_soft`` and ``_hard``;
                  at most :data:`COORDINATION_WEIGHT`.
``rate``          (DG-701) the account's requests in the window, ramped between
                  ``rate_soft`` and ``rate_hard``; at most :data:`RATE_WEIGHT`, below the
                  ``review`` band on its own: a heavy but lone customer is watched, not
                  throttled.

The score is their noisy-or.  Like the batch scan, a confident ``distillation`` verdict
needs two families (or a batch verdict that already is one); one family alone gives at
most ``review``.  Scores are in [0, 1], higher is worse; the policy owns the thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass

from distillguard.guard.request import GuardRequest, RequestFeatures
from distillguard.guard.store import OnlineCounts
from distillguard.guard.verdicts import VerdictSnapshot
from distillguard.policy.model import Policy
from distillguard.results.model import FLAGGED_VERDICTS, ClusterResult, Reason

RATE_WEIGHT = 0.45
COORDINATION_WEIGHT = 0.7
INDICATOR_DISCOUNT = 0.9
"""A new account carrying a flagged cluster's indicator is not yet proven to be the cluster."""
FAMILY_FLOOR = 0.3
"""A family counts towards the two needed for ``distillation`` from this contribution on."""


@dataclass(frozen=True)
class Assessment:
    """The guard's judgement of one request, before the policy picks an action."""

    score: float
    verdict: str
    reasons: tuple[Reason, ...]
    cluster: ClusterResult | None
    families: int
    group: str | None = None
    """Who the request's throttle bucket is shared with: the batch cluster, or else the
    instruction wrapper that several busy accounts are sending (an online cluster)."""


def ramp(value: float, soft: float, hard: float) -> float:
    """0 at or below ``soft``, 1 at or above ``hard``, linear between."""
    if value <= soft:
        return 0.0
    if value >= hard:
        return 1.0
    return (value - soft) / (hard - soft)


def _batch(
    request: GuardRequest, features: RequestFeatures, snapshot: VerdictSnapshot
) -> tuple[float, str, list[Reason], ClusterResult | None]:
    """(contribution, strongest batch verdict, reasons, cluster) from the latest scan."""
    reasons: list[Reason] = []
    contribution, verdict = 0.0, "benign"
    account = snapshot.accounts.get(request.account_id)
    cluster = snapshot.cluster_of(request.account_id)
    if account is not None and account.verdict in FLAGGED_VERDICTS:
        contribution, verdict = account.score, account.verdict
        top = "; ".join(r.summary for r in account.reasons[:2])
        reasons.append(
            Reason(
                "DG-711", f"batch scan judged the account {account.verdict}: {top}", account.score
            )
        )
    if cluster is not None and cluster.verdict in FLAGGED_VERDICTS:
        reasons.append(
            Reason(
                "DG-712",
                f"account belongs to cluster {cluster.cluster_id} ({len(cluster.account_ids)} "
                f"accounts), judged {cluster.verdict} by the batch scan",
                cluster.score,
            )
        )
        if cluster.score > contribution:
            contribution, verdict = cluster.score, cluster.verdict
    if cluster is None and account is None:
        # Only for an account the scan has not judged (a campaign's replacement): one the
        # scan judged was weighed on all its traffic, and a popular tool's wrapper that a
        # campaign also uses is no evidence against the customers who use it.
        for kind, value in (
            ("wrapper", features.wrapper if features.instruction_wrapper else None),
            ("template", features.template if features.instruction_wrapper else None),
            *(("instruction_sentence", s) for s in features.instruction_sentences),
            ("client_subnet", features.client_subnet),
            ("organization_id", request.organization_id),
        ):
            matched = snapshot.indicator_match(kind, value)
            if matched is None:
                continue
            weight = matched.score * INDICATOR_DISCOUNT
            reasons.append(
                Reason(
                    "DG-713",
                    f"request carries the {kind} {value} shared by flagged cluster "
                    f"{matched.cluster_id} ({matched.verdict})",
                    weight,
                )
            )
            if weight > contribution:
                contribution, verdict, cluster = weight, "review", matched
            break
    return contribution, verdict, reasons, cluster


def assess(
    request: GuardRequest,
    features: RequestFeatures,
    counts: OnlineCounts | None,
    snapshot: VerdictSnapshot,
    policy: Policy,
) -> Assessment:
    """Score one request; ``counts`` is None when the state store was unavailable."""
    batch, batch_verdict, reasons, cluster = _batch(request, features, snapshot)
    contributions = [batch]
    signals = policy.signals
    if counts is not None:
        rate = RATE_WEIGHT * ramp(counts.account_requests, signals.rate_soft, signals.rate_hard)
        shared = COORDINATION_WEIGHT * ramp(
            counts.wrapper_accounts, signals.shared_wrapper_soft, signals.shared_wrapper_hard
        )
        if shared > 0:
            reasons.append(
                Reason(
                    "DG-702",
                    f"{counts.wrapper_accounts} busy accounts sent the same instruction wrapper "
                    f"in the last {signals.window_seconds:g} s",
                    shared,
                )
            )
        if rate > 0:
            reasons.append(
                Reason(
                    "DG-701",
                    f"{counts.account_requests:.0f} requests from this account in the last "
                    f"{signals.window_seconds:g} s",
                    rate,
                )
            )
        contributions += [shared, rate]
    remaining = 1.0
    for value in contributions:
        remaining *= 1.0 - value
    score = min(1.0, max(0.0, 1.0 - remaining))
    families = sum(value >= FAMILY_FLOOR for value in contributions)
    if batch_verdict == "distillation" or (score >= policy.bands.distillation and families >= 2):
        verdict = "distillation"
    elif score >= policy.bands.review or batch_verdict == "review":
        verdict = "review"
    else:
        verdict = "benign"
    reasons.sort(key=lambda r: -abs(r.weight))
    group = f"cluster:{cluster.cluster_id}" if cluster is not None else None
    if (
        group is None
        and counts is not None
        and counts.wrapper_accounts > signals.shared_wrapper_soft
    ):
        group = f"wrapper:{features.wrapper}"
    return Assessment(score, verdict, tuple(reasons), cluster, families, group)
