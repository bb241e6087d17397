"""DG-205 prompt-signal concentration: most of an account's prompts carry a harvest signal.

One "explain step by step" is ordinary (students ask it all the time); an account whose
prompts *mostly* ask for reasoning traces, reconstructions, grades, tool trajectories or
rewrites, in numbers, is collecting them.  So it is the share and the count that matter,
per signal, and the strongest signal gives the strength:

    per signal s:  ramp(share_p_s, min_share, full_share)
                   × log_ramp(count_p_s, min_count, full_count)
    strength = max over the five signals, any of them, and their mix

A harvester that collects several kinds of output from one account (step-by-step traces,
reconstructed reasoning, rubric grades, censorship-safe rewrites: the 2026 reasoning
campaign asked for all of them) is judged on that mix as well, because a mix of harvest
intents is far rarer in ordinary traffic than any one of them (students ask for steps,
labeling firms for grades; neither asks for both, plus reconstructions and rewrites):

    mix:  ramp(share_p_any, mix_min_share, mix_full_share)
          × ramp(intents, mix_min_intents, mix_full_intents)
          × log_ramp(count_p_any, mix_min_count, mix_full_count)

where ``intents`` is the effective number of signals among the account's signal prompts
(inverse Simpson, ``(Σ c)² / Σ c²`` over the five per-signal counts): 1 when one signal
carries them all, 4 when four carry equal parts.  It lets an account of a few dozen requests
speak: a lone harvester that paraphrases its wrappers and mixes in ordinary chat has too few
prompts of any one kind for the per-signal test.

One customer's own application is normal, though: a tutoring product whose instruction
says "explain every step, then grade the student's answer out of 10" puts a reasoning and a
grading signal on much of what it serves.  Its instruction is its own (no other identity
sends it), in the system prompt (``own_instruction_share`` of the behaviour frame) or written
above every question, where it opens each prompt (``own_preamble_share``); ``own`` is the
larger of the two.  A harvester behind a private cover prompt ("You are Northforge's research
assistant") has one too, so the share alone cannot tell them apart; where the signals come
from can.  The account's requests are read again without the instruction
(:mod:`~distillguard.detectors.behaviour.own_instruction`: a sample of its prompts through
the same classifier, as the features read them and without the instruction), and the same
tests give the strength of each reading on the sample, ``sampled`` and ``without``.  The
share of the strength the instruction explains is discounted:

    explained = max(0, sampled − without) / sampled
    serving   = ramp(active_hours, app_min_hours, app_full_hours)
    strength  = with × (1 − app_discount × ramp(own, app_min_share, app_full_share)
                         × serving × explained)

A tutoring product's questions ask for little on their own, so it keeps 40% at full share;
a harvester's wrappers still ask for reasoning traces, grades and rewrites without its
cover, so it keeps all of it.  The evidence records the share of its strength so explained
(``details["explained"]``), which scoring does not count as a kind of evidence for
`review`.  (DG-205 1.5 estimated the same from how far the account's signal kinds came
together on each request; a tutoring product on a reasoning model whose classifier read
steps on 57% of requests and grades on 22% looked half like alternating wrappers.)

An application serves its users over time, so the discount also needs the account's
traffic spread over several hours (``serving``: distinct hours with requests, 2 → 8).  A job
that sends its whole traffic in an hour or two, behind a cover system prompt that asks for
every step ("You are Northforge Assistant … show every step of your reasoning") on bare
task-pool questions, is no deployed product's traffic: on development seeds of the
`private-instruction` scenario its accounts (22 to 32 requests, each within one hour) kept
none of their prompt evidence, while every tutoring product was active on all 14 days.
(DG-205 1.6 discounted them all the same.)

A fleet that hands one instruction to unrelated accounts is not discounted (its prompt is
not private), and an account that harvests one kind under its own constant instruction
still shows its extraction parameters, volume and sweep.

A prompt carries a signal when its classifier probability exceeds 0.5 (``exchange_features``);
without that table the detector returns nothing.

A campaign that keeps every account under ``min_count`` hides from the per-account test, so
each coordinated cluster (fleet) is judged the same way on its members' pooled prompts, and
the strength is scaled by how far the cluster is split into separate identities
(``fleet_spread``): one company's team, or a few firms sharing a public rubric, pooled say
nothing their members do not say alone, while unrelated identities that together send
mostly harvest prompts are one operation split into small pieces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from distillguard.detectors.base import ATLAS, EXPLAINED, DetectorInfo, Evidence
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
from distillguard.detectors.behaviour.frame import SIGNALS, account_frame
from distillguard.detectors.behaviour.own_instruction import own_instructions, reread, share_of
from distillguard.detectors.context import ScanContext

INFO = DetectorInfo(
    id="DG-205",
    version="1.7",
    name="prompt-signal concentration",
    description=(
        "A large share and count of an account's prompts, or of a fleet's pooled prompts, "
        "carry one harvest signal, or a mix of several."
    ),
    family="prompt",
    atlas=(ATLAS["extract_model"],),
)

SIGNAL_WORDS = {
    "reasoning": "ask for step-by-step reasoning",
    "reconstruct": "ask to reconstruct a hidden reasoning trace",
    "grading": "ask for a grade against a rubric",
    "tool": "ask for a tool-use trajectory",
    "rewrite": "ask to rewrite or paraphrase an answer",
    "any": "ask for a harvestable output (reasoning, grading, tool trajectory or rewrite)",
}
JUDGED = (*SIGNALS, "any", "mix")
"""Each signal alone, any of them (a harvester that mixes intents is still a harvester), and
the mix itself (module docstring)."""


@dataclass(frozen=True)
class Settings:
    """Defaults: a share under 40% is ordinary; a count under 20 is too few to judge."""

    min_share: float = 0.4
    full_share: float = 0.9
    min_count: float = 20.0
    full_count: float = 100.0
    mix_min_share: float = 0.35
    mix_full_share: float = 0.65
    mix_min_intents: float = 1.4
    mix_full_intents: float = 2.5
    mix_min_count: float = 5.0
    mix_full_count: float = 30.0
    """The mix test (module docstring): at least 35% of prompts carry a signal, spread over
    more than 1.4 effective kinds, at least 5 of them; full strength at 65%, 2.5 kinds and 30
    prompts.  There are five signals, so ``mix_min_intents = 5`` with ``mix_full_intents =
    6`` switches it off."""
    app_min_share: float = 0.8
    app_full_share: float = 0.95
    app_discount: float = 0.6
    """The application discount (module docstring): from 80% of requests under the account's
    own system prompt, full at 95%, where the strength keeps 40%."""
    app_min_hours: float = 2.0
    app_full_hours: float = 8.0
    """The discount needs traffic on more than ``app_min_hours`` distinct hours, in full from
    ``app_full_hours`` (module docstring: an application serves its users over time)."""
    emit_above: float = 0.05

    def __post_init__(self) -> None:
        check_range(INFO.id, "share", self.min_share, self.full_share)
        check_range(INFO.id, "count", self.min_count, self.full_count)
        check_range(INFO.id, "mix_share", self.mix_min_share, self.mix_full_share)
        check_range(INFO.id, "mix_intents", self.mix_min_intents, self.mix_full_intents)
        check_range(INFO.id, "mix_count", self.mix_min_count, self.mix_full_count)
        if self.min_count <= 0 or self.mix_min_count <= 0:
            raise ValueError(f"{INFO.id}: min_count and mix_min_count must be positive")
        if self.mix_min_intents < 1.0:
            raise ValueError(f"{INFO.id}: mix_min_intents must be at least 1 (one signal)")
        check_range(INFO.id, "app_share", self.app_min_share, self.app_full_share)
        check_range(INFO.id, "app_hours", self.app_min_hours, self.app_full_hours)
        check_unit(INFO.id, "app_discount", self.app_discount)
        check_unit(INFO.id, "emit_above", self.emit_above)


def detect(context: ScanContext) -> list[Evidence]:
    """Evidence for each account whose prompts concentrate on a harvest signal."""
    settings = load_settings(Settings, INFO.id, context.settings(INFO.id))
    frame = account_frame(context)
    frame = frame[frame["featured_exchanges"].notna()]
    if frame.empty:
        return []
    undiscounted, strongest = _strongest(frame, settings)
    kept = kept_after_discount(context, frame, settings, undiscounted)
    evidence = _account_evidence(frame, undiscounted * kept, strongest, kept, settings)
    return evidence + _fleet_evidence(context, frame, settings, kept)


def _strongest(
    frame: pd.DataFrame, settings: Settings
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Per row: the strongest judged signal's strength (share ramp times count ramp, or the
    mix test) and its position in :data:`JUDGED`."""
    per_signal = np.column_stack(
        [
            *(
                ramp(frame[f"share_p_{name}"], settings.min_share, settings.full_share)
                * log_ramp(frame[f"count_p_{name}"], settings.min_count, settings.full_count)
                for name in (*SIGNALS, "any")
            ),
            ramp(frame["share_p_any"], settings.mix_min_share, settings.mix_full_share)
            * ramp(intents(frame), settings.mix_min_intents, settings.mix_full_intents)
            * log_ramp(frame["count_p_any"], settings.mix_min_count, settings.mix_full_count),
        ]
    )
    return per_signal.max(axis=1), per_signal.argmax(axis=1)


def kept_after_discount(
    context: ScanContext,
    frame: pd.DataFrame,
    settings: Settings,
    undiscounted: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """The share of each row's strength an application's own instruction leaves (module
    docstring): all of it without one; otherwise ``1 − app_discount × ramp(own) ×
    explained``, where ``explained`` is the part of the strength, on a sample of the
    account's requests, that is gone once the instruction is taken out
    (:func:`~distillguard.detectors.behaviour.own_instruction.reread`)."""
    applied = _own_application(frame, settings)
    rows = (applied > 0) & (undiscounted > settings.emit_above)
    kept = np.ones(len(frame))
    if not rows.any():
        return kept
    as_sent, without = reread(context, own_instructions(frame, rows))
    sampled = _strength_from(frame[rows], as_sent, settings)
    unexplained = _strength_from(frame[rows], without, settings)
    explained = np.divide(
        np.clip(sampled - unexplained, 0.0, None),
        sampled,
        out=np.zeros_like(sampled),
        where=sampled > 0,
    )
    kept[rows] = 1.0 - settings.app_discount * applied[rows] * explained
    return kept


def _strength_from(
    frame: pd.DataFrame, shares: pd.DataFrame, settings: Settings
) -> npt.NDArray[np.float64]:
    """The strength of ``frame``'s rows with their signal shares (and counts, the shares of
    their featured prompts) as ``shares`` gives them; rows it lacks keep their own."""
    reading = frame.copy()
    prompts = reading["featured_exchanges"].to_numpy(dtype=np.float64)
    for name in COUNTED:
        column = f"share_p_{name}"
        found = (
            shares[column].reindex(reading["account_id"].astype(str)).to_numpy(dtype=np.float64)
            if column in shares.columns
            else np.full(len(reading), np.nan)
        )
        share = np.where(np.isnan(found), reading[column].to_numpy(dtype=np.float64), found)
        reading[column] = share
        reading[f"count_p_{name}"] = share * prompts
    strength, _ = _strongest(reading, settings)
    return strength


def _own_application(frame: pd.DataFrame, settings: Settings) -> npt.NDArray[np.float64]:
    """How far each account's traffic is one application's own (0 to 1): the ramp of its
    share of requests under its organisation's private instruction (:func:`own_share`),
    times how far it serves over time (the ramp of its distinct active hours)."""
    hours = (
        np.nan_to_num(frame["active_hours"].to_numpy(dtype=np.float64), nan=0.0)
        if "active_hours" in frame.columns
        else np.full(len(frame), settings.app_full_hours)
    )
    serving = ramp(hours, settings.app_min_hours, settings.app_full_hours)
    return np.asarray(
        ramp(own_share(frame), settings.app_min_share, settings.app_full_share) * serving,
        dtype=np.float64,
    )


OWN_SHARES = ("own_instruction_share", "own_preamble_share")
"""The behaviour frame's shares of an account's requests under its own private instruction:
in the system prompt, and written above every question (its prompts' first paragraph)."""


def own_share(frame: pd.DataFrame) -> npt.NDArray[np.float64]:
    """Each row's share of requests under its own private instruction, the larger of
    :data:`OWN_SHARES`; a share the frame lacks (a store without prompt features) counts 0."""
    largest: npt.NDArray[np.float64] = np.zeros(len(frame))
    for name in OWN_SHARES:
        if name in frame.columns:
            share = np.nan_to_num(frame[name].to_numpy(dtype=np.float64), nan=0.0)
            largest = np.maximum(largest, share)
    return largest


def _signal_counts(frame: pd.DataFrame) -> npt.NDArray[np.float64]:
    """Each row's per-signal prompt counts (rows × :data:`SIGNALS`), NaN read as 0."""
    counts: npt.NDArray[np.float64] = np.nan_to_num(
        frame[[f"count_p_{name}" for name in SIGNALS]].to_numpy(dtype=np.float64), nan=0.0
    )
    return counts


def intents(frame: pd.DataFrame) -> npt.NDArray[np.float64]:
    """Effective number of signals among each row's signal prompts: ``(Σ c)² / Σ c²`` over
    the per-signal counts (inverse Simpson), 0 where no prompt carries a signal."""
    counts = _signal_counts(frame)
    total = counts.sum(axis=1)
    squares = (counts**2).sum(axis=1)
    mixed: npt.NDArray[np.float64] = np.divide(
        total**2, squares, out=np.zeros_like(total), where=squares > 0
    )
    return mixed


COUNTED = (*SIGNALS, "any")
"""The signals whose per-account counts and shares the frame holds."""


def _what_is_asked(row: Any, top: str, total: float) -> tuple[str, float, float]:
    """The strongest judged signal in words (``57% of 53 prompts ask for …``), with its
    share and count; for the mix, every signal's count, largest first."""
    if top != "mix":
        share = float(getattr(row, f"share_p_{top}"))
        counted = float(getattr(row, f"count_p_{top}"))
        words = (
            f"{percent(share)} of {count(total)} prompts {SIGNAL_WORDS[top]} "
            f"({count(counted)} prompts"
        )
        return words, share, counted
    share = float(row.share_p_any)
    counted = float(row.count_p_any)
    per_signal = sorted(
        ((int(getattr(row, f"count_p_{name}")), name) for name in SIGNALS),
        key=lambda pair: (-pair[0], pair[1]),
    )
    kinds = ", ".join(f"{c} {name}" for c, name in per_signal if c > 0)
    words = (
        f"{percent(share)} of {count(total)} prompts ask for harvestable outputs of several "
        f"kinds ({kinds}; {count(counted)} prompts"
    )
    return words, share, counted


def _fleet_evidence(
    context: ScanContext,
    frame: pd.DataFrame,
    settings: Settings,
    kept: npt.NDArray[np.float64],
) -> list[Evidence]:
    """The same test on each coordinated cluster's pooled prompts, scaled by its identity
    spread.  Each member's prompts keep what its own application's discount leaves them
    (``kept``, one share per row), so the pooled test keeps the prompt-weighted mean:
    two tutoring products that label each question alike pool into a crowd of products,
    each explained by its own instruction, not into a harvesting fleet."""
    from distillguard.detectors.coordination import find_clusters
    from distillguard.detectors.coordination.scoring import fleet_spread, tied_by_content_only

    findings = find_clusters(context)
    # Each member's row position, and the counts as plain arrays: selecting each fleet's
    # rows from the frame by label was a fifth of this detector's profile samples over
    # 9,458 fleets at 16M exchanges (py-spy under cProfile).
    row_of = {str(account): row for row, account in enumerate(frame["account_id"])}
    columns = ["featured_exchanges", *(f"count_p_{name}" for name in COUNTED)]
    counts = frame[columns].to_numpy(dtype=np.float64)
    prompts = np.nan_to_num(counts[:, 0], nan=0.0)
    rows = []
    pooled_kept = []
    for cid in sorted(findings.clusters):
        members = [row_of[m] for m in findings.clusters[cid] if m in row_of]
        profile = findings.profiles.get(cid)
        spread = fleet_spread(profile) if profile is not None else 0.0
        if profile is None or len(members) < 2 or spread <= 0:
            continue
        # Whole numbers: the sums do not depend on the order of adding (NaN counts as 0,
        # as in pandas).
        sums = np.nansum(counts[members], axis=0)
        total = float(sums[0])
        if total <= 0:
            continue
        row: dict[str, object] = {"subject": cid, "members": len(members), "total": total}
        row["spread"] = spread
        pooled_kept.append(pooled_share_kept(prompts[members], kept[members]))
        # A fleet tied only by what it sends: its harvest signals and its tie are one
        # observation (a stock phrase that asks for reasoning), so they are one family.
        row["family"] = "template" if tied_by_content_only(profile) else INFO.family
        for offset, name in enumerate(COUNTED, start=1):
            counted = float(sums[offset])
            row[f"count_p_{name}"] = counted
            row[f"share_p_{name}"] = counted / total
        rows.append(row)
    if not rows:
        return []
    pooled = pd.DataFrame(rows)
    strength, strongest = _strongest(pooled, settings)
    strength = strength * np.asarray(pooled_kept) * pooled["spread"].to_numpy()
    evidence = []
    for position, fleet in enumerate(pooled.itertuples(index=False)):
        value = float(strength[position])
        if value <= settings.emit_above:
            continue
        top = JUDGED[int(strongest[position])]
        words, share, counted = _what_is_asked(fleet, top, float(fleet.total))
        evidence.append(
            Evidence(
                detector=INFO.id,
                family=str(fleet.family),
                subject=str(fleet.subject),
                subject_kind="cluster",
                strength=rounded(value),
                summary=(
                    f"pooled over the fleet's {int(fleet.members)} accounts, {words}; "
                    f"identity spread {float(fleet.spread):.2f})"
                ),
                details={
                    "signal": top,
                    "members": int(fleet.members),
                    "featured_exchanges": int(fleet.total),
                    "share": rounded(share),
                    "count": int(counted),
                    "spread": rounded(float(fleet.spread)),
                },
            )
        )
    return evidence


def pooled_share_kept(prompts: npt.NDArray[np.float64], kept: npt.NDArray[np.float64]) -> float:
    """What a fleet's pooled test keeps: its members' ``kept`` shares, weighted by how many
    featured prompts each member adds to the pool."""
    weights = prompts / prompts.sum()
    return float(weights @ kept)


def _application_words(own: float, kept: float, place: str = "system prompt") -> str:
    """The discount in words, when it applies (module docstring): ``own`` is the account's
    share under its own instruction (:func:`own_share`), ``place`` where that instruction
    is written, ``kept`` the share of its strength left."""
    if kept >= 1.0:
        return ""
    return (
        f"; {percent(own)} of its requests carry its organisation's own {place}, "
        f"an application's instruction (strength kept at {percent(kept)})"
    )


def _account_evidence(
    frame: pd.DataFrame,
    strength: npt.NDArray[np.float64],
    strongest: npt.NDArray[np.int64],
    kept: npt.NDArray[np.float64],
    settings: Settings,
) -> list[Evidence]:
    """One piece of evidence per account above ``emit_above`` (``strength`` already
    discounted; ``kept``: the share each account keeps)."""
    mixes = intents(frame)
    evidence: list[Evidence] = []
    for position, row in enumerate(frame.itertuples(index=False)):
        value = float(strength[position])
        if value <= settings.emit_above:
            continue
        top = JUDGED[int(strongest[position])]
        total = float(row.featured_exchanges)
        words, _, _ = _what_is_asked(row, top, total)
        details: dict[str, object] = {
            "signal": top,
            "featured_exchanges": int(total),
            "distinct_templates": int(row.distinct_templates),
            "distinct_wrappers": int(row.distinct_wrappers),
            "top_wrapper_share": rounded(row.top_wrapper_share),
        }
        details["intents"] = rounded(mixes[position])
        in_system, above = (share_of(row, name) for name in OWN_SHARES)
        details["own_instruction_share"] = rounded(in_system)
        details["own_preamble_share"] = rounded(above)
        own, place = (
            (in_system, "system prompt")
            if in_system >= above
            else (above, "instruction above each question")
        )
        for name in COUNTED:
            details[f"share_p_{name}"] = rounded(getattr(row, f"share_p_{name}"))
            details[f"count_p_{name}"] = int(getattr(row, f"count_p_{name}"))
        # How much of the undiscounted strength the application explains (scoring reads
        # it: evidence mostly explained does not put a small account up for review).
        details[EXPLAINED] = rounded(1.0 - float(kept[position]))
        evidence.append(
            Evidence(
                detector=INFO.id,
                family=INFO.family,
                subject=str(row.account_id),
                strength=rounded(value),
                summary=(
                    f"{words}; {int(row.distinct_wrappers)} distinct wrappers, the top one on "
                    f"{percent(row.top_wrapper_share)})"
                    + _application_words(own, float(kept[position]), place)
                ),
                details=details,
            )
        )
    return evidence
