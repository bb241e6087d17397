"""Communities of the account graph, with ids that survive the next day's run.

Leiden (``leidenalg``, RBConfiguration with edge weights, fixed seed) runs on each connected
component separately: components are independent anyway, it is faster, and a new account
in one part of the graph cannot change how another part is split.  Without ``leidenalg``
the components themselves are the clusters.  Singletons are dropped.

Cluster ids: ``C-`` and 12 hex digits of the smallest xxh64 of the members' account ids
(the cluster's *anchor*).  The id stays the same when the campaign adds accounts (unless a
newcomer's hash is smaller still, chance 1 in the new size) or loses any member other than
the anchor, and it names the same campaign on tomorrow's run without a registry.  Hashing
member ids rather than shared values keeps the id valid when a campaign rotates its card
or wrapper.  Two clusters can never share an anchor, so ids are unique.
"""

from __future__ import annotations

from collections.abc import Iterable

import igraph as ig
import numpy as np
import numpy.typing as npt
import pandas as pd
import xxhash

from distillguard.detectors.coordination.config import CoordinationConfig
from distillguard.detectors.coordination.edges import AccountGraph


def cluster_id(members: Iterable[str]) -> str:
    """The stable id of a cluster: its anchor member's hash (see the module docstring)."""
    return f"C-{min(xxhash.xxh64_intdigest(m.encode()) for m in members):016x}"[:14]


def components(graph: AccountGraph) -> list[list[int]]:
    """Connected components (node ids, sorted) with at least two nodes."""
    n = len(graph.accounts)
    e = graph.edges
    if n == 0 or e.empty:
        return []
    g = ig.Graph(n=n, edges=list(zip(e["a"].tolist(), e["b"].tolist(), strict=True)))
    parts = [sorted(c) for c in g.connected_components() if len(c) >= 2]
    return sorted(parts, key=lambda c: c[0])


def _leiden(nodes: list[int], edges: pd.DataFrame, cfg: CoordinationConfig) -> list[list[int]]:
    """Split one component into communities; falls back to the whole component."""
    try:
        import leidenalg
    except ImportError:  # pragma: no cover - a dependency; the fallback is documented
        return [nodes]
    local = {node: i for i, node in enumerate(nodes)}
    g = ig.Graph(n=len(nodes))
    g.add_edges([(local[a], local[b]) for a, b in zip(edges["a"], edges["b"], strict=True)])
    partition = leidenalg.find_partition(
        g,
        leidenalg.RBConfigurationVertexPartition,
        weights=edges["weight"].tolist(),
        resolution_parameter=cfg.resolution,
        seed=cfg.seed,
        n_iterations=-1,
    )
    return [sorted(nodes[i] for i in community) for community in partition]


def _edges_by_component(
    graph: AccountGraph, parts: list[list[int]]
) -> dict[int, npt.NDArray[np.intp]]:
    """Per component (position in ``parts``): positions of its edges, in edge order.

    One pass over the edges; filtering all edges once per component would cost
    components × edges, and both grow with the traffic.
    """
    component = np.full(len(graph.accounts), -1, dtype=np.int64)
    for position, nodes in enumerate(parts):
        component[nodes] = position
    of_edge = component[graph.edges["a"].to_numpy(dtype=np.int64)]
    return {int(k): v for k, v in pd.Series(of_edge).groupby(of_edge).indices.items()}


def find_communities(graph: AccountGraph, cfg: CoordinationConfig) -> dict[str, list[str]]:
    """Cluster id -> sorted member account ids, for communities of ``min_size`` or more."""
    e = graph.edges
    out: dict[str, list[str]] = {}
    found = components(graph)
    edges_of = _edges_by_component(graph, found) if found else {}
    for position, nodes in enumerate(found):
        if len(nodes) <= 3:
            parts = [nodes]
        else:
            inside = e.iloc[edges_of[position]]
            parts = _leiden(nodes, inside, cfg)
        for part in parts:
            if len(part) >= cfg.min_size:
                members = sorted(graph.accounts[i] for i in part)
                out[cluster_id(members)] = members
    return dict(sorted(out.items()))
