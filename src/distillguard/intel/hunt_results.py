"""Write a hunt as a results directory (CONTRACT.md outputs) that the guard can load.

``accounts.jsonl`` lists every account of the hunted store's exchanges, plus matched accounts
that have sent nothing yet, with the score and verdict that peer intelligence alone gives it
(DG-601 evidence through the normal scoring: at most ``review``, since it is one evidence
family); ``clusters.jsonl`` groups matched accounts by the peer campaign they match most
strongly (cluster id ``intel-<digest of producer and campaign>``); ``matches.jsonl`` adds, per
matched account, every indicator it matched.  The directory reads back with
:func:`distillguard.results.read_results`, like a scan's.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

from distillguard import __version__
from distillguard.intel.hunt import AccountMatch, evidence
from distillguard.intel.observe import Observations
from distillguard.results import write_results
from distillguard.results.model import Indicator
from distillguard.scoring.combine import ClusterInput, ScoringConfig, score_all

MATCHES_FILE = "matches.jsonl"


def _campaign_cluster(match: AccountMatch) -> str:
    """``intel-<digest>`` of the producer and campaign of the account's strongest hit."""
    strongest = max(match.hits, key=lambda h: (h.strength, h.indicator.indicator_id))
    name = strongest.indicator.campaigns[0] if strongest.indicator.campaigns else ""
    digest = hashlib.sha256(f"{strongest.indicator.producer}|{name}".encode()).hexdigest()
    return f"intel-{digest[:12]}"


def write_hunt(
    out_dir: Path,
    obs: Observations,
    matches: list[AccountMatch],
    meta: dict[str, Any],
) -> dict[str, Any]:
    """Score the matches, write the results directory and ``matches.jsonl``; the summary."""
    groups: dict[str, list[AccountMatch]] = defaultdict(list)
    for match in matches:
        groups[_campaign_cluster(match)].append(match)
    clusters = []
    for cluster_id, members in sorted(groups.items()):
        indicator_accounts: dict[tuple[str, str], set[str]] = defaultdict(set)
        for m in members:
            for h in m.hits:
                indicator_accounts[(h.indicator.kind, h.indicator.indicator_id)].add(m.account_id)
        clusters.append(
            ClusterInput(
                cluster_id=cluster_id,
                account_ids=[m.account_id for m in members],
                result_fields={
                    "exchanges": sum(obs.exchanges.get(m.account_id, 0) for m in members),
                    "capabilities": [],
                    "first_seen": None,
                    "last_seen": None,
                    "indicators": [
                        Indicator(kind=f"intel:{kind}", value=ident, accounts=len(accounts))
                        for (kind, ident), accounts in sorted(indicator_accounts.items())
                    ],
                },
            )
        )
    # Accounts that match but sent nothing yet (a sign-up from the campaign's card) are
    # listed too: for the guard these are the accounts to stop before they harvest.
    seen = set(obs.exchanges) | {m.account_id for m in matches}
    accounts, cluster_results = score_all(
        sorted(seen), evidence(matches), clusters, ScoringConfig()
    )
    summary = {"distillguard": __version__, "hunt": meta}
    written = write_results(out_dir, accounts, cluster_results, summary)
    lines = [
        orjson.dumps(
            {
                "account_id": m.account_id,
                "strength": round(m.strength, 6),
                "hits": [
                    {
                        "indicator": h.indicator.indicator_id,
                        "kind": h.indicator.kind,
                        "producer": h.indicator.producer,
                        "campaigns": list(h.indicator.campaigns),
                        "strength": h.strength,
                        "what": h.what,
                        "source": h.indicator.source,
                    }
                    for h in sorted(m.hits, key=lambda h: (-h.strength, h.indicator.indicator_id))
                ],
            }
        )
        for m in matches
    ]
    (out_dir / MATCHES_FILE).write_bytes(b"".join(line + b"\n" for line in lines))
    return written
