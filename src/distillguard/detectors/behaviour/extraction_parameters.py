"""DG-203 extraction parameters: asking for the longest, most thorough answer, one-shot.

A harvester wants full answers with their reasoning, several samples per prompt, on
prompts sent one at a time: ``max_tokens`` near the model's maximum, ``reasoning_effort``
high, ``n`` > 1.  Agentic developers also ask for big budgets and high effort, but inside
long conversations; benchmark sweeps ask for several samples but short answers.  So the
big budget is the gate, effort and multi-sampling add to it, and it counts only for
one-shot traffic:

    intensity = big_max_tokens_share × (base_weight + effort_weight × high_effort_share
                                        + samples_weight × multi_sample_share)
    strength  = intensity × ramp(one_shot_share, min_one_shot_share, full_one_shot_share)
                          × log_ramp(exchanges, min_exchanges, full_exchanges)

with ``base_weight + effort_weight + samples_weight = 1``.

Version 1.1 moves the one-shot ramp from 0.5–0.9 to 0.4–0.8.  Conversation-shaped traffic
stays out: an agent's trajectory or a chat is mostly follow-up requests, so its one-shot
share is low (a ten-step trajectory, 10%).  A fleet that harvests single agent steps sends
mostly one-shot requests but keeps some trajectories going (the coding fleet of
`low-and-slow` with the shared datasets, 67–76% one-shot on the largest budget): under 1.0
its members' strength sat around 0.3, each on one side of the behaviour floor or the other
by the noise of its own sample, so the fleet was condemned only through a quorum of its
noisier members.  On the development seeds the benign accounts that set the large budget
on most requests (reasoning power users, exam preparation users, tutoring products) are
all above 0.8 one-shot, and rescanning the 61 development worlds changed no benign verdict
(docs/benchmarks.md, fifteenth round).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillguard.detectors.base import ATLAS, DetectorInfo, Evidence
from distillguard.detectors.behaviour.common import (
    check_range,
    check_unit,
    count,
    load_settings,
    log_ramp,
    percent,
    ramp,
    rounded,
)
from distillguard.detectors.behaviour.frame import BIG_MAX_TOKENS, account_frame
from distillguard.detectors.context import ScanContext

INFO = DetectorInfo(
    id="DG-203",
    version="1.1",
    name="extraction parameters",
    description=(
        f"One-shot requests with max_tokens ≥ {BIG_MAX_TOKENS:,}, high reasoning effort and n > 1."
    ),
    family="behaviour",
    atlas=(ATLAS["extract_model"],),
)


@dataclass(frozen=True)
class Settings:
    """Weights of the budget gate and its two amplifiers, and the one-shot and volume ramps."""

    base_weight: float = 0.6
    effort_weight: float = 0.25
    samples_weight: float = 0.15
    min_one_shot_share: float = 0.4
    full_one_shot_share: float = 0.8
    min_exchanges: float = 10.0
    full_exchanges: float = 50.0
    emit_above: float = 0.05

    def __post_init__(self) -> None:
        for name in ("base_weight", "effort_weight", "samples_weight", "emit_above"):
            check_unit(INFO.id, name, getattr(self, name))
        total = self.base_weight + self.effort_weight + self.samples_weight
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"{INFO.id}: the three weights must add up to 1, got {total}")
        check_range(INFO.id, "one_shot_share", self.min_one_shot_share, self.full_one_shot_share)
        check_range(INFO.id, "exchanges", self.min_exchanges, self.full_exchanges)
        if self.min_exchanges <= 0:
            raise ValueError(f"{INFO.id}: min_exchanges must be positive")


def detect(context: ScanContext) -> list[Evidence]:
    """Evidence for each account that asks for maximal answers on one-shot prompts."""
    settings = load_settings(Settings, INFO.id, context.settings(INFO.id))
    frame = account_frame(context)
    big = np.nan_to_num(frame["big_max_tokens_share"].to_numpy(dtype=float))
    effort = np.nan_to_num(frame["high_effort_share"].to_numpy(dtype=float))
    samples = np.nan_to_num(frame["multi_sample_share"].to_numpy(dtype=float))
    intensity = big * (
        settings.base_weight + settings.effort_weight * effort + settings.samples_weight * samples
    )
    strength = (
        intensity
        * ramp(frame["one_shot_share"], settings.min_one_shot_share, settings.full_one_shot_share)
        * log_ramp(frame["exchanges"], settings.min_exchanges, settings.full_exchanges)
    )
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
                    f"{percent(row.big_max_tokens_share)} of {count(row.exchanges)} requests set "
                    f"max_tokens ≥ {BIG_MAX_TOKENS:,} (mean {count(row.max_tokens_mean)}), "
                    f"{percent(row.high_effort_share)} reasoning_effort high, "
                    f"{percent(row.multi_sample_share)} n > 1; "
                    f"{percent(row.one_shot_share)} one-shot"
                ),
                details={
                    "exchanges": int(row.exchanges),
                    "big_max_tokens_share": rounded(row.big_max_tokens_share),
                    "max_tokens_mean": rounded(row.max_tokens_mean),
                    "high_effort_share": rounded(row.high_effort_share),
                    "multi_sample_share": rounded(row.multi_sample_share),
                    "one_shot_share": rounded(row.one_shot_share),
                    "param_fingerprint": str(row.param_fingerprint),
                    "param_fingerprint_share": rounded(row.param_fingerprint_share),
                },
            )
        )
    return evidence
