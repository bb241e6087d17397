"""The coordination stage end to end: graph, communities, profiles, evidence.

``find_clusters`` runs once per scan; the detectors DG-401..405 each hand back their part of
the same result, cached on the scan context so the graph is built only once.  The cache is a
per-scan frame (``coordination.members``: one row per clustered account) whose ``attrs``
carry the full findings, because the context keeps frames and nothing else.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import orjson
import pandas as pd
import xxhash

from distillguard.detectors.base import DetectorInfo, Evidence
from distillguard.detectors.coordination.clusters import find_communities
from distillguard.detectors.coordination.config import CoordinationConfig
from distillguard.detectors.coordination.edges import AccountGraph, build_graph
from distillguard.detectors.coordination.profile import ClusterProfile, profile_clusters
from distillguard.detectors.coordination.scoring import HYDRA, INFOS, cluster_evidence
from distillguard.detectors.coordination.sentence_labels import label_sentences
from distillguard.results.model import Indicator

if TYPE_CHECKING:
    from distillguard.detectors.context import ScanContext

FRAME = "coordination.members"


@dataclass
class ClusterFindings:
    """Everything the coordination stage found, keyed by stable cluster id."""

    clusters: dict[str, list[str]]
    """Cluster id -> sorted member account ids."""
    evidence: dict[str, list[Evidence]]
    indicators: dict[str, list[Indicator]]
    profiles: dict[str, ClusterProfile]
    exchanges: dict[str, int]
    capabilities: dict[str, list[str]]
    first_seen: dict[str, datetime | None]
    last_seen: dict[str, datetime | None]
    config_hash: str
    attachment: dict[str, dict[str, float]] = field(default_factory=dict)
    """Cluster id -> member -> how firmly the member is tied to the rest of its cluster,
    in [0, 1] (see :func:`member_attachment`)."""
    edges: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def cluster_of(self) -> dict[str, str]:
        """Account id -> cluster id, for the accounts that are in a cluster."""
        return {a: cid for cid, members in self.clusters.items() for a in members}


def config_hash(cfg: CoordinationConfig) -> str:
    """Short hash of the configuration that produced a result (recorded with it)."""
    data = asdict(cfg)
    data["webmail"] = sorted(cfg.webmail)
    return xxhash.xxh64_hexdigest(orjson.dumps(data, option=orjson.OPT_SORT_KEYS))


def member_attachment(
    graph: AccountGraph, clusters: dict[str, list[str]], cfg: CoordinationConfig
) -> dict[str, dict[str, float]]:
    """How firmly each member is tied to the rest of its cluster, in [0, 1].

    The member's summed edge weight to other members, over twice the edge threshold: two
    full ties (or one very strong one, a shared card) make a member fully attached, one
    borderline tie half.  Scoring lets a condemned cluster's evidence reach a member only in
    this proportion, so an account that Leiden placed in a cluster on a single weak tie is
    put up for review rather than condemned with it.
    """
    index = {account: i for i, account in enumerate(graph.accounts)}
    group = np.full(len(graph.accounts), -1, dtype=np.int64)
    for number, members in enumerate(clusters.values()):
        group[[index[m] for m in members]] = number
    a = graph.edges["a"].to_numpy(np.int64)
    b = graph.edges["b"].to_numpy(np.int64)
    inside = (group[a] == group[b]) & (group[a] >= 0)
    weight = graph.edges["weight"].to_numpy(np.float64)[inside]
    internal = np.zeros(len(graph.accounts))
    np.add.at(internal, a[inside], weight)
    np.add.at(internal, b[inside], weight)
    scale = 2.0 * cfg.min_edge
    degree = {
        cid: {m: round(min(1.0, float(internal[index[m]]) / scale), 6) for m in members}
        for cid, members in clusters.items()
    }
    return degree


def run(context: ScanContext) -> ClusterFindings:
    """Build the graph, find communities, profile and judge each one (uncached)."""
    cfg = CoordinationConfig.from_settings(context.settings(HYDRA.id))
    clock = time.perf_counter()
    graph = build_graph(context.con, cfg)
    t_graph = time.perf_counter()
    clusters = find_communities(graph, cfg)
    t_cluster = time.perf_counter()
    profiles = profile_clusters(context.con, graph, clusters, cfg)
    label_sentences(context.con, clusters, profiles)
    evidence = {cid: cluster_evidence(p) for cid, p in profiles.items()}
    t_score = time.perf_counter()
    return ClusterFindings(
        clusters=clusters,
        evidence=evidence,
        indicators={cid: p.indicators for cid, p in profiles.items()},
        profiles=profiles,
        exchanges={cid: p.exchanges for cid, p in profiles.items()},
        capabilities={cid: p.capabilities for cid, p in profiles.items()},
        first_seen={cid: p.first_seen for cid, p in profiles.items()},
        last_seen={cid: p.last_seen for cid, p in profiles.items()},
        config_hash=config_hash(cfg),
        attachment=member_attachment(graph, clusters, cfg),
        edges=len(graph.edges),
        seconds={
            "graph": round(t_graph - clock, 3),
            "communities": round(t_cluster - t_graph, 3),
            "profiles": round(t_score - t_cluster, 3),
        },
    )


def _frame(context: ScanContext) -> pd.DataFrame:
    findings = run(context)
    rows = [(a, cid) for cid, members in findings.clusters.items() for a in members]
    frame = pd.DataFrame(rows, columns=["account_id", "cluster_id"])
    frame.attrs["findings"] = findings
    return frame


def find_clusters(context: ScanContext) -> ClusterFindings:
    """The scan's clusters, built once per context and shared by every DG-4xx detector."""
    findings = context.frame(FRAME, _frame).attrs["findings"]
    assert isinstance(findings, ClusterFindings)
    return findings


@dataclass(frozen=True)
class ClusterDetector:
    """One DG-4xx detector: its slice of the shared coordination findings."""

    INFO: DetectorInfo

    def detect(self, context: ScanContext) -> list[Evidence]:
        """This detector's cluster-level evidence, clusters in id order."""
        findings = find_clusters(context)
        return [
            e
            for cid in sorted(findings.evidence)
            for e in findings.evidence[cid]
            if e.detector == self.INFO.id
        ]


DETECTORS: tuple[ClusterDetector, ...] = tuple(ClusterDetector(info) for info in INFOS)
