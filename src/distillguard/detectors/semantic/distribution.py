"""DG-303 window-level distribution test: prompt embeddings unlike benign reference traffic.

Extraction traffic is told apart from ordinary use by the *distribution* of its queries over a
window, not by any single query: each account (with enough sampled prompts) and each fleet is
tested as one sample against a benign reference sample with the maximum mean discrepancy
(:mod:`.mmd`, RBF kernel, median-distance bandwidth).

The reference (see :mod:`.frame`): half a trimmed sample of the scan's own prompts (at most a
few prompts per account, so the bulk of it is ordinary customers even when a campaign runs
many accounts) and half the bundled benign chat and instruction prompts.

Thresholds, with the false-positive target ``alpha`` (default 0.3% of benign windows):

* the calibrated null: ``MMD²`` of ``n`` reference prompts against the rest of the reference,
  its ``1 − alpha`` quantile per sample size (:class:`.mmd.NullTable`);
* because a real customer is not a random draw of the population (a student asks maths, a
  support app asks about its product), the scan's own accounts calibrate too: a statistic
  must also exceed ``median + population_z × 1.4826 × MAD`` of the accounts' statistics of
  the same size bucket (a robust upper tail: the bulk of accounts are benign, and a minority
  of campaign accounts cannot drag the median or the MAD up);
* fleets get a permutation test (``permutations`` shuffles) and must reach p ≤ ``alpha``.

Strength grows with the ratio of the statistic to its threshold and, because a distribution
that differs towards cooking recipes is no harvest, with the harvestable share of the
sample (DG-301's tags), and with its spread (mean pairwise cosine distance, 0.5 → 0.6): a
sample that differs because it sits in one narrow corner — one application's template, run
in bulk — is a product's traffic, not a sweep over a task pool (on dev seed 2 of
`reported-2026` an indie-automation fleet otherwise tipped one member into `review`).
Fleets are scaled by their identity diversity (one declared company
testing its own use is not a hydra).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from distillguard.detectors.base import ATLAS, DetectorInfo, Evidence
from distillguard.detectors.behaviour.common import (
    check_range,
    check_unit,
    count,
    load_settings,
    percent,
    ramp,
    rounded,
)
from distillguard.detectors.context import ScanContext
from distillguard.detectors.semantic.frame import semantic_frame
from distillguard.detectors.semantic.mmd import (
    NullTable,
    Reference,
    median_bandwidth,
)
from distillguard.detectors.semantic.subjects import (
    Subject,
    accounts,
    describe_mix,
    fleets,
    make_evidence,
    ramp_product,
    subject_cap,
    tag_mix,
    who,
)
from distillguard.detectors.semantic.sweep import sample_stats

INFO = DetectorInfo(
    id="DG-303",
    version="1.1",
    name="prompt distribution test",
    description=(
        "The embeddings of an account's or fleet's prompts differ from benign reference "
        "traffic (MMD test), towards harvestable capabilities."
    ),
    family="semantic",
    atlas=(ATLAS["extract_model"],),
)

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Settings:
    """Defaults: 0.3% false-positive target; tuned on development seeds only."""

    alpha: float = 0.003
    min_prompts: int = 16
    population_z: float = 3.0
    min_ratio: float = 2.0
    full_ratio: float = 5.0
    min_harvest: float = 0.5
    full_harvest: float = 0.9
    min_spread: float = 0.5
    full_spread: float = 0.6
    account_cap: float = 0.3
    fleet_cap_strength: float = 0.35
    min_diversity: float = 0.2
    full_diversity: float = 0.6
    fleet_cap: int = 256
    permutations: int = 400
    null_draws: int = 300
    emit_above: float = 0.05

    def __post_init__(self) -> None:
        check_range(INFO.id, "ratio", self.min_ratio, self.full_ratio)
        check_range(INFO.id, "harvest", self.min_harvest, self.full_harvest)
        check_range(INFO.id, "spread", self.min_spread, self.full_spread)
        check_range(INFO.id, "diversity", self.min_diversity, self.full_diversity)
        if self.population_z <= 0:
            raise ValueError(f"{INFO.id}: population_z must be positive")
        for name in ("alpha", "account_cap", "fleet_cap_strength"):
            check_unit(INFO.id, name, getattr(self, name))
        check_unit(INFO.id, "emit_above", self.emit_above)
        if not 0.0 < self.alpha < 0.5:
            raise ValueError(f"{INFO.id}: alpha must be in (0, 0.5)")
        if self.min_prompts < 4 or self.fleet_cap < 16 or self.permutations < 20:
            raise ValueError(f"{INFO.id}: min_prompts >= 4, fleet_cap >= 16, permutations >= 20")


@dataclass(frozen=True)
class Tested:
    """One subject's test result."""

    subject: Subject
    statistic: float
    threshold: float
    pvalue: float | None
    harvest: float
    spread: float


def _tests(context: ScanContext, settings: Settings) -> list[Tested]:
    frame = semantic_frame(context)
    vectors: FloatArray = frame.attrs["embeddings"]
    reference: FloatArray = frame.attrs["reference"]
    harvestable = frame["harvestable"].to_numpy()
    if len(reference) < 20:
        return []
    fixed = Reference(reference, median_bandwidth(reference))
    null = NullTable.of(fixed, alpha=settings.alpha, draws=settings.null_draws)
    subjects = [s for s in accounts(context) if len(s.rows) >= settings.min_prompts]

    def _shape(subject: Subject) -> tuple[float, float]:
        _, spread = sample_stats(vectors[subject.rows], 1.0)
        return float(harvestable[subject.rows].mean()), spread

    affinity = fixed.affinity(vectors)
    statistics = {s.subject: fixed.mmd2_with(vectors[s.rows], affinity[s.rows]) for s in subjects}
    by_bucket: dict[int, list[float]] = defaultdict(list)
    for s in subjects:
        by_bucket[NullTable.bucket(len(s.rows))].append(statistics[s.subject])
    population = {
        size: robust_upper(values, settings.population_z) for size, values in by_bucket.items()
    }
    out = []
    for s in subjects:
        size = NullTable.bucket(len(s.rows))
        threshold = max(null.row(len(s.rows))[2], population[size], 1e-9)
        out.append(Tested(s, statistics[s.subject], threshold, None, *_shape(s)))
    for fleet in fleets(context, settings.fleet_cap):
        if len(fleet.rows) < settings.min_prompts:
            continue
        # A fleet whose p-value must exceed alpha gives no evidence whatever its exact
        # value, so its test stops as soon as that is certain (most fleets are benign).
        statistic, pvalue = fixed.permutation_pvalue(
            vectors[fleet.rows], permutations=settings.permutations, stop_above=settings.alpha
        )
        threshold = max(null.row(len(fleet.rows))[2], 1e-9)
        out.append(Tested(fleet, statistic, threshold, pvalue, *_shape(fleet)))
    return out


def robust_upper(values: list[float], z: float) -> float:
    """``median + z × 1.4826 × MAD``: an upper tail that a minority of outliers (a campaign's
    accounts) cannot drag up; for normal data, z = 3 leaves 0.13% above it."""
    array = np.asarray(values, dtype=float)
    median = float(np.median(array))
    return median + z * 1.4826 * float(np.median(np.abs(array - median)))


def strength_of(test: Tested, settings: Settings) -> float:
    """Ratio to threshold × harvestable share × the subject's cap (see module docstring)."""
    if test.pvalue is not None and test.pvalue > settings.alpha:
        return 0.0
    diversity = (settings.min_diversity, settings.full_diversity)
    cap = subject_cap(test.subject, settings.account_cap, settings.fleet_cap_strength, diversity)
    ratio = test.statistic / test.threshold
    return ramp_product(
        cap,
        lambda: float(ramp(ratio, settings.min_ratio, settings.full_ratio)),
        lambda: float(ramp(test.harvest, settings.min_harvest, settings.full_harvest)),
        lambda: float(ramp(test.spread, settings.min_spread, settings.full_spread)),
    )


def detect(context: ScanContext) -> list[Evidence]:
    """Evidence for accounts and fleets whose prompts are distributed unlike benign traffic."""
    settings = load_settings(Settings, INFO.id, context.settings(INFO.id))
    frame = semantic_frame(context)
    if frame.empty:
        return []
    evidence: list[Evidence] = []
    for test in _tests(context, settings):
        strength = strength_of(test, settings)
        if strength <= settings.emit_above:
            continue
        subject = test.subject
        test_words = (
            f"permutation p = {test.pvalue:.3f}"
            if test.pvalue is not None
            else f"{percent(1 - settings.alpha)} null threshold"
        )
        summary = (
            f"the {count(len(subject.rows))} sampled prompts of this {who(subject)} are "
            f"distributed unlike benign reference traffic (MMD² {test.statistic:.3f}, "
            f"{test.statistic / test.threshold:.1f}× the threshold; {test_words}), "
            f"towards {describe_mix(tag_mix(frame, subject.rows))}"
        )
        details: dict[str, object] = {
            "sampled_prompts": len(subject.rows),
            "mmd2": rounded(test.statistic),
            "threshold": rounded(test.threshold),
            "pvalue": None if test.pvalue is None else rounded(test.pvalue),
            "harvestable_share": rounded(test.harvest),
            "spread": rounded(test.spread),
        }
        evidence.append(make_evidence(INFO, subject, strength, summary, details))
    return evidence
