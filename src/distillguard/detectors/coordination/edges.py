"""The weighted account graph: every view's shared values expanded into pairs, sub-quadratically.

A value shared by ``n`` accounts becomes pairs only when ``2 <= n <= max_group``: small
groups (``n <= pair_cap``) expand to all pairs, larger ones to a ring of ``ring_degree``
neighbours in hash order, which keeps the group connected with O(n) edges.  Per view a pair
keeps the weight of its rarest shared value (no piling up of many weak coincidences)
and, where ``complete_large_groups`` is set, of large groups the two share without being
ring neighbours there (:func:`complete_large_groups`); the views then add up, and each
edge keeps the per-view weights that support it, for words later.  Synchrony
(SynchroTrap: the Jaccard of the 10-minute buckets two accounts are active in) is measured
only on pairs another view already proposed, never on all pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp
import xxhash

from distillguard.detectors.coordination.config import CoordinationConfig
from distillguard.detectors.coordination.rarity import rarity_array
from distillguard.detectors.coordination.views import VIEWS, View
from distillguard.engine.codes import dictionary_codes

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

SYNC = "synchrony"
"""Edge column of the synchrony view (not an Ibis view: it needs candidate pairs)."""


@dataclass
class AccountGraph:
    """Accounts (index = node id), edges with per-view weights, and what was shared."""

    accounts: list[str]
    edges: pd.DataFrame
    """Columns ``a``, ``b`` (node ids, a < b), ``weight``, one column per view, ``jaccard``."""
    memberships: dict[str, pd.DataFrame]
    """Per view: ``account`` (node id), ``value``, ``sharers``, ``rarity``."""
    buckets: dict[int, npt.NDArray[np.int64]] = field(default_factory=dict)
    """Per node id: sorted active bucket numbers (for cluster-level synchrony)."""
    n_buckets: int = 1
    views: list[str] = field(default_factory=list)


def _has_features(con: BaseBackend) -> bool:
    if "exchange_features" not in set(con.list_tables()):
        return False
    return int(con.table("exchange_features").count().execute()) > 0


def account_universe(con: BaseBackend) -> list[str]:
    """Every account seen in sign-ups or in requests, sorted (node ids follow this order)."""
    a = con.table("accounts").select("account_id")
    x = con.table("exchanges").select("account_id")
    ids = a.union(x, distinct=True).execute()["account_id"]
    return sorted(str(v) for v in ids)


def _stable_hash(values: pd.Series) -> npt.NDArray[np.uint64]:
    return np.fromiter(
        (xxhash.xxh64_intdigest(str(v).encode()) for v in values), np.uint64, len(values)
    )


def raw_ids(frame: pd.DataFrame, index: dict[str, int]) -> pd.Series:
    """Account ids of a membership frame's node ids."""
    ids = np.array(sorted(index, key=index.__getitem__), dtype=object)
    return pd.Series(ids[frame["account"].to_numpy()], index=frame.index, dtype=object)


def memberships(
    view: View,
    con: BaseBackend,
    cfg: CoordinationConfig,
    index: dict[str, int],
    node_order: npt.NDArray[np.uint64] | None = None,
    accounts_by_node: pd.Index | None = None,
) -> pd.DataFrame:
    """The view's ``(account, value)`` rows with how many accounts share each value.

    ``node_order`` is :func:`_stable_hash` of every account id by node id, and
    ``accounts_by_node`` the account ids in node id order, when the caller worked them out
    once for all views (mapping the ids through the dict built a lookup table per view)."""
    raw = view.rows(con, cfg)
    if accounts_by_node is None:
        accounts_by_node = pd.Index(sorted(index, key=index.__getitem__), dtype=object)
    node = accounts_by_node.get_indexer(raw["account_id"])
    frame = pd.DataFrame({"account": node, "value": raw["value"].astype(str)})
    frame = frame[node >= 0].dropna()
    frame["account"] = frame["account"].astype(np.int64)
    frame = frame.drop_duplicates().sort_values(["value", "account"], ignore_index=True)
    frame["sharers"] = frame.groupby("value")["account"].transform("size").astype(np.int64)
    # Ring order for large groups: a hash of the account *id* alone, so that the same
    # accounts sit next to each other in every view (their ties add up across views) and
    # adding an unrelated account never reorders an existing group.
    accounts = frame["account"].to_numpy()
    frame["order"] = (
        node_order[accounts] if node_order is not None else _stable_hash(raw_ids(frame, index))
    )
    frame["rarity"] = rarity_array(frame["sharers"].to_numpy(), len(index), cfg.max_group)
    return frame


def expand_pairs(members: pd.DataFrame, cfg: CoordinationConfig) -> pd.DataFrame:
    """Pairs ``a < b`` with the view weight of their rarest shared value."""
    live = members[members["rarity"] > 0]
    small = live[live["sharers"] <= cfg.pair_cap]
    joined = small.merge(small[["value", "account"]], on="value", suffixes=("", "_b"))
    joined = joined[joined["account"] < joined["account_b"]]
    parts = [
        pd.DataFrame({"a": joined["account"], "b": joined["account_b"], "w": joined["rarity"]})
    ]
    large = live[live["sharers"] > cfg.pair_cap]
    if len(large):
        large = large.sort_values(["value", "order"], ignore_index=True)
        pos = large.groupby("value").cumcount().to_numpy()
        start = np.arange(len(large)) - pos
        size = large["sharers"].to_numpy()
        accounts = large["account"].to_numpy()
        for step in range(1, cfg.ring_degree + 1):
            other = accounts[start + (pos + step) % size]
            parts.append(
                pd.DataFrame(
                    {
                        "a": np.minimum(accounts, other),
                        "b": np.maximum(accounts, other),
                        "w": large["rarity"].to_numpy(),
                    }
                )
            )
    pairs = pd.concat(parts, ignore_index=True)
    pairs = pairs[pairs["a"] != pairs["b"]]
    return pairs.groupby(["a", "b"], as_index=False, sort=True)["w"].max()


def complete_large_groups(
    pairs: pd.DataFrame, members: pd.DataFrame, view: View, cfg: CoordinationConfig
) -> None:
    """Give every proposed pair (columns ``a``, ``b``, one per view) the view's weight of
    the rarest value the two share in a group too large to expand to all pairs; in place.

    A large group becomes a ring, so a pair that another view proposed usually is not
    ring neighbours here and would get nothing from this view, and ring neighbours here get
    nothing from the others: ties no longer add up across views once groups pass
    ``pair_cap``.  A campaign of a hundred accounts that all send the same wrapper (0.33)
    and mostly one template (0.2) and its near-duplicates then never reaches ``min_edge``
    at 200k exchanges, where it did at 50k with about forty.  Completing the pairs that
    some view proposed keeps the ring's O(n) pairs and lets their ties add up again.
    Used when ``CoordinationConfig.complete_large_groups`` is set (off by default: see its
    measured cost there).
    """
    large = members[(members["rarity"] > 0) & (members["sharers"] > cfg.pair_cap)]
    if large.empty or pairs.empty:
        return
    inside = large["account"].unique()
    candidates = pairs.index[pairs["a"].isin(inside) & pairs["b"].isin(inside)]
    if not len(candidates):
        return
    ends = pairs.loc[candidates, ["a", "b"]].rename_axis("pair").reset_index()
    shared = ends.merge(
        large[["account", "value", "rarity"]].rename(columns={"account": "a"}), on="a"
    ).merge(large[["account", "value"]].rename(columns={"account": "b"}), on=["b", "value"])
    if shared.empty:
        return
    best = shared.groupby("pair")["rarity"].max() * view.weight
    current = pairs.loc[best.index, view.name].to_numpy()
    pairs.loc[best.index, view.name] = np.maximum(current, best.to_numpy())


def node_ids(column: pa.ChunkedArray | pa.Array, index: dict[str, int]) -> npt.NDArray[np.int64]:
    """Node id of each account id in an Arrow column (every one must be in ``index``).

    Each distinct account is looked up once (the column is dictionary-encoded first): a
    lookup per row, of strings made into Python objects, cost more than the query did.
    """
    if column.null_count:
        raise KeyError("an account id is missing")
    codes, dictionary = dictionary_codes(column)
    lookup = np.array([index[str(v)] for v in dictionary.to_pylist()], dtype=np.int64)
    nodes: npt.NDArray[np.int64] = lookup[codes]
    return nodes


def activity_buckets(
    con: BaseBackend, cfg: CoordinationConfig, index: dict[str, int]
) -> tuple[dict[int, npt.NDArray[np.int64]], int]:
    """Active ``bucket_seconds`` buckets per account, and the number of buckets in the window."""
    x = con.table("exchanges")
    bucket = (x.ts.epoch_seconds() // cfg.bucket_seconds).cast("int64")
    rows = con.to_pyarrow(x.select(account_id=x.account_id, bucket=bucket).distinct())
    if rows.num_rows == 0:
        return {}, 1
    nodes = node_ids(rows.column("account_id"), index)
    values = np.asarray(rows.column("bucket"), dtype=np.int64)
    span = int(values.max() - values.min() + 1)
    order = np.lexsort((values, nodes))
    nodes, values = nodes[order], values[order]
    starts = np.r_[0, np.flatnonzero(np.diff(nodes)) + 1]
    ends = np.r_[starts[1:], len(nodes)]
    out = {
        int(node): values[start:end]
        for node, start, end in zip(nodes[starts].tolist(), starts, ends, strict=True)
    }
    return out, span


SYNC_PAIR_CHUNK = 20_000
"""Candidate pairs whose bucket overlaps are counted in one sparse product (bounds memory)."""


def bucket_matrix(buckets: dict[int, npt.NDArray[np.int64]], nodes: int) -> sp.csr_matrix:
    """Accounts × buckets, 1 where the account was active (rows of ``nodes`` node ids)."""
    lengths = np.zeros(nodes, dtype=np.int64)
    for node, values in buckets.items():
        lengths[node] = len(values)
    indptr = np.concatenate(([0], np.cumsum(lengths)))
    order = sorted(buckets)
    columns = np.concatenate([buckets[node] for node in order]) if order else np.zeros(0, np.int64)
    low = int(columns.min()) if len(columns) else 0
    width = int(columns.max()) - low + 1 if len(columns) else 1
    data = np.ones(len(columns), dtype=np.int32)
    return sp.csr_matrix((data, columns - low, indptr), shape=(nodes, width))


def synchrony(
    pairs: pd.DataFrame,
    buckets: dict[int, npt.NDArray[np.int64]],
    n_buckets: int,
    cfg: CoordinationConfig,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per candidate pair: bucket Jaccard, and the synchrony view weight.

    The weight counts only overlap far above chance (lift >= 3 over two accounts active at
    random in the same window) and above ``sync_min_jaccard``; it grows linearly to
    ``sync_weight`` at Jaccard 1.  Overlaps are counted for many pairs at once as the
    row-wise sum of an element-wise product of two sparse account × bucket matrices (one
    set intersection per pair in Python grew with the square of group sizes).
    """
    a = pairs["a"].to_numpy(np.int64)
    b = pairs["b"].to_numpy(np.int64)
    if len(a) == 0:
        return np.zeros(0), np.zeros(0)
    nodes = int(max(a.max(), b.max(), max(buckets, default=0))) + 1
    active = bucket_matrix(buckets, nodes)
    sizes = np.diff(active.indptr).astype(np.int64)
    inter = np.zeros(len(a), dtype=np.int64)
    for start in range(0, len(a), SYNC_PAIR_CHUNK):
        ca, cb = a[start : start + SYNC_PAIR_CHUNK], b[start : start + SYNC_PAIR_CHUNK]
        both = active[ca].multiply(active[cb])
        inter[start : start + len(ca)] = np.asarray(both.sum(axis=1)).ravel()
    la, lb = sizes[a], sizes[b]
    union = la + lb - inter
    jac = np.zeros(len(a))
    some = (la > 0) & (lb > 0)
    jac[some] = inter[some] / union[some]
    expected = la * lb / max(n_buckets, 1)
    synchronous = (jac >= cfg.sync_min_jaccard) & (inter >= 3) & (inter >= 3 * expected)
    span = 1.0 - cfg.sync_min_jaccard
    weight = np.zeros(len(a))
    weight[synchronous] = cfg.sync_weight * np.minimum(
        1.0, (jac[synchronous] - cfg.sync_min_jaccard) / span + 0.25
    )
    return jac, weight


def build_graph(con: BaseBackend, cfg: CoordinationConfig) -> AccountGraph:
    """Run every applicable view and assemble the weighted, thresholded account graph."""
    accounts = account_universe(con)
    index = {acct: i for i, acct in enumerate(accounts)}
    features = _has_features(con)
    views = [v for v in VIEWS if features or not v.needs_features]
    node_order = _stable_hash(pd.Series(accounts, dtype=object))
    accounts_by_node = pd.Index(accounts, dtype=object)
    members: dict[str, pd.DataFrame] = {}
    merged: pd.DataFrame | None = None
    for view in views:
        members[view.name] = memberships(view, con, cfg, index, node_order, accounts_by_node)
        pairs = expand_pairs(members[view.name], cfg).rename(columns={"w": view.name})
        pairs[view.name] *= view.weight
        merged = pairs if merged is None else merged.merge(pairs, on=["a", "b"], how="outer")
    names = [v.name for v in views]
    if merged is None or merged.empty:
        merged = pd.DataFrame({"a": [], "b": [], **{n: [] for n in names}})
    merged = merged.fillna(0.0).astype({"a": np.int64, "b": np.int64})
    if cfg.complete_large_groups:
        for view in views:
            complete_large_groups(merged, members[view.name], view, cfg)
    if {"signup_ip", "signup_subnet"} <= set(names):
        # Nested views: the same address is also the same /24; count the stronger one only.
        exact = merged["signup_ip"] > 0
        merged.loc[exact, "signup_subnet"] = 0.0
    merged["weight"] = merged[names].sum(axis=1) if names else 0.0
    candidates = merged[merged["weight"] >= cfg.min_edge / 2].reset_index(drop=True)
    buckets, span = activity_buckets(con, cfg, index)
    jac, sync_w = synchrony(candidates, buckets, span, cfg)
    candidates["jaccard"] = jac
    candidates[SYNC] = sync_w
    candidates["weight"] = candidates["weight"] + sync_w
    edges = candidates[candidates["weight"] >= cfg.min_edge].sort_values(["a", "b"])
    return AccountGraph(
        accounts=accounts,
        edges=edges.reset_index(drop=True),
        memberships=members,
        buckets=buckets,
        n_buckets=span,
        views=[*names, SYNC],
    )
