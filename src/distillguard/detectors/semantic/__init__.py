"""Semantic-coverage detectors (family ``semantic``, ids DG-3xx), on prompt embeddings.

DG-301 capability tags by meaning, DG-302 task-pool sweeps, DG-303 the window-level
distribution test (MMD against benign reference traffic).  All three read the semantic frame
of :mod:`.frame`: a bounded, deterministic sample of each account's distinct prompts, embedded
once per scan with the shipped static model (no torch, nothing downloaded).  Accounts and
fleets (coordinated clusters) are both judged, since a campaign spread over many accounts
leaves each one too small to test.
"""

from __future__ import annotations

from types import ModuleType

from distillguard.detectors.semantic import capability_tags, distribution, sweep
from distillguard.detectors.semantic.frame import semantic_frame

DETECTORS: list[ModuleType] = [capability_tags, sweep, distribution]
"""The semantic detector modules, in id order (DG-301 … DG-303)."""

__all__ = ["DETECTORS", "semantic_frame"]
