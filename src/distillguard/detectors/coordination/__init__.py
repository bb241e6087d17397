"""Cross-account coordination: hydra clusters of accounts run by one operator.

Public API: :func:`find_clusters` (membership, evidence, indicators and traffic summary per
cluster) and ``DETECTORS`` (DG-401 hydra cluster, DG-402 cross-identity infrastructure,
DG-403 cluster wrapper, DG-404 lockstep activity, DG-405 sign-up burst, DG-406 fleet house
rule).  See edges.py for
the graph views and their weights, clusters.py for communities and stable ids.
"""

from distillguard.detectors.coordination import house_rule
from distillguard.detectors.coordination.config import CoordinationConfig
from distillguard.detectors.coordination.findings import DETECTORS as CLUSTER_DETECTORS
from distillguard.detectors.coordination.findings import (
    ClusterDetector,
    ClusterFindings,
    find_clusters,
)

DETECTORS = (*CLUSTER_DETECTORS, house_rule)
"""DG-401…405 (slices of the shared findings) and DG-406 (its own measurement)."""

__all__ = [
    "DETECTORS",
    "ClusterDetector",
    "ClusterFindings",
    "CoordinationConfig",
    "find_clusters",
]
