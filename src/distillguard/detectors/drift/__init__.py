"""Campaign drift detectors (family ``drift``, ids DG-5xx).

``DETECTORS`` lists the detector modules for the scan's registry; :func:`detect_releases`
finds model releases in the data and :func:`cluster_pivot` measures a release pivot for
clusters found by the coordination stage.
"""

from __future__ import annotations

from types import ModuleType

from distillguard.detectors.drift import inheritance, release_pivot
from distillguard.detectors.drift.release_pivot import cluster_pivot, pivot_table
from distillguard.detectors.drift.releases import Release, ReleaseRules, detect_releases

DETECTORS: list[ModuleType] = [release_pivot, inheritance]
"""The drift detector modules, in id order."""

__all__ = [
    "DETECTORS",
    "Release",
    "ReleaseRules",
    "cluster_pivot",
    "detect_releases",
    "pivot_table",
]
