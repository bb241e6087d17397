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
    semantic_frame,
)
from distillguard.detectors.semantic.subjects import (
    Subject,
    accounts,
    describe_mix,
    fleets,
    make_evidence,
    ramp_product,
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


def _judge(
    subject: Subject, share: float, base: float, settings: Settings
) -> tuple[float, float, float]:
    lift = share / max(base, 0.01)
    distinct = share * subject.distinct_prompts
    strength = ramp_product(
        settings.cap,
        lambda: float(ramp(share, settings.min_share, settings.full_share)),
        lambda: float(ramp(lift, settings.min_lift, settings.full_lift)),
        lambda: float(log_ramp(distinct, settings.min_count, settings.full_count)),
    )
    return strength, lift, distinct


def detect(context: ScanContext) -> list[Evidence]:
    """Evidence for accounts and fleets concentrated on harvestable capabilities."""
    settings = _settings(context)
    frame = semantic_frame(context)
    if frame.empty:
        return []
    base = reference_share(context)
    harvestable = frame["harvestable"].to_numpy()
    evidence: list[Evidence] = []
    for subject in [*accounts(context), *fleets(context, settings.fleet_cap)]:
        if len(subject.rows) < settings.min_prompts:
            continue
        share = float(harvestable[subject.rows].mean())
        strength, lift, distinct = _judge(subject, share, base, settings)
        if strength <= settings.emit_above:
            continue
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
