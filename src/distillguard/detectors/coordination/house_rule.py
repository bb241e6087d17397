"""DG-406 fleet house rule: one standing sentence wraps most of a cluster's harvest traffic.

DG-403 sees one wrapper carrying a cluster's traffic; a campaign that paraphrases every
wrapper defeats it, yet its pipeline still adds its house rules word for word ("always give
your output in a formal tone.").  For a cluster tied by such a sentence (the coordination
graph's ``instruction_sentence`` view), this detector measures what the sentence carries:

    carried   share of the cluster's requests whose instruction lines hold the sentence
    harvest   share of those requests that ask for a harvestable output (any prompt signal)
    strength  carried × harvest × coverage × spread × content discount

``coverage`` is the share of members relying on a shared sentence, ``spread`` how far the
cluster is split into separate identities (1 when every account is its own, near 0 for a
few organisations with many accounts each: labelling firms sharing a public rubric), and
the content discount the one of DG-401…405 (content alone
ties a small group of unrelated accounts only weakly: developers reuse public prompt lines).
A house rule around ordinary chat (a browser extension's fixed instruction) scores low on
``harvest``; one company's own app wrapper, or a few firms' shared rubric, low on
``spread``.
"""

from __future__ import annotations

import ibis
import pandas as pd

from distillguard.detectors.base import ATLAS, DetectorInfo, Evidence
from distillguard.detectors.behaviour.frame import asks_for_harvest
from distillguard.detectors.context import ScanContext
from distillguard.detectors.coordination.findings import find_clusters
from distillguard.detectors.coordination.profile import ClusterProfile, ViewTie
from distillguard.detectors.coordination.scoring import (
    VERSION,
    content_only_discount,
    fleet_spread,
)
from distillguard.detectors.coordination.sentence_labels import VIEW

INFO = DetectorInfo(
    "DG-406",
    VERSION,
    "fleet-house-rule",
    "One standing instruction sentence wraps most of a cluster's harvest requests across "
    "unrelated accounts (a paraphrasing fleet's house rule)",
    "template",
    (ATLAS["extract_model"],),
)


def _sentence_tie(profile: ClusterProfile) -> ViewTie | None:
    return next((t for t in profile.ties if t.view == VIEW and t.top), None)


def _carried(context: ScanContext, chosen: dict[str, tuple[list[str], int]]) -> pd.DataFrame:
    """Per cluster: requests, requests holding its sentence, and those asking for harvest."""
    rows = [
        (member, cid, sentence)
        for cid, (members, sentence) in sorted(chosen.items())
        for member in members
    ]
    members = ibis.memtable(
        pd.DataFrame(rows, columns=["account_id", "cluster_id", "sentence"]).astype(
            {"sentence": "int64"}
        )
    )
    f = context.con.table("exchange_features")
    joined = f.join(members, "account_id")
    holds = joined.instruction_sentences.contains(joined.sentence)
    harvest = asks_for_harvest(joined)
    counted = joined.group_by("cluster_id").aggregate(
        requests=joined.count(),
        carried=holds.cast("int64").sum(),
        harvest=(holds & harvest).cast("int64").sum(),
    )
    return counted.execute().set_index("cluster_id")


def detect(context: ScanContext) -> list[Evidence]:
    """Evidence for each cluster whose shared house sentence wraps its harvest traffic."""
    if "exchange_features" not in set(context.con.list_tables()):
        return []
    findings = find_clusters(context)
    chosen: dict[str, tuple[list[str], int]] = {}
    ties: dict[str, ViewTie] = {}
    for cid in sorted(findings.clusters):
        profile = findings.profiles.get(cid)
        tie = _sentence_tie(profile) if profile is not None else None
        if tie is None:
            continue
        ties[cid] = tie
        chosen[cid] = (findings.clusters[cid], int(tie.top[0][0]))
    if not chosen:
        return []
    counts = _carried(context, chosen)
    evidence = []
    for cid in sorted(chosen):
        if cid not in counts.index:
            continue
        requests, carried, harvest = (
            int(counts.at[cid, c]) for c in ("requests", "carried", "harvest")
        )
        if not requests or not carried:
            continue
        profile, tie = findings.profiles[cid], ties[cid]
        carried_share, harvest_share = carried / requests, harvest / carried
        strength = (
            carried_share
            * harvest_share
            * tie.coverage
            * fleet_spread(profile)
            * content_only_discount(profile)
        )
        sentence, sharers = tie.top[0][0], tie.top[0][1]
        text = tie.label
        named = f'"{text}"' if text else sentence
        evidence.append(
            Evidence(
                detector=INFO.id,
                family=INFO.family,
                subject=cid,
                strength=round(min(1.0, max(0.0, strength)), 4),
                summary=(
                    f"{round(100 * carried_share)}% of the cluster's {requests:,} requests carry "
                    f"the standing instruction {named}, relied on by {sharers} of its "
                    f"{len(profile.members)} accounts; {round(100 * harvest_share)}% of those "
                    "requests ask for a harvestable output"
                ),
                subject_kind="cluster",
                details={
                    "sentence": sentence,
                    "text": text,
                    "carried": round(carried_share, 3),
                    "harvest": round(harvest_share, 3),
                    "coverage": round(tie.coverage, 3),
                    "spread": round(fleet_spread(profile), 3),
                },
            )
        )
    return evidence
