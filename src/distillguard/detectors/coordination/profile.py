"""What each cluster looks like as a whole: size, ties, templates, timing, sign-ups, traffic.

A cluster is judged as one subject, so these are cluster-level measurements, computed with
Ibis over the store (exchange counts, time span, capabilities, wrapper use) and from the
graph (which views tie the members, how synchronised they are).  Scoring reads only this.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import ibis
import numpy as np
import pandas as pd

from distillguard.detectors.coordination.config import CoordinationConfig
from distillguard.detectors.coordination.edges import SYNC, AccountGraph
from distillguard.engine.timestamps import as_utc, utc_columns
from distillguard.results.model import Indicator

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

INDICATORS_PER_VIEW = 3
CAPABILITY_MIN_SHARE = 0.10


@dataclass
class ViewTie:
    """How one view ties a cluster: members covered and the values they share."""

    view: str
    coverage: float
    """Share of members that share at least one value of this view with another member."""
    top: list[tuple[str, int, float]]
    """(value, members sharing it, rarity) of the most shared values, most shared first."""
    exclusive: float = 0.0
    """Share of all accounts using the top value that are in this cluster: 1 when the value
    is the cluster's own, small for a phrasing the whole population uses."""
    label: str | None = None
    """The top value in words, where it has words a hash hides (an instruction sentence's
    text, :mod:`.sentence_labels`)."""


@dataclass
class ClusterProfile:
    """Cluster-level measurements (see module docstring)."""

    cluster_id: str
    members: list[str]
    ties: list[ViewTie] = field(default_factory=list)
    identities: int = 0
    """Distinct declared identities: organisation, else non-webmail e-mail domain, else self.
    An organisation whose members share neither a card nor a company domain is a claim, not
    an identity (:func:`split_organisations`): its members count by domain or as themselves."""
    diversity: float = 0.0
    """1 - largest identity's share of members: 0 for one company, near 1 for a hydra."""
    cross_identity: dict[str, int] = field(default_factory=dict)
    """Per infrastructure value shared in the cluster: identities among its sharers."""
    burst: float = 0.0
    """Largest share of members created within any 24 hours."""
    created_span_days: float | None = None
    synchrony: float = 0.0
    """Mean Jaccard of 10-minute activity buckets over the cluster's edges."""
    synced_pairs: float = 0.0
    """Share of the cluster's edges carried (in part) by synchrony."""
    exchanges: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    capabilities: list[str] = field(default_factory=list)
    top_wrapper: str | None = None
    wrapper_share: float = 0.0
    """Share of the cluster's exchanges that use its most common wrapper."""
    wrapper_coverage: float = 0.0
    """Share of members whose own traffic relies on that wrapper (>= min_share)."""
    indicators: list[Indicator] = field(default_factory=list)


def _membership_table(clusters: dict[str, list[str]]) -> ibis.Table:
    rows = [(acct, cid) for cid, members in clusters.items() for acct in members]
    frame = pd.DataFrame(rows, columns=["account_id", "cluster_id"])
    return ibis.memtable(frame)


def _traffic(con: BaseBackend, members: ibis.Table) -> pd.DataFrame:
    x = con.table("exchanges").select("account_id", "ts")
    joined = x.join(members, "account_id")
    return (
        joined.group_by("cluster_id")
        .aggregate(exchanges=joined.count(), first_seen=joined.ts.min(), last_seen=joined.ts.max())
        .execute()
    )


def _feature_use(con: BaseBackend, members: ibis.Table, column: str) -> pd.DataFrame:
    f = con.table("exchange_features")
    joined = f.select("account_id", value=f[column].cast("string")).join(members, "account_id")
    return (
        joined.group_by(["cluster_id", "account_id", "value"])
        .aggregate(uses=joined.count())
        .execute()
    )


def _by_cluster(frame: pd.DataFrame, key: str) -> dict[object, pd.DataFrame]:
    """A frame's rows per value of ``key`` (original order kept), in one pass."""
    return {k: rows for k, rows in frame.groupby(key, sort=False)} if len(frame) else {}


@dataclass(frozen=True)
class SharedValue:
    """A value of one view that at least two members of one cluster share."""

    value: str
    nodes: tuple[int, ...]
    """The members sharing it (node ids)."""
    rarity: float
    sharers: int
    """All accounts sharing it, inside the cluster or not."""


def _shared_values(
    graph: AccountGraph, nodes_of: dict[str, list[int]]
) -> dict[str, dict[str, list[SharedValue]]]:
    """Per cluster and view: the values of positive rarity that two or more of its members
    share, in value order.

    One pass over each view's memberships for all clusters together: filtering each view
    once per cluster costs clusters × memberships, and both grow with the traffic.
    """
    belongs = pd.DataFrame(
        [(node, cid) for cid, nodes in nodes_of.items() for node in nodes],
        columns=["account", "cluster_id"],
    ).astype({"account": np.int64, "cluster_id": object})
    out: dict[str, dict[str, list[SharedValue]]] = {cid: {} for cid in nodes_of}
    for view, frame in graph.memberships.items():
        live = frame[frame["rarity"] > 0][["account", "value", "rarity", "sharers"]]
        rows = live.merge(belongs, on="account").drop_duplicates(["cluster_id", "value", "account"])
        members = rows.groupby(["cluster_id", "value"])["account"].transform("size")
        rows = rows[members.to_numpy() >= 2]
        grouped: dict[tuple[str, str], list[int]] = defaultdict(list)
        first: dict[tuple[str, str], tuple[float, int]] = {}
        for cid, value, account, rarity, sharers in zip(
            rows["cluster_id"].tolist(),
            rows["value"].tolist(),
            rows["account"].tolist(),
            rows["rarity"].tolist(),
            rows["sharers"].tolist(),
            strict=True,
        ):
            grouped[cid, value].append(int(account))
            first.setdefault((cid, value), (float(rarity), int(sharers)))
        for cid, value in sorted(grouped):
            rarity, sharers = first[cid, value]
            shared = SharedValue(str(value), tuple(grouped[cid, value]), rarity, sharers)
            out[cid].setdefault(view, []).append(shared)
    return out


def _ties(shared: dict[str, list[SharedValue]], size: int) -> list[ViewTie]:
    """What the cluster's ``size`` members share, view by view (``shared``: see
    :func:`_shared_values`)."""
    ties: list[ViewTie] = []
    for view, values in shared.items():
        covered = len({node for v in values for node in v.nodes})
        ranked = sorted(values, key=lambda v: (-len(v.nodes), -v.rarity, v.value))
        top = [(v.value, len(v.nodes), v.rarity) for v in ranked[:INDICATORS_PER_VIEW]]
        exclusive = len(ranked[0].nodes) / max(1, ranked[0].sharers)
        ties.append(ViewTie(view, covered / size, top, exclusive))
    return ties


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def split_organisations(signups: pd.DataFrame, cfg: CoordinationConfig) -> frozenset[str]:
    """Organisations whose members in the cluster share nothing an organisation shares.

    An organisation is a billing unit: its accounts pay with its instrument and sign up from
    its domain.  When at least two members show payment instruments, no two members share
    one, and no two share a company e-mail domain, the declared organisation is a claim the
    accounts made (a startup or research programme joined by unrelated accounts), not an
    identity they have in common; such members count by their own domain or as themselves.
    """
    split: set[str] = set()
    if signups.empty or "organization_id" not in signups:
        return frozenset()
    for org, rows in signups.groupby("organization_id"):
        if not _text(org) or len(rows) < 2:
            continue
        cards = [c for c in rows.get("payment_fingerprint", pd.Series(dtype=object)) if _text(c)]
        domains = [
            d.lower()
            for d in rows.get("email_domain", pd.Series(dtype=object))
            if _text(d) and d.lower() not in cfg.webmail
        ]
        shared_card = len(set(cards)) < len(cards)
        shared_domain = len(set(domains)) < len(domains)
        if len(cards) >= 2 and not shared_card and not shared_domain:
            split.add(str(org))
    return frozenset(split)


def _identity(row: pd.Series, cfg: CoordinationConfig, split: frozenset[str] = frozenset()) -> str:
    org = row.get("organization_id")
    if isinstance(org, str) and org and org not in split:
        return f"org:{org}"
    domain = row.get("email_domain")
    if isinstance(domain, str) and domain and domain.lower() not in cfg.webmail:
        return f"domain:{domain.lower()}"
    return f"self:{row['account_id']}"


def _burst(created: pd.Series) -> tuple[float, float | None]:
    times = np.sort(created.dropna().astype("int64").to_numpy()) / 1e6 / 86400.0
    if len(times) == 0:
        return 0.0, None
    right = np.searchsorted(times, times + 1.0, side="right")
    best = int((right - np.arange(len(times))).max())
    return best / len(created), float(times[-1] - times[0])


def profile_clusters(
    con: BaseBackend,
    graph: AccountGraph,
    clusters: dict[str, list[str]],
    cfg: CoordinationConfig,
) -> dict[str, ClusterProfile]:
    """Measure every cluster (one Ibis query per measurement, not one per cluster)."""
    if not clusters:
        return {}
    index = {acct: i for i, acct in enumerate(graph.accounts)}
    members = _membership_table(clusters)
    traffic = _traffic(con, members).set_index("cluster_id")
    signups = utc_columns(con.table("accounts").join(members, "account_id").execute())
    has_features = any(v in graph.memberships for v in ("wrapper", "template"))
    wrappers = _feature_use(con, members, "wrapper_id") if has_features else pd.DataFrame()
    capabilities = _feature_use(con, members, "capability") if has_features else pd.DataFrame()
    edges = graph.edges
    cluster_of = {acct: cid for cid, accts in clusters.items() for acct in accts}
    left = [cluster_of.get(graph.accounts[a]) for a in edges["a"].tolist()]
    right = [cluster_of.get(graph.accounts[b]) for b in edges["b"].tolist()]
    edges = edges.assign(
        cluster_id=[x if x == y else None for x, y in zip(left, right, strict=True)]
    )
    out: dict[str, ClusterProfile] = {}
    nodes_of = {cid: [index[a] for a in accts] for cid, accts in clusters.items()}
    shared = _shared_values(graph, nodes_of)
    signups_of = _by_cluster(signups, "cluster_id")
    edges_of = _by_cluster(edges, "cluster_id")
    template_use = _template_use(wrappers, clusters, cfg) if has_features else {}
    capability_mix = _capabilities(capabilities) if has_features else {}
    for cid, accts in clusters.items():
        p = ClusterProfile(cid, accts)
        p.ties = _ties(shared[cid], len(accts))
        mine = signups_of.get(cid, signups.iloc[0:0])
        identity_of = {a: f"self:{a}" for a in accts}
        split = split_organisations(mine, cfg)
        for _, row in mine.iterrows():
            identity_of[str(row["account_id"])] = _identity(row, cfg, split)
        counts = Counter(identity_of.values())
        p.identities = len(counts)
        p.diversity = 1.0 - max(counts.values()) / len(accts)
        p.burst, p.created_span_days = _burst(mine["created_at"]) if not mine.empty else (0.0, None)
        inner = edges_of.get(cid, edges.iloc[0:0])
        if len(inner):
            p.synchrony = float(inner["jaccard"].mean())
            p.synced_pairs = float((inner[SYNC] > 0).mean())
        if cid in traffic.index:
            row = traffic.loc[cid]
            p.exchanges = int(row["exchanges"])
            p.first_seen = as_utc(row["first_seen"])
            p.last_seen = as_utc(row["last_seen"])
        if cid in template_use:
            p.top_wrapper, p.wrapper_share, p.wrapper_coverage = template_use[cid]
        p.capabilities = capability_mix.get(cid, [])
        p.cross_identity = _cross_identity(shared[cid], identity_of, graph.accounts)
        p.indicators = [
            Indicator(kind=t.view, value=value, accounts=n) for t in p.ties for value, n, _ in t.top
        ]
        out[cid] = p
    return out


def _template_use(
    uses: pd.DataFrame, clusters: dict[str, list[str]], cfg: CoordinationConfig
) -> dict[str, tuple[str, float, float]]:
    """Per cluster with wrapper use: its most used wrapper (then the smallest value), that
    wrapper's share of the cluster's exchanges, and the share of members whose own traffic
    relies on it (``min_share`` or more); ``uses`` is :func:`_feature_use` of the wrappers.

    Computed for all clusters in a few group-bys rather than cluster by cluster.
    """
    if uses.empty:
        return {}
    per_value = uses.groupby(["cluster_id", "value"])["uses"].sum()
    totals: dict[str, int] = defaultdict(int)
    top: dict[str, tuple[int, str]] = {}
    for (cid, value), n in zip(per_value.index.tolist(), per_value.tolist(), strict=True):
        totals[cid] += int(n)
        if cid not in top or (-int(n), str(value)) < (-top[cid][0], top[cid][1]):
            top[cid] = (int(n), str(value))
    top_of = {cid: value for cid, (_, value) in top.items()}
    per_account = uses.groupby(["cluster_id", "account_id"])["uses"].sum()
    on_top = uses[(uses["value"] == uses["cluster_id"].map(top_of)).fillna(False).to_numpy(bool)]
    top_uses = on_top.groupby(["cluster_id", "account_id"])["uses"].sum()
    share = top_uses.reindex(per_account.index, fill_value=0) / per_account
    relying = (share >= cfg.min_share).groupby(level="cluster_id").sum()
    return {
        cid: (value, n / totals[cid], float(relying.get(cid, 0)) / len(clusters[cid]))
        for cid, (n, value) in top.items()
    }


def _capabilities(uses: pd.DataFrame) -> dict[str, list[str]]:
    """Per cluster: the capabilities of at least ``CAPABILITY_MIN_SHARE`` of its exchanges,
    most used first (``uses`` is :func:`_feature_use` of the capability tags)."""
    if uses.empty:
        return {}
    per_value = uses.groupby(["cluster_id", "value"])["uses"].sum()
    counted: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for (cid, value), n in zip(per_value.index.tolist(), per_value.tolist(), strict=True):
        counted[cid].append((str(value), int(n)))
    out: dict[str, list[str]] = {}
    for cid, caps in counted.items():
        total = float(sum(n for _, n in caps)) or 1.0
        kept = [(c, n) for c, n in caps if n / total >= CAPABILITY_MIN_SHARE]
        out[cid] = [c for c, _ in sorted(kept, key=lambda cn: (-cn[1], cn[0]))]
    return out


INFRA_VIEWS = (
    "payment_fingerprint",
    "signup_ip",
    "signup_subnet",
    "client_subnet",
    "organization_id",
)


def _cross_identity(
    shared: dict[str, list[SharedValue]], identity_of: dict[str, str], accounts: list[str]
) -> dict[str, int]:
    """For each shared infrastructure value: how many declared identities use it."""
    out: dict[str, int] = {}
    for view in INFRA_VIEWS:
        for value in shared.get(view, []):
            who = {identity_of[accounts[i]] for i in value.nodes}
            out[f"{view}:{value.value}"] = len(who)
    return out
