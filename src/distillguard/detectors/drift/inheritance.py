"""DG-502 fingerprint inheritance: accounts outside a cluster that carry its fingerprints.

A campaign whose accounts are banned opens new ones and points the same scripts at them; a
hydra network keeps many small accounts that each send too little to tie them to anything
on their own.  Both reuse the campaign's *distinctive* prompt fingerprints: wrappers,
templates and standing instruction sentences (house rules such as "You must respond in
Markdown. Follow these rules exactly.", which a campaign that rewords every wrapper keeps
word for word) that the cluster's members rely on and that hardly anyone outside the
cluster uses.  Such an outsider is attached to the cluster (it appears among its members) with an
attachment that says how much of the cluster's verdict it inherits in scoring.

The candidates of cluster ``C`` are its indicators (the values that tie it in the graph) and
every value that enough of its members use now and then: a paraphrasing fleet of small
accounts spreads over many wrappers, none of which carries a real share of any one account.
A candidate value ``v`` is distinctive when

    members of C using v      >= max(min_members, min_coverage × |C|)
    other clusters using v    <= max_other_clusters   (not a phrasing many groups share;
                                                       sister clusters not counted, below)
    distinct tasks wrapped    >= min_tasks            (a real wrapper, not one popular prompt)
    harvestable requests      >= min_harvest_share    (the campaign's harvesting, not the
                                                       ordinary chat it mixes in as cover)
    outsiders using v         <= max_outsider_share × all accounts using v,
                                 or at least min_cohesion of those outsiders also reuse
                                 another distinctive value of C (a fleet, not a crowd: a
                                 crowd shares one popular opening and nothing else)

An outsider ``a`` is attached when it used distinctive values of one cluster at least
``min_uses`` times around at least two different tasks each, and those values carry at
least ``min_reliance`` of its own requests (a replacement account runs the campaign's
script; a customer who pasted a public benchmark's prompt line now and then does not);
its attachment is
``min(1, Σ_v min(1, uses(a, v) / full_uses) × per_value)`` over the values of one kind
(the largest of the kinds' sums: a prompt's wrapper, template and house rule usually move
together, so they are not added), so two fingerprints used often are needed for a full
attachment.  A prompt carries several instruction sentences (a house rule may be two), so
for that kind the most used sentence stands for the kind, in the attachment and in the
share of requests, instead of a sum.  An outsider whose values point at several clusters
joins the one it is most attached to when its values chain those clusters together (each
shares one of its values with another of them: pieces of one campaign that the graph
split); when they fall apart into groups that share none, they may be two campaigns and it
is left to a person.
A paraphrasing fleet of many small accounts often comes out of the graph as several small
clusters, each of which relies on the same library of wrappers and instruction sentences;
counted as "other clusters", its own pieces would make every one of its phrasings look
like one that many groups share.  So two clusters of unrelated identities (diversity at
least ``min_piece_diversity``, as for pieces below) that share at least
``min_sister_values`` candidate values of one kind are *sisters*, and a cluster's sisters
are not counted among the other clusters using its values: a public benchmark line is
shared by firms that have one or two such lines in common, not a library of them.
Accounts already in a cluster are left where the graph put them; but a cluster of unrelated
identities (diversity at least ``min_piece_diversity``) more than half of whose members
carry another cluster's distinctive fingerprints is linked to it as a piece of the same
campaign (cluster evidence; scoring judges the piece with the cluster it is linked to).
Only content is used here: a shared address or card already ties accounts in the graph.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from distillguard.detectors.base import ATLAS, DetectorInfo, Evidence
from distillguard.detectors.behaviour.common import check_unit, count, load_settings, rounded
from distillguard.detectors.behaviour.frame import asks_for_harvest
from distillguard.detectors.context import ScanContext
from distillguard.detectors.coordination.views import pair_uses
from distillguard.results.model import Indicator

INFO = DetectorInfo(
    id="DG-502",
    version="1.4",
    name="fingerprint inheritance",
    description=(
        "An account outside a cluster, or a cluster of unrelated accounts, reuses the "
        "cluster's distinctive prompt wrappers, templates or standing instruction sentences "
        "(replacement or satellite accounts, or another piece, of the same campaign)."
    ),
    family="drift",
    atlas=(ATLAS["extract_model"], ATLAS["establish_accounts"]),
)

FINGERPRINT_KINDS = {
    "wrapper": "wrapper_id",
    "template": "template_id",
    "instruction_sentence": "instruction_sentences",
}
"""Indicator kind written by the coordination stage -> its ``exchange_features`` column."""
LIST_KINDS = frozenset({"instruction_sentence"})
"""Kinds whose column holds several values per request (a prompt's instruction sentences):
their uses are not added up across values (two sentences of one house rule come in the
same requests), the most used value stands for the kind."""
LIST_COLUMNS = frozenset(FINGERPRINT_KINDS[kind] for kind in LIST_KINDS)


@dataclass(frozen=True)
class Settings:
    """Defaults: a fingerprint must be the cluster's own, and used repeatedly by the outsider."""

    min_members: int = 2
    min_coverage: float = 0.25
    max_outsider_share: float = 0.5
    max_other_clusters: int = 3
    """A value that members of more other clusters use is a phrasing many unrelated groups
    share (a public benchmark's prompt line, a common opening), never a fingerprint."""
    min_sister_values: int = 3
    """Two clusters of unrelated identities that rely on at least this many of the same
    values of one kind (wrappers, templates or instruction sentences) are pieces of one
    fleet, not two groups that happen to share a phrasing: neither counts among the other
    clusters of the other's values (``max_other_clusters``)."""
    min_cohesion: float = 0.6
    """A fingerprint more outsiders than ``max_outsider_share`` use still counts when at least
    this share of them also reuse another fingerprint of the same cluster (a fleet)."""
    min_piece_diversity: float = 0.5
    """A cluster is linked to another as a piece of the same campaign only when its members
    are unrelated identities (diversity from the coordination stage): one company's accounts
    that send the same public prompts as a campaign are that company, not a piece of it."""
    min_tasks: int = 5
    min_uses: int = 2
    min_harvest_share: float = 0.5
    """Share of the requests carrying a value that must ask for a harvestable output
    (reasoning, grading, tool trajectory, rewrite): a campaign's fingerprints are those of
    its harvesting, not of the ordinary chat it mixes in as cover, which it shares with
    everyone who asks the same popular questions."""
    min_reliance: float = 0.1
    """Share of an account's own requests that must carry the cluster's distinctive
    fingerprints (all of them together, of the kind it uses most) before it is attached or
    counted towards a piece: a campaign's replacement or hydra account runs the campaign's
    script for a real share of what it sends, even when it paraphrases (12-18% of a
    paraphrasing fleet's small accounts on development seeds, whose other wrappers are
    phrasings too rare to be anyone's fingerprint); a customer who pasted a prompt line a
    few times among everything else it asks does not."""
    full_uses: float = 4.0
    per_value: float = 0.5
    max_strength: float = 0.25
    """Kept under the scoring's family floor: reusing a cluster's fingerprints says nothing
    on its own (the cluster may be a benign one); what counts is the attachment, through
    which a *condemned* cluster's verdict reaches the account in scoring."""

    def __post_init__(self) -> None:
        check_unit(INFO.id, "min_coverage", self.min_coverage)
        check_unit(INFO.id, "max_outsider_share", self.max_outsider_share)
        check_unit(INFO.id, "min_cohesion", self.min_cohesion)
        check_unit(INFO.id, "min_piece_diversity", self.min_piece_diversity)
        check_unit(INFO.id, "min_reliance", self.min_reliance)
        check_unit(INFO.id, "min_harvest_share", self.min_harvest_share)
        check_unit(INFO.id, "per_value", self.per_value)
        check_unit(INFO.id, "max_strength", self.max_strength)
        if self.max_other_clusters < 0:
            raise ValueError(f"{INFO.id}: max_other_clusters must be >= 0")
        if self.min_sister_values < 1:
            raise ValueError(f"{INFO.id}: min_sister_values must be >= 1")
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


def _fingerprints(context: ScanContext, column: str) -> ir.Table:
    """Rows of (account, prompt) with its ``uses`` (requests) and the prompt's fingerprint of
    ``column`` as ``value``: one row per sentence for a list column.

    Counted per distinct prompt of each account (views.pair_uses, which reads the scan's
    uses table, engine/derived.py), not per request: every count below is a sum of
    ``uses``, the same as counting requests."""
    uses = pair_uses(context.con, nonempty=column if column in LIST_COLUMNS else None)
    value = uses[column]
    return uses.mutate(value=value.unnest() if value.type().is_array() else value)


def _with_values(context: ScanContext, column: str, values: pa.Array) -> ir.Table:
    """Fingerprint rows (:func:`_fingerprints`) whose value is one of ``values``: a
    semi-join with a table of the values (an ``IN`` list of thousands of literals is slow
    to compile and to run)."""
    rows = _fingerprints(context, column)
    keys = ibis.memtable(pa.table({"wanted_value": values}))
    return rows.semi_join(keys, rows.value == keys.wanted_value)


def _usage(
    context: ScanContext, column: str, values: list[int], settings: Settings
) -> tuple[pd.DataFrame, dict[int, int]]:
    """Per (account, value) uses and distinct tasks, and the distinct tasks wrapped by each
    value, for the given fingerprint values that carry harvesting (at least
    ``min_harvest_share`` of the requests using them ask for a harvestable output) around at
    least ``min_tasks`` distinct tasks; values that do not are left out.

    One query for both: the requests carrying the values are counted once per (account,
    value, task), and the per-value numbers, summed from those counts, ride along on the
    per-account rows (each value's rows repeat them).  Two queries would each read, join
    (and for a list column unnest) every exchange's features again.
    """
    wanted = _with_values(context, column, pa.array(values, pa.int64()))
    per_task = wanted.group_by(["account_id", "value", "text_hash"]).aggregate(
        n=wanted.uses.sum(), harvest=(asks_for_harvest(wanted).cast("int64") * wanted.uses).sum()
    )
    usage = per_task.group_by(["account_id", "value"]).aggregate(
        uses=per_task.n.sum(), tasks=per_task.text_hash.count()
    )
    per_value = per_task.group_by("value").aggregate(
        value_tasks=per_task.text_hash.nunique(),
        harvest=per_task.harvest.sum().cast("float64") / per_task.n.sum(),
    )
    # Only values that carry harvesting around enough distinct tasks can be distinctive;
    # the rest are dropped here rather than after the transfer (at 16M exchanges the
    # wrapper and template rows were 6.5M each, nearly all of them of such values).
    per_value = per_value.filter(
        (per_value.harvest >= settings.min_harvest_share)
        & (per_value.value_tasks >= settings.min_tasks)
    )
    joined = usage.join(per_value, "value")
    frame = context.con.to_pandas(
        joined.select("account_id", "value", "uses", "tasks", "value_tasks")
    )
    frame = frame.astype({"value": "int64", "uses": "int64", "tasks": "int64"})
    by_value = frame.drop_duplicates("value")
    tasks = dict(
        zip(
            by_value["value"].tolist(),
            by_value["value_tasks"].astype("int64").tolist(),
            strict=True,
        )
    )
    return frame[["account_id", "value", "uses", "tasks"]], tasks


def _shared_by_members(
    context: ScanContext, column: str, clusters: Mapping[str, list[str]], settings: Settings
) -> dict[int, set[str]]:
    """Fingerprint values that enough of a cluster's members use (value -> clusters).

    The coordination stage names only a cluster's most shared values as indicators, and only
    those its members rely on for a real share of their traffic; a paraphrasing fleet of
    small accounts spreads over many wrappers, each used by many members now and then.
    """
    rows = [(a, cid) for cid, members in clusters.items() for a in members]
    membership = ibis.memtable(pd.DataFrame(rows, columns=["account_id", "cluster_id"]))
    fingerprints = _fingerprints(context, column)
    joined = fingerprints.select("account_id", "value").join(membership, "account_id")
    grouped = joined.group_by(["cluster_id", "value"]).aggregate(
        members=joined.account_id.nunique()
    )
    grouped = grouped.filter(grouped.members >= settings.min_members)
    frame = context.con.to_pandas(grouped)
    sizes = {cid: len(members) for cid, members in clusters.items()}
    out: dict[int, set[str]] = defaultdict(set)
    # Plain lists: iterating the engine's (Arrow-backed) columns element by element is
    # slower than the query at scale.
    for cid, value, members in zip(
        map(str, frame["cluster_id"].tolist()),
        frame["value"].tolist(),
        frame["members"].tolist(),
        strict=True,
    ):
        if members >= settings.min_coverage * sizes[cid]:
            out[int(value)].add(cid)
    return out


FRAME = "drift.inheritance"


def inheritance(context: ScanContext) -> Inheritance:
    """The scan's inheritance, computed once from the coordination stage's clusters."""
    from distillguard.detectors.coordination import find_clusters
    from distillguard.detectors.coordination.scoring import identity_split

    def build(ctx: ScanContext) -> pd.DataFrame:
        findings = find_clusters(ctx)
        frame = pd.DataFrame()
        # A piece must be split into separate identities (a hydra's throwaway accounts),
        # not a few firms of many accounts that share a public rubric with a campaign.
        diversity = {cid: identity_split(p) for cid, p in findings.profiles.items()}
        frame.attrs["inheritance"] = inherit(ctx, findings.clusters, findings.indicators, diversity)
        return frame

    found = context.frame(FRAME, build).attrs["inheritance"]
    assert isinstance(found, Inheritance)
    return found


def inherit(
    context: ScanContext,
    clusters: dict[str, list[str]],
    indicators: Mapping[str, Sequence[Indicator]],
    diversity: Mapping[str, float] | None = None,
) -> Inheritance:
    """Attach outsiders to the clusters whose distinctive fingerprints they reuse, and link
    clusters of unrelated accounts to the cluster whose fingerprints most of them carry
    (``diversity``: each cluster's identity diversity; a cluster not listed counts as one
    declared identity, which is never linked)."""
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
    for kind, column in FINGERPRINT_KINDS.items():
        for value, cids in _shared_by_members(context, column, clusters, settings).items():
            candidates[kind][value].update(cids)
    sizes = {cid: len(members) for cid, members in clusters.items()}
    split = {
        cid for cid, spread in (diversity or {}).items() if spread >= settings.min_piece_diversity
    }
    outsider_rows: list[pd.DataFrame] = []
    sibling_rows: list[pd.DataFrame] = []
    for rank, (kind, column) in enumerate(FINGERPRINT_KINDS.items()):
        values = sorted(candidates[kind])
        if not values:
            continue
        usage, tasks = _usage(context, column, values, settings)
        sisters = sister_clusters(candidates[kind], split, settings.min_sister_values)
        outsiders, siblings = _distinctive_reuse(
            usage, tasks, candidates[kind], cluster_of, sizes, settings, sisters
        )
        outsider_rows.append(outsiders.assign(kind=kind, kind_rank=rank))
        sibling_rows.append(siblings.assign(kind=kind, kind_rank=rank))
    # outsider -> cluster -> list of (kind, value, uses); the same for members of other
    # clusters (a piece of the campaign that the graph kept apart)
    links = _grouped_links(outsider_rows)
    sibling_links = _grouped_links(sibling_rows)
    traffic = _traffic(context, sorted({*links, *sibling_links}))
    links = _relied_on(links, traffic, settings)
    sibling_links = _relied_on(sibling_links, traffic, settings)
    members: dict[str, dict[str, float]] = defaultdict(dict)
    evidence: list[Evidence] = []
    for account in sorted(links):
        chosen = _one_campaign(links[account], clusters, settings)
        if chosen is None:
            continue  # the fingerprints of two campaigns: leave it to a person
        cid, attachment = chosen
        used = links[account][cid]
        members[cid][account] = rounded(attachment)
        total = int(sum(_by_kind(used, float).values()))
        kinds = sorted({kind.replace("_", " ") for kind, _, _ in used})
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
    pieces = {
        account: linked
        for account, linked in sibling_links.items()
        if (diversity or {}).get(cluster_of[account], 0.0) >= settings.min_piece_diversity
    }
    evidence.extend(_siblings(pieces, clusters, settings))
    return Inheritance(dict(members), evidence)


SISTER_COLUMNS = ["cluster_id", "sister"]


def sister_clusters(
    candidates: Mapping[int, set[str]], split: set[str], min_values: int
) -> pd.DataFrame:
    """Pairs of identity-split clusters (``split``) that share at least ``min_values`` of
    one kind's candidate values (value -> clusters), both ways round: columns
    ``cluster_id`` and ``sister``.

    Counted with one sparse product of the clusters × values incidence matrix with itself,
    so the cost follows the pairs that share a value, never all pairs of clusters.
    """
    rows = [(value, cid) for value, cids in candidates.items() for cid in cids if cid in split]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SISTER_COLUMNS})
    names = sorted({cid for _, cid in rows})
    position = {cid: i for i, cid in enumerate(names)}
    values = {value: i for i, value in enumerate(sorted({value for value, _ in rows}))}
    incidence = sp.csr_matrix(
        (
            np.ones(len(rows), dtype=np.int64),
            ([position[cid] for _, cid in rows], [values[value] for value, _ in rows]),
        ),
        shape=(len(names), len(values)),
    )
    shared = sp.coo_matrix(incidence @ incidence.T)
    keep = (shared.data >= min_values) & (shared.row != shared.col)
    labels = np.array(names, dtype=object)
    return pd.DataFrame(
        {"cluster_id": labels[shared.row[keep]], "sister": labels[shared.col[keep]]}
    )


def _distinctive_reuse(
    usage: pd.DataFrame,
    value_tasks: Mapping[int, int],
    candidates: Mapping[int, set[str]],
    cluster_of: Mapping[str, str],
    sizes: Mapping[str, int],
    settings: Settings,
    sisters: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reuse of one kind's distinctive values: (outsider links, links of other clusters'
    members), each with columns ``account_id``, ``cluster_id``, ``value``, ``uses``.
    ``sisters`` (:func:`sister_clusters`) are not counted among a value's other clusters.

    ``usage`` has one row per (account, value) with its uses and distinct tasks (see
    :func:`_usage`).  Everything is a join or a group-by over those rows, so the cost grows
    with the rows and the (cluster, value) candidates, never with their product: a popular
    value that thousands of accounts use is a candidate of many clusters at scale.
    """
    usage = usage.assign(account_id=usage["account_id"].astype(object).map(str))
    wrapped = usage["value"].map(value_tasks).fillna(0)
    usage = usage[wrapped.to_numpy() >= settings.min_tasks]
    usage = usage.assign(cluster_id=usage["account_id"].map(cluster_of))
    by_value = (
        usage.groupby("value")
        .agg(
            users=("account_id", "size"),
            clustered=("cluster_id", "count"),
            clusters=("cluster_id", "nunique"),
        )
        .reset_index()
    )
    inside = usage.groupby(["value", "cluster_id"]).size().rename("inside").reset_index()
    pairs = pd.DataFrame(
        [(value, cid) for value, cids in candidates.items() for cid in cids],
        columns=["value", "cluster_id"],
    ).astype({"value": "int64", "cluster_id": object})
    # A cluster none of whose members uses the value has ``inside`` 0 < min_members: inner.
    pairs = pairs.merge(inside, on=["value", "cluster_id"]).merge(by_value, on="value")
    needed = np.maximum(
        settings.min_members,
        settings.min_coverage * pairs["cluster_id"].map(sizes).to_numpy(dtype=np.float64),
    )
    relied_on = pairs["inside"].to_numpy() >= needed
    # the cluster itself is among the value's clusters (``inside`` > 0); its sisters
    # that use the value are pieces of the same fleet, not other groups (counted only
    # where they can decide: a relied-on value over the limit before they are taken off)
    others = pairs["clusters"].to_numpy() - 1
    over = relied_on & (others > settings.max_other_clusters)
    others[over] -= _sisters_using(pairs[over], usage, sisters)
    own = others <= settings.max_other_clusters
    pairs = pairs[relied_on & own]
    outside = pairs["users"] - pairs["clustered"]
    pairs = pairs.assign(crowd=outside > settings.max_outsider_share * pairs["users"])
    repeated = usage[(usage["uses"] >= settings.min_uses) & (usage["tasks"] >= 2)]
    lone = repeated[repeated["cluster_id"].isna()][["account_id", "value", "uses"]]
    reused = pairs[["cluster_id", "value"]].merge(lone, on="value")
    cohesive = _cohesive(reused, settings)
    kept = pairs[
        ~pairs["crowd"].to_numpy()
        | cohesive.reindex(
            pd.MultiIndex.from_frame(pairs[["cluster_id", "value"]]), fill_value=False
        ).to_numpy()
    ][["cluster_id", "value"]]
    columns = ["account_id", "cluster_id", "value", "uses"]
    outsiders = reused.merge(kept, on=["cluster_id", "value"])[columns]
    members = repeated[repeated["cluster_id"].notna()].rename(columns={"cluster_id": "home"})
    siblings = kept.merge(members[["account_id", "home", "value", "uses"]], on="value")
    siblings = siblings[siblings["home"] != siblings["cluster_id"]][columns]
    return outsiders, siblings


def _sisters_using(
    pairs: pd.DataFrame, usage: pd.DataFrame, sisters: pd.DataFrame | None
) -> npt.NDArray[np.int64]:
    """Per row of ``pairs`` (a value and a cluster): how many of the cluster's sisters
    have a member using the value."""
    counts = np.zeros(len(pairs), dtype=np.int64)
    if sisters is None or sisters.empty or pairs.empty:
        return counts
    users = usage[usage["cluster_id"].notna()][["value", "cluster_id"]].drop_duplicates()
    users = users.rename(columns={"cluster_id": "sister"})
    keyed = pairs[["value", "cluster_id"]].reset_index(drop=True).rename_axis("row")
    found = keyed.reset_index().merge(sisters, on="cluster_id").merge(users, on=["value", "sister"])
    per_row = found.groupby("row").size()
    counts[per_row.index.to_numpy()] = per_row.to_numpy()
    return counts


def _cohesive(reused: pd.DataFrame, settings: Settings) -> pd.Series:
    """Per (cluster, value): whether the many outsiders reusing it are the cluster's fleet.

    A popular opening is used by a crowd, each member of which uses nothing else of the
    cluster's; a paraphrasing campaign's phrasings are each used by many of its small
    accounts, and each of them uses several of the cluster's fingerprints.  ``reused``
    holds one row per (cluster, value, outsider); an outsider repeats when it reuses
    another of the cluster's values too.
    """
    values_used = reused.groupby(["cluster_id", "account_id"])["value"].transform("size")
    counted = reused.assign(repeat=values_used.to_numpy() >= 2)
    per_value = counted.groupby(["cluster_id", "value"])["repeat"].agg(["size", "sum"])
    return (per_value["size"] > 0) & (per_value["sum"] >= settings.min_cohesion * per_value["size"])


def _traffic(context: ScanContext, accounts: list[str]) -> dict[str, int]:
    """Requests of each of ``accounts`` (a semi-join: the list may be long)."""
    if not accounts:
        return {}
    features = context.con.table("exchange_features")
    keys = ibis.memtable(pa.table({"wanted_account": pa.array(accounts, pa.string())}))
    wanted = features.semi_join(keys, features.account_id == keys.wanted_account)
    frame = context.con.to_pandas(wanted.group_by("account_id").aggregate(requests=wanted.count()))
    return dict(zip(frame["account_id"].map(str), frame["requests"].astype("int64"), strict=True))


def _reliance(used: list[tuple[str, int, int]], requests: int) -> float:
    """Share of an account's requests that carry the fingerprints in ``used``: the kind it
    uses most (a prompt's wrapper and template usually move together, so kinds are not
    added)."""
    return max(_by_kind(used, float).values()) / requests if requests > 0 else 0.0


def _by_kind(used: list[tuple[str, int, int]], weigh: Callable[[int], float]) -> dict[str, float]:
    """Per kind, the weights (``weigh`` of the uses) of its values in ``used``: added up, but
    for a list kind (:data:`LIST_KINDS`) the largest, as its values come in the same
    requests."""
    by_kind: dict[str, float] = defaultdict(float)
    for kind, _, uses in used:
        weight = weigh(uses)
        by_kind[kind] = max(by_kind[kind], weight) if kind in LIST_KINDS else by_kind[kind] + weight
    return by_kind


def _relied_on(
    links: Mapping[str, Mapping[str, list[tuple[str, int, int]]]],
    traffic: Mapping[str, int],
    settings: Settings,
) -> dict[str, dict[str, list[tuple[str, int, int]]]]:
    """The links of accounts that rely on the linked cluster's fingerprints (at least
    ``min_reliance`` of their own requests); the rest are dropped."""
    kept: dict[str, dict[str, list[tuple[str, int, int]]]] = {}
    for account, linked in links.items():
        requests = traffic.get(account, 0)
        relied = {
            cid: used
            for cid, used in linked.items()
            if _reliance(used, requests) >= settings.min_reliance
        }
        if relied:
            kept[account] = relied
    return kept


def _grouped_links(parts: list[pd.DataFrame]) -> dict[str, dict[str, list[tuple[str, int, int]]]]:
    """Account -> cluster -> (kind, value, uses) of each fingerprint, kinds in
    :data:`FINGERPRINT_KINDS` order and values ascending."""
    links: dict[str, dict[str, list[tuple[str, int, int]]]] = defaultdict(lambda: defaultdict(list))
    if not parts:
        return links
    rows = pd.concat(parts, ignore_index=True).sort_values(
        ["account_id", "cluster_id", "kind_rank", "value"]
    )
    for account, cid, kind, value, uses in zip(
        rows["account_id"].tolist(),
        rows["cluster_id"].tolist(),
        rows["kind"].tolist(),
        rows["value"].tolist(),
        rows["uses"].tolist(),
        strict=True,
    ):
        links[str(account)][str(cid)].append((str(kind), int(value), int(uses)))
    return links


def _siblings(
    linked: Mapping[str, Mapping[str, list[tuple[str, int, int]]]],
    clusters: Mapping[str, list[str]],
    settings: Settings,
) -> list[Evidence]:
    """Cluster evidence for clusters most of whose members carry another cluster's
    distinctive fingerprints: two pieces of one campaign that the graph kept apart.

    The link is the attachment that more than half of the cluster's members reach (members
    without the fingerprints count 0); scoring lets a condemned cluster's verdict reach the
    pieces linked to it in that proportion, as it reaches satellites.
    """
    cluster_of = {a: cid for cid, members in clusters.items() for a in members}
    # piece -> the cluster each of its linked members points at -> their attachments
    targets: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for account in sorted(linked):
        chosen = _one_campaign(linked[account], clusters, settings)
        if chosen is not None:
            targets[cluster_of[account]][chosen[0]].append(chosen[1])
    out: list[Evidence] = []
    for piece in sorted(targets):
        if len(targets[piece]) != 1:
            continue  # links to two campaigns: leave it to a person
        ((target, attachments),) = targets[piece].items()
        size = len(clusters[piece])
        padded = sorted([*attachments, *[0.0] * (size - len(attachments))], reverse=True)
        attachment = float(padded[size // 2]) if size else 0.0
        if attachment <= 0.0:
            continue
        out.append(
            Evidence(
                detector=INFO.id,
                family=INFO.family,
                subject=piece,
                subject_kind="cluster",
                strength=rounded(settings.max_strength * attachment),
                summary=(
                    f"{len(attachments)} of this cluster's {size} accounts reuse the "
                    f"distinctive prompt fingerprints of cluster {target} "
                    f"({len(clusters[target])} accounts): a piece of the same campaign"
                ),
                details={"cluster_id": target, "attachment": rounded(attachment)},
            )
        )
    return out


def _attachment(used: list[tuple[str, int, int]], settings: Settings) -> float:
    by_kind = _by_kind(used, lambda uses: min(1.0, uses / settings.full_uses) * settings.per_value)
    # A prompt's wrapper and template usually move together: the kinds are not added.
    return min(1.0, max(by_kind.values()))


def _one_campaign(
    linked: Mapping[str, list[tuple[str, int, int]]],
    clusters: Mapping[str, list[str]],
    settings: Settings,
) -> tuple[str, float] | None:
    """The cluster an outsider joins, with its attachment; ``None`` when its fingerprints
    point at two campaigns.

    Clusters linked through one and the same fingerprint are one campaign that the graph
    split (a paraphrasing fleet's common wrapper is distinctive of each of its pieces), and
    so are chains of them: a fleet's small account may carry the house rule that two of its
    pieces share and phrasings of the library that the other pieces share with one of
    those two.  When every linked cluster is reached so, the outsider joins the piece it is
    most attached to (then the larger one).  Clusters linked only through different
    fingerprints, with no chain between them, may be different campaigns.
    """
    if len(linked) == 1:
        ((cid, used),) = linked.items()
        return cid, _attachment(used, settings)
    if len(_chained(linked)) > 1:
        return None
    ranked = sorted(linked, key=lambda c: (-_attachment(linked[c], settings), -len(clusters[c]), c))
    return ranked[0], _attachment(linked[ranked[0]], settings)


def _chained(linked: Mapping[str, list[tuple[str, int, int]]]) -> list[set[str]]:
    """The linked clusters in groups that share fingerprints, directly or through a chain of
    other linked clusters (connected components, each fingerprint joining its clusters)."""
    parent = {cid: cid for cid in linked}

    def root(cid: str) -> str:
        while parent[cid] != cid:
            parent[cid] = parent[parent[cid]]
            cid = parent[cid]
        return cid

    first: dict[tuple[str, int], str] = {}
    for cid in sorted(linked):
        for kind, value, _ in linked[cid]:
            seen = first.setdefault((kind, value), cid)
            parent[root(cid)] = root(seen)
    groups: dict[str, set[str]] = defaultdict(set)
    for cid in linked:
        groups[root(cid)].add(cid)
    return list(groups.values())


def detect(context: ScanContext) -> list[Evidence]:
    """Evidence for each outsider that reuses one cluster's distinctive fingerprints."""
    return list(inheritance(context).evidence)
