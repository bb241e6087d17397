"""DG-201 harvest-shaped volume: many one-shot requests with long answers.

Volume alone is not suspicious (enterprise apps and benchmark sweeps send thousands of
requests); what a harvest looks like is volume *and* one-shot prompts (single-turn, outside
any conversation) *and* long generated answers (output plus reasoning tokens), because the
answers are what is being collected.  The three are multiplied, so an account needs all of
them:

    strength = log_ramp(exchanges, min_exchanges, full_exchanges)
             × ramp(one_shot_share, min_one_shot_share, full_one_shot_share)
             × ramp(mean_generated_tokens, min_generated_tokens, full_generated_tokens)
"""

from __future__ import annotations

from dataclasses import dataclass

from distillguard.detectors.base import ATLAS, DetectorInfo, Evidence
from distillguard.detectors.behaviour.common import (
    check_range,
    check_unit,
    count,
    days,
    load_settings,
    log_ramp,
    percent,
    ramp,
    rounded,
)
from distillguard.detectors.behaviour.frame import account_frame
from distillguard.detectors.context import ScanContext

INFO = DetectorInfo(
    id="DG-201",
    version="1.0",
    name="harvest-shaped volume",
    description="High volume of one-shot requests with long generated answers.",
    family="behaviour",
    atlas=(ATLAS["extract_model"],),
)


@dataclass(frozen=True)
class Settings:
    """Defaults chosen on simulated traffic: benign one-shot senders (apps, sweeps,
    labelling) get answers of 200–400 tokens; reasoning harvests get thousands."""

    min_exchanges: float = 30.0
    full_exchanges: float = 300.0
    min_one_shot_share: float = 0.5
    full_one_shot_share: float = 0.9
    min_generated_tokens: float = 600.0
    full_generated_tokens: float = 2500.0
    emit_above: float = 0.05
    """Evidence weaker than this is not emitted."""

    def __post_init__(self) -> None:
        check_range(INFO.id, "exchanges", self.min_exchanges, self.full_exchanges)
        check_range(INFO.id, "one_shot_share", self.min_one_shot_share, self.full_one_shot_share)
        check_range(
            INFO.id, "generated_tokens", self.min_generated_tokens, self.full_generated_tokens
        )
        if self.min_exchanges <= 0:
            raise ValueError(f"{INFO.id}: min_exchanges must be positive")
        check_unit(INFO.id, "emit_above", self.emit_above)


def detect(context: ScanContext) -> list[Evidence]:
    """Evidence for each account whose traffic has the shape of an answer harvest."""
    settings = load_settings(Settings, INFO.id, context.settings(INFO.id))
    frame = account_frame(context)
    strength = (
        log_ramp(frame["exchanges"], settings.min_exchanges, settings.full_exchanges)
        * ramp(frame["one_shot_share"], settings.min_one_shot_share, settings.full_one_shot_share)
        * ramp(
            frame["mean_generated_tokens"],
            settings.min_generated_tokens,
            settings.full_generated_tokens,
        )
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
                    f"{count(row.exchanges)} requests in {days(max(row.span_days, 0.0))}, "
                    f"{percent(row.one_shot_share)} one-shot (single-turn, no conversation), "
                    f"median {count(row.median_output_tokens)} output tokens, "
                    f"mean {count(row.mean_generated_tokens)} generated tokens with reasoning"
                ),
                details={
                    "exchanges": int(row.exchanges),
                    "span_days": rounded(row.span_days),
                    "one_shot_share": rounded(row.one_shot_share),
                    "median_output_tokens": rounded(row.median_output_tokens),
                    "mean_generated_tokens": rounded(row.mean_generated_tokens),
                },
            )
        )
    return evidence
