"""The latest batch verdicts, indexed for the request path.

The batch scan finds campaigns after the fact; the guard carries its findings into the
request path: an account's own verdict, its cluster's verdict, and the cluster's
*indicators* (shared wrappers, templates, subnets, organisations) so that a new account
that turns up with a known campaign's wrapper or infrastructure is recognised before any
batch run has seen it.  Only indicators of flagged clusters are indexed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from distillguard.results.model import FLAGGED_VERDICTS, AccountResult, ClusterResult
from distillguard.results.reader import read_results
from distillguard.results.writer import ACCOUNTS_FILE, CLUSTERS_FILE, SUMMARY_FILE

MATCHED_INDICATOR_KINDS = (
    "wrapper",
    "template",
    "instruction_sentence",
    "client_subnet",
    "organization_id",
)
"""Indicator kinds the guard can compare with a live request."""


@dataclass(frozen=True)
class VerdictSnapshot:
    """Batch verdicts as of one results directory."""

    accounts: dict[str, AccountResult] = field(default_factory=dict)
    clusters: dict[str, ClusterResult] = field(default_factory=dict)
    indicators: dict[tuple[str, str], ClusterResult] = field(default_factory=dict)
    source: str = "(none)"

    def cluster_of(self, account_id: str) -> ClusterResult | None:
        account = self.accounts.get(account_id)
        if account is None or account.cluster_id is None:
            return None
        return self.clusters.get(account.cluster_id)

    def indicator_match(self, kind: str, value: str | None) -> ClusterResult | None:
        if value is None:
            return None
        return self.indicators.get((kind, value))


EMPTY = VerdictSnapshot()


def load_verdicts(directory: Path) -> VerdictSnapshot:
    """Read and index a results directory (raises ``UserError`` if it does not validate)."""
    results = read_results(directory)
    clusters = {c.cluster_id: c for c in results.clusters}
    indicators: dict[tuple[str, str], ClusterResult] = {}
    for cluster in sorted(results.clusters, key=lambda c: c.score):  # strongest wins
        if cluster.verdict not in FLAGGED_VERDICTS:
            continue
        for indicator in cluster.indicators:
            if indicator.kind in MATCHED_INDICATOR_KINDS:
                indicators[(indicator.kind, indicator.value)] = cluster
    return VerdictSnapshot(
        accounts={a.account_id: a for a in results.accounts},
        clusters=clusters,
        indicators=indicators,
        source=str(directory),
    )


def verdict_files(directory: Path) -> list[Path]:
    """The files whose change means new verdicts."""
    return [directory / ACCOUNTS_FILE, directory / CLUSTERS_FILE, directory / SUMMARY_FILE]
