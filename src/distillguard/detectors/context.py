"""What a detector is handed: the store, the shared features, its configuration.

Features are computed once per scan (the `exchange_features` table, per-account frames) and
handed to every detector through this context; detectors never re-read raw text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from distillguard.detectors.base import DetectorInfo, Evidence

if TYPE_CHECKING:
    import pandas as pd
    from ibis.backends import BaseBackend


@dataclass
class ScanContext:
    """Inputs shared by every detector of one scan.

    ``con`` holds the tables ``exchanges``, ``accounts`` and ``exchange_features`` (see
    schema/tables.py).  ``frames`` caches per-account pandas frames that several detectors
    read (filled by whoever computes them first, through :meth:`frame`).
    """

    con: BaseBackend
    config: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per-detector settings keyed by detector id (``DG-xxx``), already validated."""
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)

    def settings(self, detector_id: str) -> dict[str, Any]:
        """The configuration of one detector (empty when it uses its defaults)."""
        return self.config.get(detector_id, {})

    def frame(self, name: str, build: Callable[[ScanContext], pd.DataFrame]) -> pd.DataFrame:
        """A shared per-scan frame, built once by ``build`` and cached under ``name``."""
        if name not in self.frames:
            self.frames[name] = build(self)
        return self.frames[name]


class Detector(Protocol):
    """A detector module or object: an identity card and a function from context to evidence."""

    INFO: DetectorInfo

    def detect(self, context: ScanContext) -> list[Evidence]:
        """Observe the scan's data and return evidence (empty when nothing stands out)."""
        ...
