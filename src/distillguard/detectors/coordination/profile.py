"""What each cluster looks like as a whole: size, ties, templates, timing, sign-ups, traffic.

A cluster is judged as one subject, so these are cluster-level measurements, computed with
Ibis over the store (exchange counts, time span, capabilities, wrapper use) and from the
graph (which views tie the members, how synchronised they are).  Scoring reads only this.
"""

from __future__ import annotations

from collections import Counter
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


def _live_by_cluster(
    graph: AccountGraph, clusters: dict[str, list[int]]
) -> dict[str, dict[str, pd.DataFrame]] | None:
    """Per cluster and view, its members' membership rows of positive rarity: one pass
    over each view instead of one per cluster (``None`` when clusters overlap)."""
    owner = np.full(len(graph.accounts), -1, dtype=np.int64)
    names = list(clusters)
    for position, cid in enumerate(names):
        nodes = np.asarray(clusters[cid], dtype=np.int64)
        if (owner[nodes] >= 0).any():
            return None
        owner[nodes] = position
    out: dict[str, dict[str, pd.DataFrame]] = {cid: {} for cid in names}
    for view, frame in graph.memberships.items():
        live = frame[frame["rarity"] > 0]
        who = owner[live["account"].to_numpy(dtype=np.int64)]
        kept = who >= 0
        live, who = live[kept], who[kept]
        for position, rows in pd.Series(np.arange(len(who))).groupby(who).indices.items():
            out[names[int(position)]][view] = live.iloc[rows]
    return out


def _ties(
    graph: AccountGraph, nodes: list[int], live: dict[str, pd.DataFrame] | None = None
) -> list[ViewTie]:
    """What the cluster's members share, view by view; ``live`` is the members' rows of
    positive rarity per view when already grouped (see :func:`_live_by_cluster`)."""
    ties: list[ViewTie] = []
    inside = set(nodes)
    for view, frame in graph.memberships.items():
        if live is not None:
            if view not in live:
                continue
            local = live[view]
        else:
            local = frame[frame["account"].isin(inside) & (frame["rarity"] > 0)]
        counts = local.groupby("value")["account"].nunique()
        shared = counts[counts >= 2]
        if shared.empty:
            continue
        covered = local[local["value"].isin(shared.index)]["account"].nunique()
        rarity = local.drop_duplicates("value").set_index("value")["rarity"]
        ranked = sorted(shared.items(), key=lambda kv: (-kv[1], -rarity[kv[0]], kv[0]))
        top = [(str(v), int(n), float(rarity[v])) for v, n in ranked[:INDICATORS_PER_VIEW]]
        everyone = local.drop_duplicates("value").set_index("value")["sharers"]
        exclusive = ranked[0][1] / max(1, int(everyone[ranked[0][0]]))
        ties.append(ViewTie(view, covered / len(nodes), top, exclusive))
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
    live = _live_by_cluster(graph, nodes_of)
    signups_of = _by_cluster(signups, "cluster_id")
    edges_of = _by_cluster(edges, "cluster_id")
    wrappers_of = _by_cluster(wrappers, "cluster_id") if has_features else {}
    capabilities_of = _by_cluster(capabilities, "cluster_id") if has_features else {}
    for cid, accts in clusters.items():
        p = ClusterProfile(cid, accts)
        nodes = nodes_of[cid]
        p.ties = _ties(graph, nodes, None if live is None else live[cid])
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
        if has_features:
            _template_use(p, wrappers_of.get(cid, wrappers.iloc[0:0]), cfg)
            caps = capabilities_of.get(cid, capabilities.iloc[0:0]).groupby("value")["uses"].sum()
            total = float(caps.sum()) or 1.0
            caps = caps[caps / total >= CAPABILITY_MIN_SHARE].sort_values(ascending=False)
            p.capabilities = sorted(caps.index, key=lambda c: (-caps[c], c))
        p.cross_identity = _cross_identity(graph, p, identity_of, index)
        p.indicators = [
            Indicator(kind=t.view, value=value, accounts=n) for t in p.ties for value, n, _ in t.top
        ]
        out[cid] = p
    return out


def _template_use(p: ClusterProfile, uses: pd.DataFrame, cfg: CoordinationConfig) -> None:
    if uses.empty:
        return
    by_value = uses.groupby("value")["uses"].sum().sort_values(ascending=False, kind="stable")
    top = str(sorted(by_value.index, key=lambda v: (-by_value[v], v))[0])
    p.top_wrapper = top
    p.wrapper_share = float(by_value[top] / by_value.sum())
    per_account = uses.groupby("account_id")["uses"].sum()
    on_top = uses[uses["value"] == top].set_index("account_id")["uses"]
    share = on_top.reindex(per_account.index, fill_value=0) / per_account
    p.wrapper_coverage = float((share >= cfg.min_share).sum() / len(p.members))


INFRA_VIEWS = (
    "payment_fingerprint",
    "signup_ip",
    "signup_subnet",
    "client_subnet",
    "organization_id",
)


def _cross_identity(
    graph: AccountGraph, p: ClusterProfile, identity_of: dict[str, str], index: dict[str, int]
) -> dict[str, int]:
    """For each shared infrastructure value: how many declared identities use it."""
    out: dict[str, int] = {}
    nodes = {index[a] for a in p.members}
    for view in INFRA_VIEWS:
        frame = graph.memberships.get(view)
        if frame is None:
            continue
        local = frame[frame["account"].isin(nodes) & (frame["rarity"] > 0)]
        for value, group in local.groupby("value"):
            if len(group) >= 2:
                who = {identity_of[graph.accounts[i]] for i in group["account"]}
                out[f"{view}:{value}"] = len(who)
    return out
