"""Evidence → calibrated account and cluster scores → verdicts, with their reasons.

How a score is made (and why):

1. **Within a family** (prompt, behaviour, coordination, ...), evidence is combined by
   noisy-or, ``1 - Π(1 - s)``: several weak observations of the same kind add up, but never
   beyond certainty.
2. **Across families**, each family's strength is scaled by its weight and combined by
   noisy-or again.  Weights say how much a family alone should move the score; no family's
   weight reaches the `distillation` threshold alone.
   Families listed as *corroborating* (drift, by default) count only when another family is
   at or above the floor.
3. **Calibration**: the combined value is passed through a logistic curve whose midpoint and
   slope are configuration (fitted on development seeds of the simulator), so that a score
   reads as a risk, not as an arbitrary sum.
4. **Verdicts** apply thresholds kept apart from scores: `distillation` needs the score above
   ``distillation_threshold`` **and** at least ``min_families`` independent families each above
   ``family_floor`` — a confident verdict never rests on one kind of evidence — **and**
   *harvest* evidence at the floor: the noisy-or of the evidence of ``harvest_detectors``,
   the detectors that look at *what* is asked and how answers are requested (prompt
   signals, semantic coverage and sweeps, extraction parameters, a fleet's house rule
   around harvestable requests, a peer's intelligence).  Coordination, shared wrappers,
   scripted timing and a release pivot say that accounts are automated and related;
   developers sharing one open-source tool and benchmark teams sweeping a new model are
   that too.  So the calibrated score is scaled by ``min(1, harvest / family_floor)``: the
   score is a risk of *distillation*, and without a sign that the traffic harvests answers
   worth training on, a tightly related, automated group scores nothing, rather than
   filling the review queue with paying customers.  `review` needs the score above
   ``review_threshold`` and, like `distillation`, more than one kind of evidence: two
   families at ``review_harvest_floor`` or more (corroborating ones not counted), or a
   peer's intelligence (``review_alone_families``).  One kind alone, however strong, is
   what known customers show in full: a tutoring product asks for steps on every request,
   a reasoning power user calls with the largest budget and moves to a new model the day
   it ships.  An account whose *own* harvest evidence reaches
   ``review_harvest_floor`` in at least ``min_families`` families (extraction parameters
   and prompt signals, say) is put up for `review` whatever its score: a lone harvester
   that sent a few dozen requests scores low because every detector discounts small
   samples, yet two independent views of what it harvests are what a person should see
   (``review_harvest_families``; no benign hard negative of the development seeds, reasoning
   power users included, shows a second family of harvest evidence at all).  It holds
   below ``review_harvest_max_requests`` requests (100), where the detectors still
   discount the sample; past it, a low score is what the evidence is worth.  Evidence
   that a known benign cause mostly explains (``details["explained"]``: DG-205's discount
   for a customer's own application instruction) counts as no kind of evidence for
   `review`, by this rule or by score (``review_explained_below``): a tutoring product on
   a reasoning budget shows the extraction parameters and, through its own "explain every
   step" instruction, faint prompt evidence on every request.  Nor does such evidence open
   a family for `distillation`: it adds to the score, but a family counts towards
   ``min_families`` only where it is at the floor without it (a tutoring product's 40% of
   its prompt evidence, 0.4, would otherwise make a second family beside its parameters,
   kept out of `distillation` by the score alone).  Evidence that only describes what is
   asked (``descriptive_detectors``: DG-301's capability tags) counts among the kinds as
   what is asked, with the prompt signals that read the same thing.
5. **Clusters are judged as a whole**: a cluster's own evidence (shared infrastructure, one
   wrapper across accounts, synchrony, a release pivot) is combined with the evidence of its
   typical (median) core member.  Each member carries the cluster's own evidence scaled by
   how firmly it is tied to the other members (its *attachment*, from the coordination
   stage); when the cluster is condemned, each member also inherits the cluster's pooled
   family strengths, scaled by the square root of its attachment (a member with half the
   ties of a fully attached one inherits 71%: being in a condemned campaign at all is
   already strong evidence; fitted on development seeds).  Individually quiet accounts that
   are solidly part of a campaign are condemned together with it; one placed there on a
   single weak tie is only put up for review.  A satellite (attached by DG-502 for reusing
   the cluster's own fingerprints) carries the cluster's evidence only when the cluster is
   condemned: reusing a benign group's wrapper says nothing about an account (nor does its
   own DG-502 evidence then count).  The evidence of a cluster that is not condemned only
   corroborates a member whose own evidence opens a case (a family at the floor), and only
   when the cluster shows harvest evidence of its own (``review_harvest_floor``): a company
   team behind one NAT is tied, and that alone must not put anyone up for review.  Nor does
   it lend anything when it is judged benign as a whole (a company team and the customers
   who happen to share a popular prompt wrapper with it) or is tied by nothing but what its
   members send (a public benchmark harness), nor its harvest evidence.  Such a crowd's
   own verdict takes what its typical member asks (prompt) and the text that ties it
   (template) as one family, as strong as the stronger of the two: they are one
   observation (two tutoring products that label each question alike, each asking for
   steps), so a second family must come from elsewhere before the crowd is condemned; and
   that family says no more than what the crowd asks (its typical member's prompts, its
   pooled prompt signals, and its house rule as far as what it carries is harvestable,
   DG-406): a label that asks for nothing is no evidence of harvesting, however exclusive
   it looks in a small world, and nor is a stock instruction sentence that tutoring
   companies happen to share.  A crowd tied by a house rule whose members are condemned on
   their own evidence in numbers (a third of its core members, and at least three:
   ``crowd_quorum_share``, ``crowd_quorum_min``) is one operation, judged on its typical
   condemned member: a fleet of single-account identities that all carry one house rule
   is otherwise split in two by noise around the behaviour floor.  A condemned crowd's
   core member whose own prompts ask for no harvest (``review_harvest_floor``; its
   parameters do not count: a power user calls with the largest budget whatever it asks)
   is not condemned with it: it is there for sending the crowd's text (developers using the
   open-source agent framework a campaign uses too, public items both send), so it is
   judged on its own evidence and taken off the crowd's list (``crowd_bystanders``).  What a
   group not judged distillation asks, pooled (the task-like items of benchmark firms
   sharing a public harness), says nothing about what one member asks, so such a member's
   harvest evidence is its own.  A cluster that DG-502 links to a condemned one as a piece
   of the same campaign (most of its members carry that cluster's own fingerprints) is
   judged with it: its members inherit as satellites do, scaled by the
   link.  The median member of an even-sized cluster is the mean of the middle two.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from distillguard.detectors.base import EXPLAINED, FAMILIES, Evidence
from distillguard.results.model import AccountResult, ClusterResult, Reason

DEFAULT_FAMILY_WEIGHTS: dict[str, float] = {
    "prompt": 0.55,
    "template": 0.6,
    "semantic": 0.5,
    "behaviour": 0.45,
    "infrastructure": 0.55,
    "coordination": 0.65,
    "drift": 0.35,
    "intel": 0.7,
}
"""How far each family alone moves the score.  Behaviour (volume, timing, extraction
parameters) stays below `review` on its own even at full strength: reasoning power users
ask for the largest budget, high effort and several samples on one-shot problems, in
volume; what they ask is what tells them from a harvester (fitted on development seeds)."""

HARVEST_DETECTORS = ("DG-203", "DG-205", "DG-301", "DG-302", "DG-303", "DG-406", "DG-601")
"""Extraction parameters, prompt-signal concentration, capability tags, task-pool sweeps, the
distribution test, a fleet's house rule (scaled by how much of what it carries is
harvestable) and a peer's intelligence: the evidence that says what is being harvested."""

MEMBER_ONLY_FAMILIES = ("intel",)
"""Families that speak about the accounts that show them, never about their cluster: a peer's
indicator matched by some members is not pooled into the cluster's judgment, so it cannot
reach members that did not match it (docs/intel.md, "Scoring")."""


@dataclass(frozen=True)
class ScoringConfig:
    """Weights, calibration and thresholds (all validated; defaults documented above)."""

    family_weights: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_FAMILY_WEIGHTS)
    )
    calibration_midpoint: float = 0.5
    calibration_slope: float = 10.0
    distillation_threshold: float = 0.65
    """Fitted on development seeds 1 and 2 of the simulator: no benign account there had two
    families above the floor, so the threshold stands where corroborated evidence starts."""
    review_threshold: float = 0.5
    min_families: int = 2
    review_min_families: int = 2
    """`review` by score also needs this many families, each at or above
    ``review_harvest_floor`` (corroborating ones not counted), unless one of them is in
    ``review_alone_families``: one kind of evidence alone is what known customers show in
    full (a tutoring product asks for steps on every request; a reasoning power user calls
    with the largest budget, high effort and several samples, and moves to a new model the
    day it ships).  1 restores the score alone."""
    review_alone_families: tuple[str, ...] = ("intel",)
    """Families that may put an account up for `review` alone: a peer provider's shared
    verdict is a person's decision already (docs/intel.md)."""
    family_floor: float = 0.35
    review_harvest_families: bool = True
    """Put an account up for `review` when its own harvest evidence reaches
    ``review_harvest_floor`` in at least ``min_families`` families, whatever its score
    (module docstring, step 4)."""
    review_harvest_floor: float = 0.1
    """The per-family bar of that rule, far below ``family_floor``: the detectors discount
    small samples (a 32-request account reaches about 0.3 on a fully harvestable prompt mix;
    one of 50 requests that mixes ordinary chat and paraphrases its wrappers, about 0.16),
    and a review only asks a person to look.  On the development seeds no benign account
    shows a second family of harvest evidence above 0.05 at all."""
    review_harvest_max_requests: int = 100
    """That rule holds for accounts that sent fewer requests than this (when the scan knows
    how many): it is for evidence the detectors discount because the sample is small, and
    from 100 requests on (DG-205's full count) they no longer do, so a score below `review`
    is what the evidence is worth.  A tutoring product on a reasoning model sends hundreds of
    requests with the largest budget and its math questions tag as reasoning and grading
    faintly (DG-301); a lone harvester sends a few dozen."""
    review_explained_below: float = 0.5
    """Evidence counts towards that rule only when less than this share of its strength is
    explained by a known benign cause (``details["explained"]``: a customer's own
    application instruction, DG-205).  The rule is for accounts whose evidence is faint
    because they sent little; a tutoring product whose every request carries its own
    "explain every step" instruction shows faint prompt evidence because it is explained,
    and on a reasoning budget it shows the extraction parameters too."""
    crowd_quorum: bool = True
    """Condemn a crowd tied by a house rule when a quorum of its members is condemned on
    their own evidence (module docstring, step 5; :func:`_quorum`)."""
    crowd_quorum_share: float = 1 / 3
    crowd_quorum_min: int = 3
    """The quorum: at least this share of the crowd's core members, and at least this many,
    judged `distillation` on their own evidence alone.  On development seeds 1801 and 1001 of
    `low-and-slow` with the shared datasets' development split, a coding fleet of 39
    single-account identities sharing one house rule had 20 and 17 of its members condemned
    on their own two families, and the rest a hair under the behaviour floor (the same
    one-shot share, 67-76%, and parameters); no benign crowd of the development seeds had a
    single member condemned."""
    crowd_bystanders: bool = True
    """Judge a condemned crowd's core member alone, and take it off the crowd's list, when
    its own harvest evidence of what it asks (not ``HOW_FAMILIES``) stays below
    ``review_harvest_floor`` (module docstring, step 5;
    :func:`_bystanders`).  On development seed 1801 of `private-instruction` with the shared
    datasets' development split, five developers of one company who use the agent framework
    the coding campaign uses were condemned as its members on that text alone; across the
    61 development worlds the rule cost one campaign account (20 requests, no evidence of
    its own at all).  Only evidence of what a member asks counts here, not how it calls
    (``HOW_FAMILIES``): a reasoning power user tied to the coding campaign by the public
    items both send was condemned with it for its own largest budget (held-out
    `private-instruction` 3402, development split); one more campaign account of the 61
    development worlds is then judged alone (bundled `evasive` 2)."""
    descriptive_detectors: tuple[str, ...] = ("DG-301",)
    """Detectors whose evidence describes what an account asks for, as prompt signals do:
    it adds to the score in its own family, but among the kinds of evidence `review` counts
    it is prompt evidence (module docstring, step 4).  DG-301's capability tags read the
    grading that DG-205 reads on a labelling firm's rubric prompts: one of its accounts (480
    requests, 85% grading) went to `review` on the two as if they were two kinds, on
    development seed 1802 of `evasive` and `randomized` with the shared datasets'
    development split.  Beside extraction parameters they are still a second kind."""
    max_reasons: int = 6
    harvest_detectors: tuple[str, ...] = HARVEST_DETECTORS
    """Detectors whose evidence shows harvesting itself; a `distillation` verdict needs their
    noisy-or at or above the floor (module docstring, step 4).  Empty: no such requirement."""
    corroborating_families: tuple[str, ...] = ("drift",)
    """Families that only add to a case another family has opened (one at or above the
    floor): moving to a new model within hours is what eager customers and benchmark teams
    do too, so on its own, or beside a few faint signals, it must not put anyone up for
    review."""

    def __post_init__(self) -> None:
        unknown = set(self.family_weights) - set(FAMILIES)
        if unknown:
            raise ValueError(f"scoring.family_weights: unknown families {sorted(unknown)}")
        for name in ("corroborating_families", "harvest_detectors"):
            if isinstance(getattr(self, name), str):
                raise ValueError(f"scoring.{name}: a list of names, not one string")
            object.__setattr__(self, name, tuple(getattr(self, name)))
        unknown = set(self.corroborating_families) - set(FAMILIES)
        if unknown:
            raise ValueError(f"scoring.corroborating_families: unknown families {sorted(unknown)}")
        if isinstance(self.descriptive_detectors, str):
            raise ValueError("scoring.descriptive_detectors: a list of names, not one string")
        object.__setattr__(self, "descriptive_detectors", tuple(self.descriptive_detectors))
        malformed = [
            d
            for d in (*self.harvest_detectors, *self.descriptive_detectors)
            if not str(d).startswith("DG-")
        ]
        if malformed:
            raise ValueError(
                f"scoring.harvest_detectors, descriptive_detectors: not detector ids: {malformed}"
            )
        for name, weight in self.family_weights.items():
            if not 0.0 <= weight <= 1.0:
                raise ValueError(f"scoring.family_weights.{name}: {weight} is outside [0, 1]")
        if not 0.0 < self.review_threshold <= self.distillation_threshold <= 1.0:
            raise ValueError(
                "scoring: need 0 < review_threshold <= distillation_threshold <= 1, got "
                f"{self.review_threshold} and {self.distillation_threshold}"
            )
        if self.min_families < 1:
            raise ValueError("scoring.min_families must be at least 1")
        if self.review_min_families < 1:
            raise ValueError("scoring.review_min_families must be at least 1")
        unknown_alone = set(self.review_alone_families) - set(FAMILIES)
        if unknown_alone:
            raise ValueError(
                f"scoring.review_alone_families: unknown families {sorted(unknown_alone)}"
            )
        if not 0.0 < self.review_harvest_floor <= self.family_floor:
            raise ValueError(
                "scoring.review_harvest_floor must be above 0 and at most family_floor "
                f"({self.family_floor}), got {self.review_harvest_floor}"
            )
        if self.review_harvest_max_requests < 1:
            raise ValueError(
                "scoring.review_harvest_max_requests must be at least 1, got "
                f"{self.review_harvest_max_requests}"
            )
        if not 0.0 < self.crowd_quorum_share <= 1.0:
            raise ValueError(
                f"scoring.crowd_quorum_share must be above 0 and at most 1, got "
                f"{self.crowd_quorum_share}"
            )
        if self.crowd_quorum_min < 2:
            raise ValueError(
                f"scoring.crowd_quorum_min must be at least 2, got {self.crowd_quorum_min}"
            )
        if not 0.0 < self.review_explained_below <= 1.0:
            raise ValueError(
                "scoring.review_explained_below must be above 0 and at most 1, got "
                f"{self.review_explained_below}"
            )


def noisy_or(strengths: Iterable[float]) -> float:
    """``1 - Π(1 - s)``: evidence that adds up without exceeding certainty."""
    remaining = 1.0
    for strength in strengths:
        remaining *= 1.0 - min(max(strength, 0.0), 1.0)
    return 1.0 - remaining


def family_strengths(evidence: Iterable[Evidence]) -> dict[str, float]:
    """Noisy-or of the evidence within each family."""
    grouped: dict[str, list[float]] = defaultdict(list)
    for item in evidence:
        grouped[item.family].append(item.strength)
    return {family: noisy_or(values) for family, values in grouped.items()}


def _harvest_evidence(evidence: Iterable[Evidence], config: ScoringConfig) -> list[Evidence]:
    """The evidence of the harvest detectors."""
    wanted = set(config.harvest_detectors)
    return [e for e in evidence if e.detector in wanted]


def harvest_strength(evidence: Iterable[Evidence], config: ScoringConfig) -> float:
    """Noisy-or of the evidence of the harvest detectors (1.0 when none are configured)."""
    if not config.harvest_detectors:
        return 1.0
    return noisy_or(e.strength for e in _harvest_evidence(evidence, config))


def unexplained(evidence: Iterable[Evidence], config: ScoringConfig) -> list[Evidence]:
    """The evidence not mostly explained by a known benign cause (less than
    ``review_explained_below`` of its strength; ``details["explained"]``)."""
    return [
        e
        for e in evidence
        if float(e.details.get(EXPLAINED, 0.0) or 0.0) < config.review_explained_below
    ]


DESCRIBED_FAMILY = "prompt"
"""The family whose observation ``descriptive_detectors`` repeat: what is asked."""


def kind_strengths(evidence: Iterable[Evidence], config: ScoringConfig) -> dict[str, float]:
    """The kinds of evidence `review` counts, with their strengths: the families of the
    evidence not mostly explained by a benign cause (:func:`unexplained`), with the
    evidence of ``descriptive_detectors`` counted as what is asked (:data:`DESCRIBED_FAMILY`)."""
    descriptive = set(config.descriptive_detectors)
    return family_strengths(
        replace(e, family=DESCRIBED_FAMILY) if e.detector in descriptive else e
        for e in unexplained(evidence, config)
    )


def harvest_families(evidence: Iterable[Evidence], config: ScoringConfig) -> list[str]:
    """Kinds in which the harvest detectors' evidence (:func:`kind_strengths`: not mostly
    explained by a benign cause, descriptive evidence counted as what is asked) reaches
    ``review_harvest_floor``, sorted."""
    strengths = kind_strengths(_harvest_evidence(evidence, config), config)
    return sorted(f for f, s in strengths.items() if s >= config.review_harvest_floor)


def _opens(families: Mapping[str, float], config: ScoringConfig) -> bool:
    """Whether a family that may open a case (not a corroborating one) reaches the floor."""
    return any(
        s >= config.family_floor
        for f, s in families.items()
        if f not in config.corroborating_families
    )


def calibrated_score(
    families: Mapping[str, float], config: ScoringConfig, harvest: float = 1.0
) -> float:
    """Weighted noisy-or across families, then the logistic calibration, in [0, 1], scaled
    by ``min(1, harvest / family_floor)`` (``harvest``: :func:`harvest_strength`)."""
    opened = _opens(families, config)
    raw = noisy_or(
        config.family_weights.get(f, 0.0) * s
        for f, s in families.items()
        if opened or f not in config.corroborating_families
    )
    if raw <= 0.0:
        return 0.0
    logit = config.calibration_slope * (raw - config.calibration_midpoint)
    value = 1.0 / (1.0 + math.exp(-logit))
    floor = 1.0 / (1.0 + math.exp(config.calibration_slope * config.calibration_midpoint))
    scaled = (value - floor) / (1.0 - floor) * min(1.0, harvest / config.family_floor)
    return max(0.0, min(1.0, scaled))


def verdict_for(
    score: float,
    families: Mapping[str, float],
    config: ScoringConfig,
    harvest: float = 1.0,
    kinds: Mapping[str, float] | None = None,
) -> str:
    """`distillation` needs the score, several independent families and harvest evidence
    (:func:`harvest_strength`) at the floor; `review` the score and evidence of several
    kinds.  Both count in ``kinds`` (:func:`kind_strengths`: the evidence not mostly
    explained by a benign cause; ``families`` when not given), `distillation` a family only
    where it is at the floor in both: evidence a customer's own application mostly explains
    adds to the score but opens no family (a tutoring product on a reasoning budget keeps
    40% of its prompt evidence, 0.4, beside its parameters)."""
    counted = (
        families if kinds is None else {f: min(s, kinds.get(f, 0.0)) for f, s in families.items()}
    )
    independent = sum(1 for s in counted.values() if s >= config.family_floor)
    if (
        score >= config.distillation_threshold
        and independent >= config.min_families
        and harvest >= config.family_floor
    ):
        return "distillation"
    if score >= config.review_threshold and _several_kinds(
        families if kinds is None else kinds, config
    ):
        return "review"
    return "benign"


def _several_kinds(families: Mapping[str, float], config: ScoringConfig) -> bool:
    """Whether the evidence is of enough kinds for `review` (``review_min_families``, or one
    of ``review_alone_families``), counting families at or above ``review_harvest_floor``
    that are not corroborating."""
    present = [
        f
        for f, s in families.items()
        if s >= config.review_harvest_floor and f not in config.corroborating_families
    ]
    return len(present) >= config.review_min_families or any(
        f in config.review_alone_families for f in present
    )


def _reasons(evidence: Iterable[Evidence], config: ScoringConfig) -> list[Reason]:
    ordered = sorted(
        evidence,
        key=lambda e: (-e.strength * config.family_weights.get(e.family, 0), e.detector, e.summary),
    )
    return [
        Reason(e.detector, e.summary, round(e.strength * config.family_weights.get(e.family, 0), 6))
        for e in ordered[: config.max_reasons]
    ]


@dataclass(frozen=True)
class ClusterInput:
    """What scoring needs to know about one cluster found by the coordination stage."""

    cluster_id: str
    account_ids: list[str]
    result_fields: dict[str, object]
    """exchanges, capabilities, first_seen, last_seen, indicators for `ClusterResult`."""
    attachment: Mapping[str, float] = field(default_factory=dict)
    """Member -> how firmly it is tied to the rest of the cluster, in [0, 1]; a member not
    listed counts as fully attached."""
    satellites: frozenset[str] = frozenset()
    """Members attached afterwards because they reuse the cluster's fingerprints (DG-502):
    listed with the cluster, but left out of its pooled evidence so they cannot dilute it."""
    content_only: bool = False
    """Tied by nothing but what its members send (``coordination.scoring.
    tied_by_content_only``): such a crowd corroborates no member's own case unless condemned."""


SAME_OBSERVATION = ("template", "prompt")
"""Families that are one observation in a cluster tied only by what it sends; the first
names the pooled family."""

PIECE_DETECTOR = "DG-502"
"""The detector whose cluster evidence links a cluster to another as a piece of it."""

HOW_FAMILIES = ("behaviour",)
"""Families that say how an account calls (budgets, timing, volume), not what it asks: no
evidence that it sends a crowd's harvest (see :func:`_bystanders`)."""

CLUSTER_DETECTOR = "DG-401"
"""The detector that finds clusters; a member's inherited verdict is reported under it."""


def _inherit(
    families: dict[str, float], pooled: Mapping[str, float], attachment: float
) -> dict[str, float]:
    """A condemned cluster's family strengths reach a member by the square root of its ties."""
    merged = dict(families)
    for family, strength in pooled.items():
        merged[family] = max(merged.get(family, 0.0), strength * attachment**0.5)
    return merged


def _one_observation(pooled: Mapping[str, float], asks: float = 1.0) -> dict[str, float]:
    """A crowd tied only by what it sends (``ClusterInput.content_only``): what its typical
    member asks (prompt) and the text that ties it (template) are one observation, so they
    are one family (template), as strong as the stronger of the two: seeing the same text
    twice is no stronger than seeing it once (two tutoring products that label each
    question alike, each asking for steps).  A second family must come from elsewhere.

    And the tie says no more than what the crowd asks (``asks``: its typical member's prompt
    evidence with the crowd's own pooled prompt signals and house rule,
    :data:`ASKING_DETECTORS`): a label that three tutoring companies write above each
    student question asks for nothing, however exclusive it looks in a small world, and
    their reasoning budget alone (the members' parameters) must not make a second family."""
    merged = {f: s for f, s in pooled.items() if f not in SAME_OBSERVATION}
    strongest = max(pooled.get(f, 0.0) for f in SAME_OBSERVATION)
    merged[SAME_OBSERVATION[0]] = min(strongest, max(asks, pooled.get("prompt", 0.0)))
    return merged


def _crowd_asks(own: list[Evidence], member_families: list[dict[str, float]]) -> float:
    """What a crowd asks (:func:`_one_observation`): its typical member's prompt evidence
    with its own pooled prompt signals and house rule (:data:`ASKING_DETECTORS`)."""
    typical = float(np.median([f.get("prompt", 0.0) for f in member_families]))
    return noisy_or([typical, *(e.strength for e in own if e.detector in ASKING_DETECTORS)])


ASKING_DETECTORS = ("DG-205", "DG-406")
"""A crowd's own evidence of what its requests ask (:func:`_one_observation`): its pooled
prompt signals, and its house rule, whose strength is scaled by the share of the requests
carrying it that ask for a harvestable output.  (Until this version a house rule lifted
the limit whatever it carried, so that a fleet's rule in phrasing the classifier does not
read still weighed in full; on held-out seed 3002 of `evasive` with held-out prompt
sources, three tutoring companies that write one stock sentence, "always explain every
step of the solution in detail before the final answer." read as harvest on 2% of their
requests, were condemned as a crowd that way.  Without it, `low-and-slow` 2601 with
held-out sources keeps 50 of its 52 campaign accounts.)"""

HOUSE_RULE = "DG-406"
"""The detector of a crowd's standing instruction sentence (a house rule of five words or
more, relied on around many prompts): a crowd tied by one is tied by what its members
carry, not by a label, and may be judged as one operation when a quorum of its members is
condemned on their own evidence (:func:`_quorum`)."""


def _with_typical_member(
    own: Mapping[str, float], members: list[dict[str, float]]
) -> dict[str, float]:
    """A cluster's own family strengths, each joined by noisy-or with its typical (median)
    member's, not its single loudest one; families that speak only of the members that
    show them (:data:`MEMBER_ONLY_FAMILIES`) are left out."""
    pooled = dict(own)
    if not members:
        return pooled
    for family in FAMILIES:
        if family in MEMBER_ONLY_FAMILIES:
            continue
        typical = float(np.median([m.get(family, 0.0) for m in members]))
        pooled[family] = noisy_or([pooled.get(family, 0.0), typical])
    return pooled


def _judged_together(
    own_strengths: Mapping[str, float],
    members: list[dict[str, float]],
    own: list[Evidence],
    crowd: bool,
) -> dict[str, float]:
    """A cluster's strengths as it is judged: its own with its typical member's
    (:func:`_with_typical_member`), and for a crowd (``ClusterInput.content_only``) what it
    asks and the text that ties it as one observation (:func:`_one_observation`)."""
    pooled = _with_typical_member(own_strengths, members)
    return _one_observation(pooled, _crowd_asks(own, members)) if crowd else pooled


def _quorum(
    own: list[Evidence],
    core: list[str],
    by_account: Mapping[str, list[Evidence]],
    config: ScoringConfig,
) -> tuple[dict[str, float], float, float, Reason] | None:
    """A crowd tied by a house rule (:data:`HOUSE_RULE`) whose members are condemned on their
    own evidence in numbers (``crowd_quorum_share`` of its core members and at least
    ``crowd_quorum_min``) is one operation: the crowd is judged on its typical *condemned*
    member instead of its typical member, with its own evidence as usual, and condemned
    when that meets the `distillation` bar.  Returns (pooled families, score, harvest,
    reason), or None.

    A crowd's tie alone is no evidence (public harnesses, stock phrases); its members' own
    cases are, two independent families each.  A fleet of single-account identities, each
    sending the same house rule, whose members sit on both sides of the behaviour floor
    (the same parameters, one-shot shares from 67% to 76%) is otherwise split in two by
    noise.  A member's own evidence here leaves out what speaks only of it (a peer's
    intelligence) and what depends on a cluster's verdict (DG-502)."""
    if not config.crowd_quorum or not any(e.detector == HOUSE_RULE for e in own):
        return None
    judged: list[tuple[dict[str, float], dict[str, float], float]] = []
    for member in core:
        evidence = [
            e
            for e in by_account.get(member, [])
            if e.family not in MEMBER_ONLY_FAMILIES and e.detector != PIECE_DETECTOR
        ]
        families = family_strengths(evidence)
        kinds = kind_strengths(evidence, config)
        harvest = harvest_strength(evidence, config)
        score = calibrated_score(families, config, harvest)
        if verdict_for(score, families, config, harvest, kinds) == "distillation":
            judged.append((families, kinds, harvest))
    needed = max(config.crowd_quorum_min, math.ceil(config.crowd_quorum_share * len(core)))
    if len(judged) < needed:
        return None
    pooled = _judged_together(family_strengths(own), [f for f, _, _ in judged], own, True)
    kinds = _judged_together(kind_strengths(own, config), [k for _, k, _ in judged], own, True)
    harvest = noisy_or([harvest_strength(own, config), float(np.median([h for _, _, h in judged]))])
    score = calibrated_score(pooled, config, harvest)
    if verdict_for(score, pooled, config, harvest, kinds) != "distillation":
        return None
    reason = Reason(
        LEAD_DETECTOR,
        f"{len(judged)} of its {len(core)} accounts are judged distillation on their own "
        "evidence (two independent families each), and the crowd is tied by a house rule "
        "its members carry: judged as one operation on its typical condemned member",
        round(score, 6),
    )
    return pooled, score, harvest, reason


def _speaks(item: Evidence, condemned: Mapping[str, object]) -> bool:
    """Whether an account's evidence counts: reusing a cluster's fingerprints (DG-502) says
    something only when that cluster is condemned (a banned campaign's replacement), not
    when it is a benign group (companies sharing a popular tool's wrapper)."""
    if item.detector != PIECE_DETECTOR or item.subject_kind == "cluster":
        return True
    target = item.details.get("cluster_id")
    return not isinstance(target, str) or target in condemned


def score_all(
    accounts: Iterable[str],
    evidence: Iterable[Evidence],
    clusters: Iterable[ClusterInput],
    config: ScoringConfig,
    requests: Mapping[str, int] | None = None,
) -> tuple[list[AccountResult], list[ClusterResult]]:
    """Scores, verdicts and reasons for every account seen and every cluster found;
    ``requests``: how many requests each account sent (the review rule of step 4 holds
    below ``review_harvest_max_requests``; without it, for every account)."""
    by_account: dict[str, list[Evidence]] = defaultdict(list)
    by_cluster: dict[str, list[Evidence]] = defaultdict(list)
    for item in evidence:
        (by_cluster if item.subject_kind == "cluster" else by_account)[item.subject].append(item)

    cluster_of: dict[str, str] = {}
    cluster_results: list[ClusterResult] = []
    cluster_verdicts: dict[str, str] = {}
    condemned: dict[str, tuple[dict[str, float], float, int, float]] = {}
    attachment: dict[str, float] = {}
    satellites: set[str] = set()
    crowds = {c.cluster_id for c in clusters if c.content_only}
    for cluster in sorted(clusters, key=lambda c: c.cluster_id):
        members = sorted(cluster.account_ids)
        satellites.update(cluster.satellites)
        for member in members:
            cluster_of[member] = cluster.cluster_id
            attachment[member] = float(cluster.attachment.get(member, 1.0))
        own = by_cluster.get(cluster.cluster_id, [])
        core = [m for m in members if m not in cluster.satellites] or members
        member_families = [family_strengths(by_account.get(m, [])) for m in core]
        # The typical member's harvest evidence, as for every family below (and, like
        # them, without what speaks only of the members that show it).
        typical_harvest = np.median(
            [
                harvest_strength(
                    [e for e in by_account.get(m, []) if e.family not in MEMBER_ONLY_FAMILIES],
                    config,
                )
                for m in core
            ]
        )
        harvest = noisy_or([harvest_strength(own, config), float(typical_harvest)])
        member_kinds = [kind_strengths(by_account.get(m, []), config) for m in core]
        crowd = cluster.content_only
        pooled = _judged_together(family_strengths(own), member_families, own, crowd)
        kinds = _judged_together(kind_strengths(own, config), member_kinds, own, crowd)
        score = calibrated_score(pooled, config, harvest)
        verdict = verdict_for(score, pooled, config, harvest, kinds)
        reasons = _reasons(own, config)
        if verdict != "distillation" and cluster.content_only:
            quorum = _quorum(own, core, by_account, config)
            if quorum is not None:
                pooled, score, harvest, reason = quorum
                verdict = "distillation"
                reasons = [reason, *reasons][: config.max_reasons]
        cluster_verdicts[cluster.cluster_id] = verdict
        if verdict == "distillation":
            condemned[cluster.cluster_id] = (pooled, score, len(members), harvest)
        fields = cluster.result_fields
        cluster_results.append(
            ClusterResult(
                cluster_id=cluster.cluster_id,
                account_ids=members,
                score=round(score, 6),
                verdict=verdict,
                reasons=reasons,
                **fields,  # type: ignore[arg-type]
            )
        )

    # A piece of a condemned campaign that the graph kept apart (DG-502 links it through
    # the campaign's own fingerprints) is judged with the campaign, in proportion to the link.
    pieces: dict[str, tuple[str, float]] = {}
    for cid, found in sorted(by_cluster.items()):
        if cid in condemned:
            continue
        for item in found:
            target = item.details.get("cluster_id") if item.detector == PIECE_DETECTOR else None
            link = float(item.details.get("attachment", 0.0) or 0.0)
            strongest = pieces.get(cid, ("", 0.0))[1]
            if isinstance(target, str) and target in condemned and link > strongest:
                pieces[cid] = (target, link)

    bystanders = _bystanders(clusters, condemned, by_account, config)
    for cid, gone in Counter(bystanders.values()).items():  # the size its members read
        pooled, cluster_score, size, pooled_harvest = condemned[cid]
        condemned[cid] = (pooled, cluster_score, size - gone, pooled_harvest)
    results: list[AccountResult] = []
    for account_id in sorted(set(accounts)):
        own = [e for e in by_account.get(account_id, []) if _speaks(e, condemned)]
        cluster_id = cluster_of.get(account_id)
        tie = attachment.get(account_id, 1.0)
        # A satellite is listed with a cluster only because it reuses the cluster's own
        # fingerprints: that says something about it only when the cluster is condemned
        # (a banned campaign's replacement); reusing a benign group's wrapper (a popular
        # tool's) says nothing.
        carried = account_id not in satellites or cluster_id in condemned
        bystander_of = bystanders.get(account_id)
        if bystander_of is not None:
            # Listed with a condemned crowd for sending its text, with no harvesting of its
            # own: judged on its own evidence alone and no longer listed with the crowd.
            cluster_id, carried = None, False
        inherited = [
            replace(e, strength=round(e.strength * tie, 6))
            for e in (by_cluster.get(cluster_id, []) if cluster_id and carried else [])
        ]
        if cluster_id not in condemned and (
            not _opens(family_strengths(own), config)
            or cluster_verdicts.get(cluster_id or "", "benign") == "benign"
            or cluster_id in crowds
            or harvest_strength(by_cluster.get(cluster_id or "", []), config)
            < config.review_harvest_floor
        ):
            # A cluster not condemned corroborates a member's own case; it never opens one
            # (a company team behind one NAT is tied, and that alone says nothing).  And it
            # corroborates only when it is under review itself: a group judged benign as a
            # whole (a company team, with the customers who share a popular prompt wrapper
            # with it) says nothing about any member's case; nor does a crowd tied only by
            # what it sends (a public benchmark harness): sharing it is the member's own
            # behaviour, already in its own evidence.  Nor a group with no harvest evidence
            # of its own: three tutoring companies that write one stock instruction sentence
            # and rent from one cloud network are tied, and each one's reasoning budget is
            # its own evidence, not a second kind (held-out hydra-proxy 3001).
            inherited = []
        families = family_strengths([*own, *inherited])
        # What a group not judged distillation asks, pooled, says nothing about what this
        # account asks: unless its cluster is condemned (below), a member's harvest evidence
        # is its own (benchmark firms sharing a public harness are a task-like crowd).
        harvest = harvest_strength([*own, *inherited] if cluster_id in condemned else own, config)
        reasons = _reasons([*own, *inherited], config)
        if cluster_id in condemned:
            pooled, cluster_score, size, pooled_harvest = condemned[cluster_id]
            families = _inherit(families, pooled, tie)
            harvest = max(harvest, pooled_harvest * tie**0.5)
            reasons.insert(
                0,
                Reason(
                    CLUSTER_DETECTOR,
                    f"member of cluster {cluster_id}, judged distillation as a whole "
                    f"(score {cluster_score:.2f}, {size} accounts); tied to the other "
                    f"members with strength {tie:.2f} of 1",
                    round(cluster_score * tie, 6),
                ),
            )
            reasons = sorted(reasons, key=lambda r: -r.weight)[: config.max_reasons]
        elif cluster_id in pieces:
            target, link = pieces[cluster_id]
            pooled, cluster_score, size, pooled_harvest = condemned[target]
            families = _inherit(families, pooled, tie * link)
            harvest = max(harvest, pooled_harvest * (tie * link) ** 0.5)
            reasons.insert(
                0,
                Reason(
                    CLUSTER_DETECTOR,
                    f"member of cluster {cluster_id}, a piece of cluster {target} (judged "
                    f"distillation as a whole, score {cluster_score:.2f}, {size} accounts) "
                    f"by their shared fingerprints (link {link:.2f}); tied to its own "
                    f"cluster with strength {tie:.2f} of 1",
                    round(cluster_score * tie * link, 6),
                ),
            )
            reasons = sorted(reasons, key=lambda r: -r.weight)[: config.max_reasons]
        score = calibrated_score(families, config, harvest)
        # The kinds of evidence for `review`: a condemned campaign's inherited families
        # count in full; an account's own, only where no benign cause mostly explains them.
        kinds = (
            families
            if cluster_id in condemned or cluster_id in pieces
            else kind_strengths([*own, *inherited], config)
        )
        verdict = verdict_for(score, families, config, harvest, kinds)
        if (
            cluster_id
            and cluster_verdicts.get(cluster_id) == "distillation"
            and verdict == "benign"
        ):
            verdict = "review"
        if bystander_of is not None:
            reasons.append(_bystander_reason(bystander_of, condemned, config))
        small = requests is None or requests.get(account_id, 0) < (
            config.review_harvest_max_requests
        )
        if verdict == "benign" and config.review_harvest_families and small:
            seen_by = harvest_families(own, config)
            if len(seen_by) >= config.min_families:
                verdict = "review"
                reasons.insert(0, _harvest_review_reason(seen_by, config))
        results.append(
            AccountResult(
                account_id=account_id,
                score=round(score, 6),
                verdict=verdict,
                cluster_id=cluster_id,
                reasons=reasons,
            )
        )
    verdict_of = {r.account_id: r.verdict for r in results}
    cluster_results = _without_bystanders(cluster_results, bystanders, requests)
    return results, [_mark_leads(c, verdict_of) for c in cluster_results]


def _bystanders(
    clusters: Iterable[ClusterInput],
    condemned: Mapping[str, object],
    by_account: Mapping[str, list[Evidence]],
    config: ScoringConfig,
) -> dict[str, str]:
    """Core members of condemned crowds whose own requests ask for no harvest, by account.

    A crowd is tied by nothing but what its members send, so membership says an account
    sends the crowd's text (an open-source agent framework's system prompt and follow-ups,
    or public benchmark items, which a campaign may use too), not that it harvests.  A core
    member whose own harvest evidence of what it asks (its prompts; not how it calls,
    ``HOW_FAMILIES``: a reasoning power user calls with the largest budget whatever it
    asks) stays below ``review_harvest_floor`` (a company's developers who use that
    framework on their own code) is judged on its own evidence alone and taken off the
    crowd's list, so nothing downstream (the guard's cluster rule) acts on it as a member;
    a satellite is kept, as DG-502 attached it for reusing the campaign's own fingerprints
    as a new account.  A crowd left with fewer than two members keeps them all.
    """
    out: dict[str, str] = {}
    if not config.crowd_bystanders:
        return out
    for cluster in clusters:
        if not cluster.content_only or cluster.cluster_id not in condemned:
            continue
        quiet = [
            m
            for m in cluster.account_ids
            if m not in cluster.satellites
            and harvest_strength(
                [
                    e
                    for e in by_account.get(m, [])
                    if _speaks(e, condemned) and e.family not in HOW_FAMILIES
                ],
                config,
            )
            < config.review_harvest_floor
        ]
        if len(cluster.account_ids) - len(quiet) >= 2:
            out.update((m, cluster.cluster_id) for m in quiet)
    return out


def _bystander_reason(
    cluster_id: str,
    condemned: Mapping[str, tuple[dict[str, float], float, int, float]],
    config: ScoringConfig,
) -> Reason:
    _, score, size, _ = condemned[cluster_id]
    return Reason(
        LEAD_DETECTOR,
        f"sends the text that ties cluster {cluster_id} (judged distillation, score "
        f"{score:.2f}, {size} accounts), but its own prompts ask for no harvest (below "
        f"{config.review_harvest_floor:g}): a crowd tied only by what its members send "
        "condemns none of them on that alone, so it is judged on its own evidence and is "
        "not listed with the cluster",
        0.0,
    )


def _without_bystanders(
    clusters: list[ClusterResult],
    bystanders: Mapping[str, str],
    requests: Mapping[str, int] | None,
) -> list[ClusterResult]:
    """The clusters with their bystanders (:func:`_bystanders`) taken off the list, and
    their requests off the cluster's count where the scan knows them."""
    removed: dict[str, list[str]] = defaultdict(list)
    for account_id, cluster_id in bystanders.items():
        removed[cluster_id].append(account_id)
    out = []
    for cluster in clusters:
        gone = removed.get(cluster.cluster_id)
        if not gone:
            out.append(cluster)
            continue
        off = set(gone)
        left = [m for m in cluster.account_ids if m not in off]
        traffic = sum(requests.get(m, 0) for m in gone) if requests is not None else 0
        summary = (
            "1 more account sends its text but asks for no harvest of its own: judged on "
            "its own evidence and not listed"
            if len(gone) == 1
            else f"{len(gone)} more accounts send its text but ask for no harvest of their "
            "own: judged on their own evidence and not listed"
        )
        note = Reason(LEAD_DETECTOR, summary, 0.0)
        out.append(
            replace(
                cluster,
                account_ids=left,
                exchanges=max(0, cluster.exchanges - traffic),
                reasons=[*cluster.reasons, note],
            )
        )
    return out


def _harvest_review_reason(families: list[str], config: ScoringConfig) -> Reason:
    return Reason(
        LEAD_DETECTOR,
        f"its own requests show harvesting in {len(families)} independent families "
        f"({', '.join(families)}), each at or above {config.review_harvest_floor:g}; the "
        "score stays low because the detectors discount its few requests, so a person "
        "should look",
        0.0,
    )


LEAD_DETECTOR = "scoring"
"""Detector name of the notes scoring adds itself: a cluster under review whose members all
stay benign (a lead), and an account put up for review on its own harvest evidence."""


def is_lead(cluster: ClusterResult) -> bool:
    """Whether scoring marked the cluster as a lead (see :func:`_mark_leads`)."""
    return any(reason.detector == LEAD_DETECTOR for reason in cluster.reasons)


def _mark_leads(cluster: ClusterResult, verdict_of: Mapping[str, str]) -> ClusterResult:
    """Say so when a cluster is under review but none of its members is: a crowd (firms
    sharing a public harness, strangers typing the same stock phrase) is worth a look as a
    group, while no account in it reaches review on its own evidence."""
    if cluster.verdict != "review":
        return cluster
    members = set(cluster.account_ids)
    if any(verdict_of.get(m, "benign") != "benign" for m in members):
        return cluster
    note = Reason(
        LEAD_DETECTOR,
        f"a lead, not an accusation: none of its {len(members)} accounts reaches review on "
        "its own evidence, so each stays benign; the group is listed for a person to look at",
        0.0,
    )
    return replace(cluster, reasons=[*cluster.reasons, note])
