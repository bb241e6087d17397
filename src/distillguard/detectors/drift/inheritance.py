"""DG-502 fingerprint inheritance: accounts outside a cluster that carry its fingerprints.

A campaign whose accounts are banned opens new ones and points the same scripts at them; a
hydra network keeps many small accounts that each send too little to tie them to anything
on their own.  Both reuse the campaign's *distinctive* prompt fingerprints: wrappers and
templates that the cluster's members rely on and that hardly anyone outside the cluster
uses.  Such an outsider is attached to the cluster (it appears among its members) with an
attachment that says how much of the cluster's verdict it inherits in scoring.

A fingerprint value ``v`` (a wrapper or a template id) of cluster ``C`` is distinctive when

    members of C using v      >= max(min_members, min_coverage × |C|)
    outsiders using v         <= max_outsider_share × all accounts using v
    distinct tasks wrapped    >= min_tasks        (a real wrapper, not one popular prompt)

An outsider ``a`` is attached when it used distinctive values of one cluster (and of one
only) at least ``min_uses`` times around at least two different tasks each; its attachment
is ``min(1, Σ_v min(1, uses(a, v) / full_uses) × per_value)`` over the values of one kind
(the larger of the wrapper and the template sums: a prompt's wrapper and template usually
move together, so they are not added), so two fingerprints used often are needed for a full
attachment.  Accounts already in a cluster are left where the
graph put them.  Only content is used here: a shared address or card already ties
accounts in the graph itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from distillguard.detectors.base import ATLAS, DetectorInfo, Evidence
from distillguard.detectors.behaviour.common import check_unit, count, load_settings, rounded
from distillguard.detectors.context import ScanContext
from distillguard.results.model import Indicator

INFO = DetectorInfo(
    id="DG-502",
    version="1.0",
    name="fingerprint inheritance",
    description=(
        "An account outside a cluster reuses the cluster's distinctive prompt wrappers or "
        "templates (replacement or satellite accounts of the same campaign)."
    ),
    family="drift",
    atlas=(ATLAS["extract_model"], ATLAS["establish_accounts"]),
)

FINGERPRINT_KINDS = {"wrapper": "wrapper_id", "template": "template_id"}
"""Indicator kind written by the coordination stage -> its ``exchange_features`` column."""


@dataclass(frozen=True)
class Settings:
    """Defaults: a fingerprint must be the cluster's own, and used repeatedly by the outsider."""

    min_members: int = 2
    min_coverage: float = 0.25
    max_outsider_share: float = 0.5
    min_tasks: int = 5
    min_uses: int = 2
    full_uses: float = 4.0
    per_value: float = 0.5
    max_strength: float = 0.25
    """Kept under the scoring's family floor: reusing a cluster's fingerprints says nothing
    on its own (the cluster may be a benign one); what counts is the attachment, through
    which a *condemned* cluster's verdict reaches the account in scoring."""

    def __post_init__(self) -> None:
        check_unit(INFO.id, "min_coverage", self.min_coverage)
        check_unit(INFO.id, "max_outsider_share", self.max_outsider_share)
        check_unit(INFO.id, "per_value", self.per_value)
        check_unit(INFO.id, "max_strength", self.max_strength)
        if self.min_members < 1 or self.min_tasks < 1 or self.min_uses < 1:
            raise ValueError(f"{INFO.id}: min_members, min_tasks and min_uses must be >= 1")
        if self.full_uses < self.min_uses:
            raise ValueError(f"{INFO.id}: full_uses must be at least min_uses")


@dataclass(frozen=True)
class Inheritance:
    """Outsiders attached to clusters, with their attachment and the evidence behind it."""

    members: dict[str, dict[str, float]]
    """Cluster id -> attached outsider -> attachment in (0, 1]."""
    evidence: list[Evidence]


def _usage(context: ScanContext, column: str, values: list[int]) -> pd.DataFrame:
    """Per (account, value): uses and distinct tasks, for the given fingerprint values."""
    features = context.con.table("exchange_features")
    wanted = features.filter(features[column].isin(values))
    grouped = wanted.group_by(["account_id", column]).aggregate(
        uses=wanted.count(), tasks=wanted.text_hash.nunique()
    )
    frame = context.con.to_pandas(grouped.rename(value=column))
    return frame.astype({"uses": "int64", "tasks": "int64"})


def _value_tasks(context: ScanContext, column: str, values: list[int]) -> dict[int, int]:
    features = context.con.table("exchange_features")
    wanted = features.filter(features[column].isin(values))
    grouped = wanted.group_by(column).aggregate(tasks=wanted.text_hash.nunique())
    frame = context.con.to_pandas(grouped)
    return dict(zip(frame[column].astype("int64"), frame["tasks"].astype("int64"), strict=True))


FRAME = "drift.inheritance"


def inheritance(context: ScanContext) -> Inheritance:
    """The scan's inheritance, computed once from the coordination stage's clusters."""
    from distillguard.detectors.coordination import find_clusters

    def build(ctx: ScanContext) -> pd.DataFrame:
        findings = find_clusters(ctx)
        frame = pd.DataFrame()
        frame.attrs["inheritance"] = inherit(ctx, findings.clusters, findings.indicators)
        return frame

    found = context.frame(FRAME, build).attrs["inheritance"]
    assert isinstance(found, Inheritance)
    return found


def inherit(
    context: ScanContext,
    clusters: dict[str, list[str]],
    indicators: Mapping[str, Sequence[Indicator]],
) -> Inheritance:
    """Attach outsiders to the clusters whose distinctive fingerprints they reuse."""
    settings = load_settings(Settings, INFO.id, context.settings(INFO.id))
    if "exchange_features" not in context.con.list_tables() or not clusters:
        return Inheritance({}, [])
    cluster_of = {a: cid for cid, members in clusters.items() for a in members}
    candidates: dict[str, dict[int, set[str]]] = {
        kind: defaultdict(set) for kind in FINGERPRINT_KINDS
    }
    for cid, found in indicators.items():
        for indicator in found:
            if indicator.kind in FINGERPRINT_KINDS:
                candidates[indicator.kind][int(indicator.value)].add(cid)
    # outsider -> cluster -> list of (kind, value, uses)
    links: dict[str, dict[str, list[tuple[str, int, int]]]] = defaultdict(lambda: defaultdict(list))
    for kind, column in FINGERPRINT_KINDS.items():
        values = sorted(candidates[kind])
        if not values:
            continue
        usage = _usage(context, column, values)
        tasks = _value_tasks(context, column, values)
        for value, rows in usage.groupby("value", sort=True):
            value = int(value)
            if tasks.get(value, 0) < settings.min_tasks:
                continue
            users = rows["account_id"].astype(str).tolist()
            for cid in sorted(candidates[kind][value]):
                size = len(clusters[cid])
                inside = sum(1 for a in users if cluster_of.get(a) == cid)
                outside = [
                    (a, int(u), int(t))
                    for a, u, t in zip(users, rows["uses"], rows["tasks"], strict=True)
                    if a not in cluster_of
                ]
                if inside < max(settings.min_members, settings.min_coverage * size):
                    continue
                if len(outside) > settings.max_outsider_share * len(users):
                    continue
                for account, uses, wrapped in outside:
                    if uses >= settings.min_uses and wrapped >= 2:
                        links[account][cid].append((kind, value, uses))
    members: dict[str, dict[str, float]] = defaultdict(dict)
    evidence: list[Evidence] = []
    for account in sorted(links):
        if len(links[account]) != 1:
            continue  # the fingerprints of two campaigns: leave it to a person
        ((cid, used),) = links[account].items()
        by_kind: dict[str, float] = defaultdict(float)
        for kind, _, uses in used:
            by_kind[kind] += min(1.0, uses / settings.full_uses) * settings.per_value
        # A prompt's wrapper and template usually move together: the kinds are not added.
        attachment = min(1.0, max(by_kind.values()))
        members[cid][account] = rounded(attachment)
        total = sum(uses for _, _, uses in used)
        kinds = sorted({kind for kind, _, _ in used})
        evidence.append(
            Evidence(
                detector=INFO.id,
                family=INFO.family,
                subject=account,
                strength=rounded(settings.max_strength * attachment),
                summary=(
                    f"outside cluster {cid} but reuses {len(used)} of its distinctive prompt "
                    f"{' and '.join(kinds)} fingerprints ({count(total)} requests), which "
                    f"{len(clusters[cid])} of its accounts rely on and almost no one else uses"
                ),
                details={
                    "cluster_id": cid,
                    "attachment": rounded(attachment),
                    "fingerprints": [
                        {"kind": kind, "value": str(value), "uses": uses}
                        for kind, value, uses in used
                    ],
                },
            )
        )
    return Inheritance(dict(members), evidence)


def detect(context: ScanContext) -> list[Evidence]:
    """Evidence for each outsider that reuses one cluster's distinctive fingerprints."""
    return list(inheritance(context).evidence)
