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
import pandas as pd

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
from distillguard.detectors.semantic.frame import bare, semantic_frame
from distillguard.detectors.semantic.mmd import (
    NullTable,
    Reference,
    median_bandwidth,
)
from distillguard.detectors.semantic.subjects import (
    AccountTable,
    Subject,
    account_table,
    describe_mix,
    fleets,
    make_evidence,
    ramp_product,
    subject_cap,
    tag_mix,
    who,
)

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


@dataclass(frozen=True)
class AccountTests:
    """The tests of every account with enough prompts, as arrays (entry ``i`` is account
    number ``accounts[i]`` of ``table``, in id order): a :class:`Tested` is made only for the
    accounts a scan reports."""

    table: AccountTable
    accounts: npt.NDArray[np.intp]
    statistic: npt.NDArray[np.float64]
    threshold: npt.NDArray[np.float64]
    harvest: npt.NDArray[np.float64]
    spread: npt.NDArray[np.float64]

    def tested(self, entry: int) -> Tested:
        """Entry ``entry`` as a :class:`Tested`."""
        return Tested(
            self.table.subject(int(self.accounts[entry])),
            float(self.statistic[entry]),
            float(self.threshold[entry]),
            None,
            float(self.harvest[entry]),
            float(self.spread[entry]),
        )


ACCOUNTS_PER_BATCH = 2_048
"""Accounts of one sample size whose kernels are computed in one array (48 prompts each:
38 MB of float64 kernels), so memory stays flat however many accounts a log holds."""


def spreads(samples: FloatArray) -> npt.NDArray[np.float64]:
    """Mean pairwise cosine distance of each sample of a stack of equal-size samples: the
    spread of :func:`~distillguard.detectors.semantic.sweep.sample_stats`, bit for bit (the
    same float32 products and sums, one sample per contiguous row)."""
    count, n, _ = samples.shape
    if n < 2:
        return np.zeros(count)
    similarity = np.matmul(samples, samples.transpose(0, 2, 1))
    diagonal = np.arange(n)
    similarity[:, diagonal, diagonal] = 0.0
    mean = similarity.reshape(count, n * n).sum(axis=1) / (n * (n - 1))
    result: npt.NDArray[np.float64] = 1.0 - mean.astype(np.float64)
    return result


def _account_tests(
    table: AccountTable,
    vectors: FloatArray,
    harvestable: npt.NDArray[np.bool_],
    fixed: Reference,
    null: NullTable,
    settings: Settings,
) -> AccountTests:
    """Every account's statistic, threshold and shape, the accounts of one sample size at a
    time (the same numbers as testing them one by one: see :meth:`Reference.mmd2_many`)."""
    chosen = np.flatnonzero(table.sizes >= settings.min_prompts)
    statistic = np.zeros(len(chosen))
    spread = np.zeros(len(chosen))
    sizes = table.sizes[chosen]
    # A bool mean is the count over the size: exact, whichever way it is summed.
    harvest = table.sums(harvestable.astype(np.float64))[chosen] / sizes
    affinity = fixed.affinity(vectors)
    for size in np.unique(sizes).tolist():
        of_size = np.flatnonzero(sizes == size)
        for start in range(0, len(of_size), ACCOUNTS_PER_BATCH):
            batch = of_size[start : start + ACCOUNTS_PER_BATCH]
            rows = table.rows_of(chosen[batch], size)
            samples = vectors[rows]
            statistic[batch] = fixed.mmd2_many(samples, affinity[rows])
            spread[batch] = spreads(samples)
    # Calibration per size bucket: the null's quantile and the population's robust tail.
    distinct_sizes, size_index = np.unique(sizes, return_inverse=True)
    buckets = np.array([NullTable.bucket(n) for n in distinct_sizes.tolist()], np.int64)
    buckets = buckets[size_index.ravel()] if len(sizes) else np.zeros(0, np.int64)
    threshold = np.zeros(len(chosen))
    for bucket in np.unique(buckets).tolist():
        in_bucket = buckets == bucket
        population = robust_upper(statistic[in_bucket].tolist(), settings.population_z)
        threshold[in_bucket] = max(null.row(bucket)[2], population, 1e-9)
    return AccountTests(table, chosen, statistic, threshold, harvest, spread)


def robust_upper(values: list[float], z: float) -> float:
    """``median + z × 1.4826 × MAD``: an upper tail that a minority of outliers (a campaign's
    accounts) cannot drag up; for normal data, z = 3 leaves 0.13% above it."""
    array = np.asarray(values, dtype=float)
    median = float(np.median(array))
    return median + z * 1.4826 * float(np.median(np.abs(array - median)))


def _fleet_tests(
    context: ScanContext,
    vectors: FloatArray,
    harvestable: npt.NDArray[np.bool_],
    fixed: Reference,
    null: NullTable,
    settings: Settings,
) -> list[Tested]:
    tested = [f for f in fleets(context, settings.fleet_cap) if len(f.rows) >= settings.min_prompts]
    # A fleet whose p-value must exceed alpha gives no evidence whatever its exact value, so
    # its test stops as soon as that is certain (most fleets are benign).
    results = fixed.permutation_pvalues(
        [vectors[f.rows] for f in tested],
        permutations=settings.permutations,
        stop_above=settings.alpha,
    )
    spread = np.zeros(len(tested))
    by_size: dict[int, list[int]] = defaultdict(list)
    for index, fleet in enumerate(tested):
        by_size[len(fleet.rows)].append(index)
    for indices in by_size.values():
        spread[indices] = spreads(vectors[np.stack([tested[i].rows for i in indices])])
    out = []
    for index, (fleet, (statistic, pvalue)) in enumerate(zip(tested, results, strict=True)):
        threshold = max(null.row(len(fleet.rows))[2], 1e-9)
        harvest = float(harvestable[fleet.rows].mean())
        out.append(Tested(fleet, statistic, threshold, pvalue, harvest, float(spread[index])))
    return out


def _run(context: ScanContext, settings: Settings) -> tuple[AccountTests, list[Tested]] | None:
    """The accounts' and the fleets' tests (None when the reference is too small)."""
    frame = semantic_frame(context)
    vectors: FloatArray = frame.attrs["embeddings"]
    reference: FloatArray = frame.attrs["reference"]
    if len(reference) < 20:
        return None
    harvestable = bare(frame)["harvestable"].to_numpy()
    fixed = Reference(reference, median_bandwidth(reference))
    null = NullTable.of(fixed, alpha=settings.alpha, draws=settings.null_draws)
    table = account_table(frame)
    account_tests = _account_tests(table, vectors, harvestable, fixed, null, settings)
    return account_tests, _fleet_tests(context, vectors, harvestable, fixed, null, settings)


def _tests(context: ScanContext, settings: Settings) -> list[Tested]:
    """Every subject's test: the accounts with enough prompts in id order, then the fleets."""
    run = _run(context, settings)
    if run is None:
        return []
    account_tests, fleet_tests = run
    return [account_tests.tested(i) for i in range(len(account_tests.accounts))] + fleet_tests


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


def account_strengths(tests: AccountTests, settings: Settings) -> npt.NDArray[np.float64]:
    """:func:`strength_of` of every account test at once, the same numbers: the ramps are
    elementwise and the product is taken in the same order (a factor after a 0 is in
    [0, 1], so the product stays 0 as :func:`ramp_product`'s early return does)."""
    ratio = tests.statistic / tests.threshold
    result: npt.NDArray[np.float64] = (
        settings.account_cap
        * ramp(ratio, settings.min_ratio, settings.full_ratio)
        * ramp(tests.harvest, settings.min_harvest, settings.full_harvest)
        * ramp(tests.spread, settings.min_spread, settings.full_spread)
    )
    return result


def detect(context: ScanContext) -> list[Evidence]:
    """Evidence for accounts and fleets whose prompts are distributed unlike benign traffic."""
    settings = load_settings(Settings, INFO.id, context.settings(INFO.id))
    frame = semantic_frame(context)
    if frame.empty:
        return []
    run = _run(context, settings)
    if run is None:
        return []
    account_tests, fleet_tests = run
    strengths = account_strengths(account_tests, settings)
    reported = [
        (account_tests.tested(int(entry)), float(strengths[entry]))
        for entry in np.flatnonzero(strengths > settings.emit_above)
    ]
    reported += [(test, strength_of(test, settings)) for test in fleet_tests]
    evidence: list[Evidence] = []
    for test, strength in reported:
        if strength <= settings.emit_above:
            continue
        evidence.append(_evidence(frame, test, strength, settings))
    return evidence


def _evidence(frame: pd.DataFrame, test: Tested, strength: float, settings: Settings) -> Evidence:
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
    return make_evidence(INFO, subject, strength, summary, details)
