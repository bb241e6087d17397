"""DG-301 embedding capability tags: what an account or fleet asks for, by meaning.

Each sampled prompt is tagged with its nearest capability centroid (reasoning, coding,
tool_use, grading, chinese_exam, complex_instruction, chat, chinese_chat), centroids built
from labelled public prompt collections when the static model was built.  Unlike the
cue-based tag of ``features/capability.py`` this reads meaning, so paraphrased or translated
tasks get the same tag.

Evidence (weak by design: a specialised customer is not a harvester) when a subject's traffic
is concentrated on *harvestable* capabilities far more than the scan's reference traffic is:

    lift     = harvestable share of the subject / harvestable share of the reference
    strength = cap × ramp(share, min_share, full_share) × ramp(lift, min_lift, full_lift)
                   × log_ramp(distinct harvestable prompts, min_count, full_count)

where the distinct count is the share times the subject's distinct prompts over all of its
traffic.  Fleets are judged the same way on their pooled sample.  The tag mix is also put in
the evidence's details, for reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

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
from distillguard.detectors.semantic.frame import (
    HARVESTABLE,
    SampleSettings,
    bare,
    semantic_frame,
)
from distillguard.detectors.semantic.subjects import (
    Subject,
    account_table,
    describe_mix,
    fleets,
    make_evidence,
    tag_mix,
)

INFO = DetectorInfo(
    id="DG-301",
    version="1.1",
    name="embedding capability tags",
    description=(
        "An account's or fleet's prompts, tagged by meaning, concentrate on harvestable "
        "capabilities far more than reference traffic does."
    ),
    family="semantic",
    atlas=(ATLAS["extract_model"],),
)


@dataclass(frozen=True)
class Settings:
    """Defaults keep the strength low: concentration alone describes, it does not accuse."""

    min_prompts: int = 12
    min_share: float = 0.8
    full_share: float = 0.97
    min_lift: float = 1.4
    full_lift: float = 2.0
    min_count: float = 30.0
    full_count: float = 300.0
    cap: float = 0.15
    fleet_cap: int = 512
    emit_above: float = 0.05

    def __post_init__(self) -> None:
        check_range(INFO.id, "share", self.min_share, self.full_share)
        check_range(INFO.id, "lift", self.min_lift, self.full_lift)
        check_range(INFO.id, "count", self.min_count, self.full_count)
        check_unit(INFO.id, "cap", self.cap)
        check_unit(INFO.id, "emit_above", self.emit_above)
        if self.min_prompts < 2 or self.min_count <= 0 or self.fleet_cap < 16:
            raise ValueError(f"{INFO.id}: min_prompts >= 2, min_count > 0, fleet_cap >= 16")


def _settings(context: ScanContext) -> Settings:
    sampling = set(SampleSettings.__dataclass_fields__)
    values = {k: v for k, v in context.settings(INFO.id).items() if k not in sampling}
    return load_settings(Settings, INFO.id, values)


def reference_share(context: ScanContext) -> float:
    """Harvestable share of the reference sample (scan traffic plus bundled benign prompts)."""
    from distillguard.features.embeddings import semantic_reference

    reference = semantic_frame(context).attrs["reference"]
    if len(reference) == 0:
        return 0.0
    model = semantic_reference()
    labels = np.array(model.labels)[(reference @ model.centroids.T).argmax(axis=1)]
    return float(np.isin(labels, HARVESTABLE).mean())


def judge(
    shares: npt.NDArray[np.float64],
    distinct_prompts: npt.NDArray[np.int64],
    base: float,
    settings: Settings,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(strength, lift, distinct harvestable prompts) of many subjects at once.

    The formula of the module docstring, elementwise: the same numbers as judging each
    subject alone with :func:`ramp_product` (its factors are ramps in [0, 1], so a product
    that reached 0 stays 0 whether or not the later factors are computed).
    """
    lift = shares / max(base, 0.01)
    distinct = shares * distinct_prompts
    strength: npt.NDArray[np.float64] = (
        settings.cap
        * ramp(shares, settings.min_share, settings.full_share)
        * ramp(lift, settings.min_lift, settings.full_lift)
        * log_ramp(distinct, settings.min_count, settings.full_count)
    )
    return strength, lift, distinct


def detect(context: ScanContext) -> list[Evidence]:
    """Evidence for accounts and fleets concentrated on harvestable capabilities."""
    settings = _settings(context)
    frame = semantic_frame(context)
    if frame.empty:
        return []
    base = reference_share(context)
    harvestable = bare(frame)["harvestable"].to_numpy()
    # Accounts: judged all at once, a Subject made only for those reported.
    table = account_table(frame)
    chosen = np.flatnonzero(table.sizes >= settings.min_prompts)
    # A bool mean is the count over the size: exact, whichever way it is summed.
    shares = table.sums(harvestable.astype(np.float64))[chosen] / table.sizes[chosen]
    strengths, lifts, distincts = judge(shares, table.distinct_prompts[chosen], base, settings)
    reported: list[tuple[Subject, float, float, float, float]] = [
        (
            table.subject(int(chosen[i])),
            float(shares[i]),
            float(strengths[i]),
            float(lifts[i]),
            float(distincts[i]),
        )
        for i in np.flatnonzero(strengths > settings.emit_above)
    ]
    fleet_list = [
        f for f in fleets(context, settings.fleet_cap) if len(f.rows) >= settings.min_prompts
    ]
    fleet_shares = np.array([float(harvestable[f.rows].mean()) for f in fleet_list])
    fleet_distinct = np.array([f.distinct_prompts for f in fleet_list], dtype=np.int64)
    strengths, lifts, distincts = judge(fleet_shares, fleet_distinct, base, settings)
    reported += [
        (fleet, float(fleet_shares[i]), float(strengths[i]), float(lifts[i]), float(distincts[i]))
        for i, fleet in enumerate(fleet_list)
        if strengths[i] > settings.emit_above
    ]
    evidence: list[Evidence] = []
    for subject, share, strength, lift, distinct in reported:
        mix = tag_mix(frame, subject.rows)
        kind = "fleet" if subject.kind == "cluster" else "account"
        summary = (
            f"{percent(share)} of {count(len(subject.rows))} sampled prompts of this "
            f"{kind} ask for harvestable capabilities ({describe_mix(mix)}), "
            f"{lift:.1f}× the reference traffic's {percent(base)}; about "
            f"{count(distinct)} distinct such prompts"
        )
        details: dict[str, object] = {
            "sampled_prompts": len(subject.rows),
            "harvestable_share": rounded(share),
            "reference_share": rounded(base),
            "lift": rounded(lift),
            "tags": {tag: rounded(s) for tag, s in mix},
        }
        evidence.append(make_evidence(INFO, subject, strength, summary, details))
    return evidence
