"""``distillguard scan --intel BUNDLE... --intel-key KEY``: DG-601 settings from the command line.

The flags are a shorthand for the configuration table ``[detectors.DG-601]``; they are
merged into it, so the results' configuration hash records which bundles were hunted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from distillguard.engine.config import ScanConfig
from distillguard.errors import UserError


def with_intel(config: ScanConfig, bundles: Sequence[Path], key_file: Path | None) -> ScanConfig:
    """``config`` with the bundles (and key file) added to DG-601's settings."""
    for bundle in bundles:
        if not bundle.is_file():
            raise UserError(f"--intel {bundle} does not exist: pass a STIX bundle file")
    settings = dict(config.detectors.get("DG-601", {}))
    settings["bundles"] = [*settings.get("bundles", []), *(str(b) for b in bundles)]
    if key_file is not None:
        settings["key_file"] = str(key_file)
    return replace(config, detectors={**config.detectors, "DG-601": settings})
