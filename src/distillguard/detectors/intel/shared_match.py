"""DG-601 "shared intelligence match": evidence of family ``intel`` per matched account.

A peer's indicator is evidence collected by someone else, on their customers, with their
detectors: it counts as its own family, independent of our prompt, behaviour and
coordination evidence.  Alone it is one family, so it can put an account up for ``review``
but never reach ``distillation``; with any evidence of our own above the family floor it can
(scoring/combine.py's two-family rule, unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distillguard.detectors.base import ATLAS, DetectorInfo, Evidence
from distillguard.errors import UserError

if TYPE_CHECKING:
    from distillguard.detectors.context import ScanContext

INFO = DetectorInfo(
    id="DG-601",
    version="1",
    name="shared intelligence match",
    description=(
        "The account shows a payment instrument, network range, sign-up domain or prompt "
        "template that a peer shared as an indicator of a distillation campaign."
    ),
    family="intel",
    atlas=(ATLAS["extract_model"], ATLAS["establish_accounts"]),
)
SETTINGS = ("bundles", "key_file", "validate")


@dataclass(frozen=True)
class IntelSettings:
    """Validated ``[detectors.DG-601]`` settings."""

    bundles: tuple[Path, ...] = ()
    key_file: Path | None = None
    validate: bool = True

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> IntelSettings:
        """Check the settings table; names the bad key and the allowed ones."""
        unknown = set(settings) - set(SETTINGS)
        if unknown:
            raise UserError(
                f"[detectors.DG-601] has unknown key(s) {sorted(unknown)}; allowed: "
                f"{', '.join(SETTINGS)}"
            )
        bundles = settings.get("bundles", [])
        if isinstance(bundles, str):
            bundles = [bundles]
        if not isinstance(bundles, list) or not all(isinstance(b, str) for b in bundles):
            raise UserError("[detectors.DG-601] bundles must be a list of bundle file paths")
        key_file = settings.get("key_file")
        if key_file is not None and not isinstance(key_file, str):
            raise UserError("[detectors.DG-601] key_file must be a path")
        validate = settings.get("validate", True)
        if not isinstance(validate, bool):
            raise UserError("[detectors.DG-601] validate must be true or false")
        return cls(tuple(Path(b) for b in bundles), Path(key_file) if key_file else None, validate)


@dataclass(frozen=True)
class SharedIntelDetector:
    """DG-601: hunt the configured peers' bundles over the scan's store."""

    INFO: DetectorInfo

    def detect(self, context: ScanContext) -> list[Evidence]:
        """One evidence item per account that matches a peer indicator."""
        settings = IntelSettings.from_settings(context.settings(self.INFO.id))
        if not settings.bundles:
            return []
        from distillguard.intel.hunt import evidence, hunt, needs_templates
        from distillguard.intel.keys import load_key
        from distillguard.intel.observe import observe
        from distillguard.intel.peers import read_peer_bundles

        key = load_key(settings.key_file)
        indicators = read_peer_bundles(list(settings.bundles), key, validate=settings.validate)
        if not indicators:
            return []
        obs = observe(context.con, fingerprint_wrappers=needs_templates(indicators))
        return evidence(hunt(indicators, obs, key))


DETECTORS: tuple[SharedIntelDetector, ...] = (SharedIntelDetector(INFO),)
