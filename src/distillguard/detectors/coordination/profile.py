"""What each cluster looks like as a whole: size, ties, templates, timing, sign-ups, traffic.

A cluster is judged as one subject, so these are cluster-level measurements, computed with
Ibis over the store (exchange counts, time span, capabilities, wrapper use) and from the
graph (which views tie the members, how synchronised they are).  Scoring reads only this.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import numpy.typing as npt
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
    """Per infrastructure value or e-mail domain shared in the cluster (``view:value``):
    identities among its sharers."""
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


def _member_uses(
    con: BaseBackend, clusters: dict[str, list[str]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Members' exchanges counted per wrapper and per capability tag, from one query.

    Wrapper use, all in integers: ``cluster`` and ``member`` (positions in ``clusters`` and
    in its members, in order), ``known`` (the exchange has a wrapper), ``wrapper`` (its id,
    0 when unknown), ``uses``: what :func:`_template_use` reads.  Capability use:
    ``cluster_id``, ``value`` (the tag), ``uses``: what :func:`_capabilities` reads.

    The members' exchanges (680k of 1M on the simulator's benchmark input) are grouped once,
    by member number, wrapper and tag, rather than once per measurement by account id,
    cluster id and the value as text; about one row per member and wrapper comes back (most
    prompts have a wrapper of their own), as numbers.
    """
    rows = [(acct, member) for member, acct in enumerate(a for m in clusters.values() for a in m)]
    numbers = ibis.memtable(
        pd.DataFrame(rows, columns=["account_id", "member"]).astype({"member": np.int64})
    )
    f = con.table("exchange_features")
    joined = f.select("account_id", "wrapper_id", "capability").join(numbers, "account_id")
    counted = joined.group_by(
        member=joined.member,
        known=joined.wrapper_id.notnull(),
        wrapper=joined.wrapper_id.fill_null(0).cast("int64"),
        capability=joined.capability.cast("string"),
    ).aggregate(uses=joined.count())
    frame = counted.execute()
    sizes = np.array([len(m) for m in clusters.values()], dtype=np.int64)
    cluster_of_member = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    member = frame["member"].to_numpy(np.int64)
    both = pd.DataFrame(
        {
            "cluster": cluster_of_member[member],
            "member": member,
            "known": frame["known"].to_numpy(bool),
            "wrapper": frame["wrapper"].to_numpy(np.int64),
            "capability": frame["capability"],
            "uses": frame["uses"].to_numpy(np.int64),
        }
    )
    keys = ["cluster", "member", "known", "wrapper"]
    wrappers = both.groupby(keys, as_index=False, sort=False)["uses"].sum()
    tags = both.groupby(["cluster", "capability"], as_index=False, sort=False, dropna=False)[
        "uses"
    ].sum()
    ids = np.array(list(clusters), dtype=object)
    capabilities = pd.DataFrame(
        {
            "cluster_id": ids[tags["cluster"].to_numpy(np.int64)],
            "value": tags["capability"].to_numpy(),
            "uses": tags["uses"].to_numpy(np.int64),
        }
    )
    return wrappers, capabilities


def _by_cluster(frame: pd.DataFrame, key: str) -> dict[object, pd.DataFrame]:
    """A frame's rows per value of ``key`` (original order kept), in one pass."""
    return {k: rows for k, rows in frame.groupby(key, sort=False)} if len(frame) else {}


def _signups_by_cluster(
    signups: pd.DataFrame,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, npt.NDArray[np.int64]]]:
    """Per cluster: its members' sign-up rows as records (original order), and their known
    creation times in microseconds since the epoch; read once for all clusters."""
    if signups.empty:
        return {}, {}
    created = signups["created_at"]
    known = created.notna().to_numpy()
    micros = np.zeros(len(signups), dtype=np.int64)
    micros[known] = created[known].astype("int64").to_numpy()
    records = signups.to_dict("records")
    rows_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    positions: dict[str, list[int]] = defaultdict(list)
    for position, (record, cid) in enumerate(
        zip(records, signups["cluster_id"].tolist(), strict=True)
    ):
        rows_of[cid].append(record)
        positions[cid].append(position)
    created_of = {cid: micros[at][known[at]] for cid, at in positions.items()}
    return dict(rows_of), created_of


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
    if signups.empty or "organization_id" not in signups:
        return frozenset()
    return _split_organisations(signups.to_dict("records"), cfg)


def _split_organisations(signups: list[dict[str, Any]], cfg: CoordinationConfig) -> frozenset[str]:
    """:func:`split_organisations` of a cluster's sign-up rows as records (the profile reads
    every cluster's rows once as records: a frame per cluster cost more than the work)."""
    by_org: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in signups:
        if (org := _text(row.get("organization_id"))) is not None:
            by_org[org].append(row)
    split: set[str] = set()
    for org, rows in by_org.items():
        if len(rows) < 2:
            continue
        cards = [c for r in rows if (c := _text(r.get("payment_fingerprint"))) is not None]
        domains = [
            d.lower()
            for r in rows
            if (d := _text(r.get("email_domain"))) is not None and d.lower() not in cfg.webmail
        ]
        shared_card = len(set(cards)) < len(cards)
        shared_domain = len(set(domains)) < len(domains)
        if len(cards) >= 2 and not shared_card and not shared_domain:
            split.add(str(org))
    return frozenset(split)


def _identity(
    row: Mapping[str, Any], cfg: CoordinationConfig, split: frozenset[str] = frozenset()
) -> str:
    org = row.get("organization_id")
    if isinstance(org, str) and org and org not in split:
        return f"org:{org}"
    domain = row.get("email_domain")
    if isinstance(domain, str) and domain and domain.lower() not in cfg.webmail:
        return f"domain:{domain.lower()}"
    return f"self:{row['account_id']}"


def _burst(created: npt.NDArray[np.int64], signups: int) -> tuple[float, float | None]:
    """Largest share of ``signups`` created within 24 hours, and the creation span in days
    (``created``: the known creation times, microseconds since the epoch)."""
    times = np.sort(created) / 1e6 / 86400.0
    if len(times) == 0:
        return 0.0, None
    right = np.searchsorted(times, times + 1.0, side="right")
    best = int((right - np.arange(len(times))).max())
    return best / signups, float(times[-1] - times[0])


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
    wrappers, capabilities = (
        _member_uses(con, clusters) if has_features else (pd.DataFrame(), pd.DataFrame())
    )
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
    signups_of, created_of = _signups_by_cluster(signups)
    edges_of = _by_cluster(edges, "cluster_id")
    template_use = _template_use(wrappers, clusters, cfg) if has_features else {}
    capability_mix = _capabilities(capabilities) if has_features else {}
    for cid, accts in clusters.items():
        p = ClusterProfile(cid, accts)
        p.ties = _ties(shared[cid], len(accts))
        mine = signups_of.get(cid, [])
        identity_of = {a: f"self:{a}" for a in accts}
        split = _split_organisations(mine, cfg)
        for row in mine:
            identity_of[str(row["account_id"])] = _identity(row, cfg, split)
        counts = Counter(identity_of.values())
        p.identities = len(counts)
        p.diversity = 1.0 - max(counts.values()) / len(accts)
        p.burst, p.created_span_days = _burst(created_of[cid], len(mine)) if mine else (0.0, None)
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
    """Per cluster with wrapper use: its most used wrapper (then the smallest value, as
    text), that wrapper's share of the cluster's exchanges, and the share of members whose
    own traffic relies on it (``min_share`` or more); ``uses`` is :func:`_member_uses`.

    Computed for all clusters in a few group-bys rather than cluster by cluster.
    """
    if uses.empty:
        return {}
    known = uses[uses["known"].to_numpy(bool)]
    per_value = known.groupby(["cluster", "wrapper"], as_index=False, sort=False)["uses"].sum()
    if per_value.empty:
        return {}
    totals = per_value.groupby("cluster")["uses"].sum()
    most = per_value.groupby("cluster")["uses"].transform("max").to_numpy(np.int64)
    # Ties on uses go to the smallest value as text ("-5" before "12"), as ids are written.
    candidates = per_value[per_value["uses"].to_numpy(np.int64) == most]
    top: dict[int, tuple[int, int, str]] = {}
    for cluster, wrapper, n in zip(
        candidates["cluster"].tolist(),
        candidates["wrapper"].tolist(),
        candidates["uses"].tolist(),
        strict=True,
    ):
        text = str(wrapper)
        if cluster not in top or text < top[cluster][2]:
            top[cluster] = (int(n), int(wrapper), text)
    top_wrapper = np.zeros(len(clusters), dtype=np.int64)
    has_top = np.zeros(len(clusters), dtype=bool)
    for cluster, (_, wrapper, _) in top.items():
        top_wrapper[cluster], has_top[cluster] = wrapper, True
    cluster = uses["cluster"].to_numpy(np.int64)
    on_top = (
        uses["known"].to_numpy(bool)
        & has_top[cluster]
        & (uses["wrapper"].to_numpy(np.int64) == top_wrapper[cluster])
    )
    per_member = uses.groupby(["cluster", "member"])["uses"].sum()
    top_uses = uses[on_top].groupby(["cluster", "member"])["uses"].sum()
    share = top_uses.reindex(per_member.index, fill_value=0) / per_member
    relying = (share >= cfg.min_share).groupby(level="cluster").sum()
    ids = list(clusters)
    return {
        ids[c]: (
            text,
            n / int(totals[c]),
            float(relying.get(c, 0)) / len(clusters[ids[c]]),
        )
        for c, (n, _, text) in sorted(top.items())
    }


def _capabilities(uses: pd.DataFrame) -> dict[str, list[str]]:
    """Per cluster: the capabilities of at least ``CAPABILITY_MIN_SHARE`` of its exchanges,
    most used first (``uses``: see :func:`_member_uses`)."""
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


IDENTITY_VIEWS = (*INFRA_VIEWS, "email_domain")
"""Views whose shared values are counted in identities (``cross_identity``): machinery and
the e-mail domain, which one company keeps to itself and a campaign spreads across names."""


def _cross_identity(
    shared: dict[str, list[SharedValue]], identity_of: dict[str, str], accounts: list[str]
) -> dict[str, int]:
    """For each shared value of :data:`IDENTITY_VIEWS`: how many declared identities use it."""
    out: dict[str, int] = {}
    for view in IDENTITY_VIEWS:
        for value in shared.get(view, []):
            who = {identity_of[accounts[i]] for i in value.nodes}
            out[f"{view}:{value.value}"] = len(who)
    return out
