"""DG-202 scripted timing: a metronome inside bursts, and no night.

Scripts send requests at near-constant gaps and run around the clock; people do neither.
But enterprise apps, benchmark sweeps and solo developers' batch jobs are scripted too, so
this evidence is capped low (``max_strength``) and only matters next to other kinds.
The metronome is required; flat 24/7 hours only amplify it, because every busy app with
users in many time zones is flat around the clock too:

    regularity = ramp(regular_gap_share, min_regular_share, full_regular_share)
    flatness   = ramp(quiet_share, min_quiet_share, full_quiet_share)
    strength   = max_strength × regularity × (base_weight + (1 − base_weight) × flatness)
                 × ramp(burst_gaps, min_burst_gaps, full_burst_gaps)

``regular_gap_share`` is the share of in-burst gaps within ±10% of the account's median
gap; ``quiet_share`` the share of traffic in its quietest six consecutive hours (0 for a
person, 0.25 for a flat 24/7 script).
"""

from __future__ import annotations

from dataclasses import dataclass

from distillguard.detectors.base import DetectorInfo, Evidence
from distillguard.detectors.behaviour.common import (
    check_range,
    check_unit,
    count,
    load_settings,
    percent,
    ramp,
    rounded,
)
from distillguard.detectors.behaviour.frame import account_frame
from distillguard.detectors.context import ScanContext

INFO = DetectorInfo(
    id="DG-202",
    version="1.0",
    name="scripted timing",
    description="Near-constant gaps between requests and traffic spread over all 24 hours.",
    family="behaviour",
)


@dataclass(frozen=True)
class Settings:
    """Defaults: people's in-burst gaps are rarely within ±10% of their median (about 10–30%
    are); scripts' are (over 90%)."""

    min_regular_share: float = 0.35
    full_regular_share: float = 0.85
    min_quiet_share: float = 0.04
    full_quiet_share: float = 0.18
    base_weight: float = 0.6
    """Share of ``max_strength`` a regular account gets even when it sleeps at night."""
    min_burst_gaps: float = 20.0
    full_burst_gaps: float = 100.0
    max_strength: float = 0.4
    emit_above: float = 0.05

    def __post_init__(self) -> None:
        check_range(INFO.id, "regular_share", self.min_regular_share, self.full_regular_share)
        check_range(INFO.id, "quiet_share", self.min_quiet_share, self.full_quiet_share)
        check_range(INFO.id, "burst_gaps", self.min_burst_gaps, self.full_burst_gaps)
        for name in ("base_weight", "max_strength", "emit_above"):
            check_unit(INFO.id, name, getattr(self, name))


def detect(context: ScanContext) -> list[Evidence]:
    """Evidence for each account whose timing looks machine-driven."""
    settings = load_settings(Settings, INFO.id, context.settings(INFO.id))
    frame = account_frame(context)
    regularity = ramp(
        frame["regular_gap_share"], settings.min_regular_share, settings.full_regular_share
    )
    flatness = ramp(frame["quiet_share"], settings.min_quiet_share, settings.full_quiet_share)
    support = ramp(frame["burst_gaps"], settings.min_burst_gaps, settings.full_burst_gaps)
    base = settings.base_weight
    strength = settings.max_strength * regularity * (base + (1.0 - base) * flatness) * support
    evidence: list[Evidence] = []
    for row, value in zip(frame.itertuples(index=False), strength.tolist(), strict=True):
        if value <= settings.emit_above:
            continue
        evidence.append(
            Evidence(
                detector=INFO.id,
                family=INFO.family,
                subject=str(row.account_id),
                strength=rounded(value),
                summary=(
                    f"{percent(row.regular_gap_share)} of {count(row.burst_gaps)} gaps inside "
                    f"bursts within ±10% of the median gap of {row.burst_gap_median:.1f} s; "
                    f"{percent(row.quiet_share)} of traffic in its quietest 6 hours"
                ),
                details={
                    "regular_gap_share": rounded(row.regular_gap_share),
                    "burst_gaps": int(row.burst_gaps),
                    "burst_gap_median_s": rounded(row.burst_gap_median),
                    "burst_gap_cv": rounded(row.burst_gap_cv),
                    "quiet_share": rounded(row.quiet_share),
                    "hour_entropy": rounded(row.hour_entropy),
                },
            )
        )
    return evidence
