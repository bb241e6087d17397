"""The scan's configuration file (TOML): which detectors run, their settings, scoring.

Example (every key optional; unset keys keep the documented defaults)::

    [scoring]
    distillation_threshold = 0.65
    review_threshold = 0.5
    min_families = 2
    # review by score needs this many families too, unless one is a peer's intelligence
    review_min_families = 2
    # own harvest evidence in min_families families puts an account up for review
    review_harvest_families = true
    review_harvest_floor = 0.1
    # ... for accounts that sent fewer requests than this (the detectors' small samples)
    review_harvest_max_requests = 100
    # evidence this much explained by a customer's own application counts for no review
    review_explained_below = 0.5
    # a crowd tied by a house rule is condemned when this share of its members (and at
    # least crowd_quorum_min) is condemned on their own evidence
    crowd_quorum = true
    crowd_quorum_share = 0.333
    crowd_quorum_min = 3
    # a condemned crowd's member whose own requests show no harvesting is judged alone
    crowd_bystanders = true
    # evidence of harvesting a `distillation` verdict needs (an empty list: none)
    harvest_detectors = ["DG-203", "DG-205", "DG-301", "DG-302", "DG-303", "DG-406", "DG-601"]

    [scoring.family_weights]
    behaviour = 0.5

    [detectors.DG-202]
    enabled = false

    [detectors.DG-201]
    min_exchanges = 300

    # trusted partners: verdicts capped at `review`, evidence kept (scoring/allow_list.py)
    [[allow]]
    organizations = ["org-benchlab"]          # and/or accounts = [...], email_domains = [...]
    reason = "benchmark partner, contract BL-2026-04"
    expires = 2027-06-30                       # optional: last day it applies

Results record the hash of the effective configuration, so two result sets can be told
apart by what produced them.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import orjson

from distillguard.errors import UserError
from distillguard.scoring.allow_list import AllowEntry, parse_allow
from distillguard.scoring.combine import ScoringConfig

TOP_LEVEL = ("scoring", "detectors", "allow")


@dataclass(frozen=True)
class ScanConfig:
    """Validated scan configuration."""

    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    detectors: dict[str, dict[str, Any]] = field(default_factory=dict)
    allow: tuple[AllowEntry, ...] = ()

    def enabled(self, detector_id: str) -> bool:
        """Detectors run unless the file says ``enabled = false``."""
        return bool(self.detectors.get(detector_id, {}).get("enabled", True))

    def settings(self) -> dict[str, dict[str, Any]]:
        """Per-detector settings without the ``enabled`` switch."""
        return {
            k: {n: v for n, v in s.items() if n != "enabled"} for k, s in self.detectors.items()
        }

    def as_dict(self) -> dict[str, Any]:
        """Plain data for summary.json."""
        scoring = asdict(self.scoring)
        scoring["family_weights"] = dict(self.scoring.family_weights)
        plain: dict[str, Any] = {"scoring": scoring, "detectors": self.detectors}
        if self.allow:  # absent when empty, so the hash of a file without it is unchanged
            plain["allow"] = [entry.as_dict() for entry in self.allow]
        return plain

    def digest(self) -> str:
        """sha256 of the canonical JSON of the effective configuration."""
        canonical = orjson.dumps(self.as_dict(), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(canonical).hexdigest()


def load_config(path: Path | None, known_detectors: set[str] | None = None) -> ScanConfig:
    """Read and validate a TOML configuration; ``None`` gives the defaults."""
    if path is None:
        return ScanConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as missing:
        raise UserError(f"configuration file {path} does not exist") from missing
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{path}: not valid TOML: {error}") from error
    unknown = set(data) - set(TOP_LEVEL)
    if unknown:
        raise UserError(f"{path}: unknown section(s) {sorted(unknown)}; allowed: {list(TOP_LEVEL)}")
    scoring_data = dict(data.get("scoring", {}))
    allowed = {f.name for f in fields(ScoringConfig)}
    bad = set(scoring_data) - allowed
    if bad:
        raise UserError(
            f"{path}: [scoring] has unknown key(s) {sorted(bad)}; allowed: {sorted(allowed)}"
        )
    try:
        scoring = ScoringConfig(**scoring_data)
    except (TypeError, ValueError) as error:
        raise UserError(f"{path}: {error}") from error
    detectors = data.get("detectors", {})
    if not isinstance(detectors, dict):
        raise UserError(f"{path}: [detectors] must be a table of detector ids")
    for detector_id, settings in detectors.items():
        if known_detectors is not None and detector_id not in known_detectors:
            raise UserError(
                f"{path}: [detectors.{detector_id}] names no known detector; "
                f"known: {', '.join(sorted(known_detectors))}"
            )
        if not isinstance(settings, dict):
            raise UserError(f"{path}: [detectors.{detector_id}] must be a table")
        if "enabled" in settings and not isinstance(settings["enabled"], bool):
            raise UserError(f"{path}: detectors.{detector_id}.enabled must be true or false")
    return ScanConfig(
        scoring=scoring,
        detectors={k: dict(v) for k, v in detectors.items()},
        allow=parse_allow(data.get("allow", []), path),
    )
