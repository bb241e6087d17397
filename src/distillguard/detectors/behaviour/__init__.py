"""Per-account behaviour detectors (family ``behaviour``, ids DG-2xx).

Each module is a detector: an ``INFO`` identity card and ``detect(context)``.  They all read
the per-account frame of :mod:`.frame`, built once per scan.  ``DETECTORS`` lists them in id
order for the scan's registry.
"""

from __future__ import annotations

from types import ModuleType

from distillguard.detectors.behaviour import (
    extraction_parameters,
    harvest_volume,
    new_account_volume,
    scripted_timing,
    signal_concentration,
)
from distillguard.detectors.behaviour.frame import account_frame

DETECTORS: list[ModuleType] = [
    harvest_volume,
    scripted_timing,
    extraction_parameters,
    new_account_volume,
    signal_concentration,
]
"""The behaviour detector modules, in id order (DG-201 … DG-205)."""

__all__ = ["DETECTORS", "account_frame"]
