"""DG-302 task-pool sweep: an account or fleet covers a pool of tasks widely, never repeating.

A harvester walks a task pool: every request is a new task (no exact or near repeats), the
tasks spread over the pool's region of meaning, they are many, and they are harvestable
(reasoning, code, tool use, grading, exams).  An ordinary customer comes back to the same
themes — follow-ups, retries, one project's questions — and asks fewer distinct things.
Spread over a fleet, no single account sweeps much, so fleets are judged on their pooled
sample and their pooled counts (no prompt sent twice across the fleet).

Per subject (account, or fleet from the coordination stage), over its sampled prompts:

    unique   = distinct prompts / exchanges (all traffic; exact repeats after light
               normalisation lower it) and the share of sampled prompts without a near
               duplicate (cosine ≥ near_cosine) in the sample
    spread   = mean pairwise cosine distance of the sample (themes repeat → small)
    strength = cap × log_ramp(distinct prompts, min_distinct, full_distinct)
                   × ramp(unique, min_unique, full_unique) × (1 − ramp(near, ...))
                   × ramp(spread, min_spread, full_spread)
                   × ramp(harvestable share, min_harvest, full_harvest)

Hard negatives and why the strength stays low for them: a benchmark company sweeps an eval
set under its own name (one declared company: a fleet's strength is scaled by its identity
diversity; a single account's sweep gives no evidence by default, ``account_cap = 0``), a
labelling firm and an education cohort send many varied prompts (but a cohort's student sends
few, and both repeat rubrics and themes).
Semantic evidence never condemns alone: scoring needs a second family.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import numpy as np
import numpy.typing as npt
import pandas as pd
from ibis import _

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
from distillguard.detectors.context import ScanContext
from distillguard.detectors.semantic.frame import bare, semantic_frame
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

INFO = DetectorInfo(
    id="DG-302",
    version="1.1",
    name="task-pool sweep",
    description=(
        "An account or fleet sends many distinct harvestable tasks spread over a task pool, "
        "with almost no exact or near repeats."
    ),
    family="semantic",
    atlas=(ATLAS["extract_model"], ATLAS["establish_accounts"]),
)

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Settings:
    """Defaults (dev seeds): a few hundred distinct tasks, ≥95% unique, wide spread."""

    min_prompts: int = 16
    min_distinct: float = 60.0
    full_distinct: float = 600.0
    min_unique: float = 0.85
    full_unique: float = 0.98
    near_cosine: float = 0.95
    near_low: float = 0.2
    near_high: float = 0.5
    min_spread: float = 0.45
    full_spread: float = 0.65
    min_harvest: float = 0.5
    full_harvest: float = 0.9
    account_cap: float = 0.0
    """Off by default: on the development seeds single-account sweeps were benchmark companies
    (up to 0.16 at a 0.25 cap) more than campaign accounts (up to 0.07); fleets are judged."""
    fleet_cap_strength: float = 0.6
    min_diversity: float = 0.2
    full_diversity: float = 0.6
    fleet_cap: int = 512
    emit_above: float = 0.05

    def __post_init__(self) -> None:
        check_range(INFO.id, "distinct", self.min_distinct, self.full_distinct)
        check_range(INFO.id, "unique", self.min_unique, self.full_unique)
        check_range(INFO.id, "near", self.near_low, self.near_high)
        check_range(INFO.id, "spread", self.min_spread, self.full_spread)
        check_range(INFO.id, "harvest", self.min_harvest, self.full_harvest)
        check_range(INFO.id, "diversity", self.min_diversity, self.full_diversity)
        for name in ("account_cap", "fleet_cap_strength", "emit_above", "near_cosine"):
            check_unit(INFO.id, name, getattr(self, name))
        if self.min_prompts < 4 or self.min_distinct <= 0 or self.fleet_cap < 16:
            raise ValueError(f"{INFO.id}: min_prompts >= 4, min_distinct > 0, fleet_cap >= 16")


@dataclass(frozen=True)
class SweepStats:
    """What the strength is made of, for one subject."""

    sampled: int
    distinct: int
    exchanges: int
    unique: float
    near: float
    spread: float
    harvest: float


def sample_stats(vectors: FloatArray, near_cosine: float) -> tuple[float, float]:
    """(share of prompts with a near duplicate in the sample, mean pairwise cosine distance)."""
    n = len(vectors)
    if n < 2:
        return 0.0, 0.0
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -1.0)
    near = float((similarity.max(axis=1) >= near_cosine).mean())
    np.fill_diagonal(similarity, 0.0)
    spread = 1.0 - float(similarity.sum() / (n * (n - 1)))
    return near, spread


def strength_of(stats: SweepStats, cap: float, settings: Settings) -> float:
    """The formula of the module docstring."""
    return ramp_product(
        cap,
        lambda: float(log_ramp(stats.distinct, settings.min_distinct, settings.full_distinct)),
        lambda: float(ramp(stats.unique, settings.min_unique, settings.full_unique)),
        lambda: 1.0 - float(ramp(stats.near, settings.near_low, settings.near_high)),
        lambda: float(ramp(stats.spread, settings.min_spread, settings.full_spread)),
        lambda: float(ramp(stats.harvest, settings.min_harvest, settings.full_harvest)),
    )


def _fleet_counts(context: ScanContext, fleet_list: list[Subject]) -> pd.DataFrame:
    """Exchanges and distinct prompts of each fleet as a whole (a prompt sent by two members
    counts once)."""
    if not fleet_list:
        return pd.DataFrame(columns=["cluster_id", "exchanges", "distinct_prompts"])
    members = pd.DataFrame(
        [(m, f.subject) for f in fleet_list for m in f.members],
        columns=["account_id", "cluster_id"],
    )
    exchanges = context.con.table("exchanges")
    table = ibis.memtable(members)
    joined = exchanges.join(table, "account_id")
    grouped = joined.group_by("cluster_id").aggregate(
        exchanges=_.count(), distinct_prompts=_.pair_id.nunique()
    )
    return context.con.to_pandas(grouped).set_index("cluster_id")


def detect(context: ScanContext) -> list[Evidence]:
    """Evidence for accounts and fleets that sweep a task pool."""
    settings = load_settings(Settings, INFO.id, context.settings(INFO.id))
    frame = semantic_frame(context)
    if frame.empty:
        return []
    vectors: FloatArray = frame.attrs["embeddings"]
    harvestable = bare(frame)["harvestable"].to_numpy()
    fleet_list = fleets(context, settings.fleet_cap)
    fleet_counts = _fleet_counts(context, fleet_list)
    evidence: list[Evidence] = []
    for subject in [*accounts(context), *fleet_list]:
        if len(subject.rows) < settings.min_prompts:
            continue
        exchanges, distinct = subject.exchanges, subject.distinct_prompts
        if subject.kind == "cluster":
            exchanges = int(fleet_counts.at[subject.subject, "exchanges"])
            distinct = int(fleet_counts.at[subject.subject, "distinct_prompts"])
        diversity = (settings.min_diversity, settings.full_diversity)
        cap = subject_cap(subject, settings.account_cap, settings.fleet_cap_strength, diversity)
        if cap == 0.0:
            continue  # strength 0, never emitted: single accounts by default (account_cap)
        near, spread = sample_stats(vectors[subject.rows], settings.near_cosine)
        stats = SweepStats(
            sampled=len(subject.rows),
            distinct=distinct,
            exchanges=exchanges,
            unique=distinct / max(exchanges, 1),
            near=near,
            spread=spread,
            harvest=float(harvestable[subject.rows].mean()),
        )
        strength = strength_of(stats, cap, settings)
        if strength <= settings.emit_above:
            continue
        summary = (
            f"this {who(subject)} sent {count(distinct)} distinct prompts in "
            f"{count(exchanges)} requests ({percent(stats.unique)} never repeated), "
            f"spread widely over a task pool ({describe_mix(tag_mix(frame, subject.rows))}"
            f"; near repeats in {percent(near)} of {count(stats.sampled)} sampled)"
        )
        details: dict[str, object] = {
            "sampled_prompts": stats.sampled,
            "distinct_prompts": distinct,
            "exchanges": exchanges,
            "unique_share": rounded(stats.unique),
            "near_repeat_share": rounded(near),
            "spread": rounded(spread),
            "harvestable_share": rounded(stats.harvest),
            "diversity": rounded(subject.diversity),
        }
        evidence.append(make_evidence(INFO, subject, strength, summary, details))
    return evidence
