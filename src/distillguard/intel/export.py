"""Turn a scan's clusters into one validated STIX 2.1 bundle that is safe to share.

The scan's results say *which* accounts form a campaign; the store says *what* ties them
(cards, networks, wrappers).  Export reads both, applies the sharing rules of
:mod:`.selection`, builds the STIX objects of :mod:`.stix` and validates the bundle with the
OASIS validator before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from distillguard.intel.fingerprint import MIN_BANDS
from distillguard.intel.keys import SharingKey
from distillguard.intel.observe import Observations
from distillguard.intel.selection import Population, SharingRules, shared_values
from distillguard.intel.stix import CampaignExport, build_bundle
from distillguard.intel.validate import ValidationReport, require_valid
from distillguard.results.model import FLAGGED_VERDICTS

if TYPE_CHECKING:
    from distillguard.results.reader import Results

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ExportOutcome:
    """The bundle, what went into it and what the validator said."""

    bundle: dict[str, Any]
    campaigns: list[CampaignExport]
    skipped: dict[str, str]
    """Cluster id -> why it was not shared."""
    validation: ValidationReport


def _detector_atlas(results: Results) -> dict[str, list[str]]:
    return {
        str(d.get("id")): [str(a) for a in d.get("atlas", [])]
        for d in results.summary.get("detectors", [])
        if isinstance(d, dict)
    }


def export_bundle(
    results: Results,
    obs: Observations,
    key: SharingKey,
    *,
    producer: str,
    rules: SharingRules,
    verdicts: tuple[str, ...] = ("distillation",),
    actor: str | None = None,
    min_bands: int = MIN_BANDS,
) -> ExportOutcome:
    """Build and validate the bundle of every cluster whose verdict is in ``verdicts``."""
    flagged = {a.account_id for a in results.accounts if a.verdict in FLAGGED_VERDICTS}
    population = Population.of(obs, flagged)
    atlas_of = _detector_atlas(results)
    campaigns: list[CampaignExport] = []
    skipped: dict[str, str] = {}
    for cluster in sorted(results.clusters, key=lambda c: c.cluster_id):
        if cluster.verdict not in verdicts:
            continue
        if len(cluster.account_ids) < rules.min_accounts:
            skipped[cluster.cluster_id] = (
                f"{len(cluster.account_ids)} accounts, below the k-floor of {rules.min_accounts}"
            )
            continue
        values = shared_values(cluster.account_ids, population, key, rules)
        if not values:
            skipped[cluster.cluster_id] = (
                f"no value is shown by at least {rules.min_accounts} of its accounts and "
                "specific to the campaign"
            )
            continue
        atlas = sorted({a for r in cluster.reasons for a in atlas_of.get(r.detector, [])})
        campaigns.append(
            CampaignExport(
                cluster_id=cluster.cluster_id,
                accounts=len(cluster.account_ids),
                exchanges=cluster.exchanges,
                capabilities=list(cluster.capabilities),
                first_seen=cluster.first_seen,
                last_seen=cluster.last_seen,
                values=values,
                atlas=atlas,
            )
        )
    created = max((c.last_seen or EPOCH for c in campaigns), default=EPOCH)
    if created == EPOCH:
        created = datetime.now(UTC).replace(microsecond=0)
    bundle = build_bundle(
        campaigns,
        producer=producer,
        key_id=key.key_id,
        min_bands=min_bands,
        created=created,
        actor=actor,
    )
    validation = require_valid(bundle, "the exported bundle")
    return ExportOutcome(bundle, campaigns, skipped, validation)
