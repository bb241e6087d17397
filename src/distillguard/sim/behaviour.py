"""How each population and each campaign playbook behaves: what it asks, when, with what.

A `Behaviour` is pure data; the account builder and the exchange generator read it.  The
benign populations include the hard negatives a real provider sees, each built to trip a
naive detector: enterprise apps (one template, huge volume, cloud addresses, 24/7),
corporate teams behind one NAT and card, education cohorts that sign up together and ask
"step by step", benchmark companies that re-run the same public benchmark suites (the same
items for every team) on a new model within hours of its release, agentic developers with
long tool-use sessions and big max_tokens, labelling firms that send rubric-grading prompts
all day, and proxy-reseller customers who share a residential proxy pool with harvesters,
VPN users who share exit addresses, solo developers who run their own fixed template in
bulk from a rented server, and reasoning power users (olympiad trainers, researchers trying
self-consistency) who send hard one-shot problems with the largest budget, high reasoning
effort and several samples each: on parameters alone, a lone harvester.  Exam-prep users
(students and professionals studying with a reasoning model, at its largest budget) ask for
steps, have their own attempts graded, ask how a textbook's answer is reached and have their
writing rewritten: on the *mix* of what they ask, a lone reasoning harvester too.  Tutoring
products are companies whose own instruction (in the system prompt, or for half of them
above every question) tells the model to explain every step and to grade the student's
answer out of 10, and two in five of which call a reasoning model at its largest budget and
high effort (worked solutions are what they sell): on what their every request asks for,
and for some on parameters too, a harvester.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Behaviour:
    """Traffic shape of one population or playbook."""

    mix: tuple[tuple[str, str, float], ...]
    """(prompt kind, intent, weight): intent says how the prompt is phrased."""
    per_account: float
    """Mean exchanges per account over the window (before any cap)."""
    session: str
    """``conversation`` (turns of one item), ``batch`` (scripted run of items) or ``single``."""
    session_len: float
    """Turn cap for conversations, mean run length for batches."""
    timing: str
    """Hour-of-day shape: ``evening``, ``workday``, ``app``, ``flat`` or ``windows``."""
    weekend: float
    """Weekend volume relative to weekdays."""
    adoption: tuple[float, float, float]
    """New-model uptake after release: (delay hours, final share, time constant hours)."""
    mini_share: float
    """Share of traffic sent to the small model."""
    volume_sigma: float
    """Spread (lognormal sigma) of per-account volume within the population."""
    gap_seconds: float
    """Typical gap between requests inside a session."""


CASUAL_MIX = (
    ("chat_en", "plain", 0.60),
    ("chat_zh", "plain", 0.08),
    ("chat_ru", "plain", 0.04),
    ("math", "homework", 0.06),
    ("code", "plain", 0.07),
    ("hard_instruct", "plain", 0.13),
    ("chat_en", "photo", 0.02),
)

BENIGN: dict[str, Behaviour] = {
    "casual_chat": Behaviour(
        CASUAL_MIX, 14, "conversation", 6, "evening", 1.2, (24, 0.5, 72), 0.25, 1.1, 90
    ),
    "enterprise_app": Behaviour(
        (("chat_en", "app", 0.55), ("tool_use", "app", 0.3), ("code", "app", 0.15)),
        6000,
        "single",
        1,
        "app",
        0.7,
        (96, 0.2, 96),
        0.4,
        0.8,
        1,
    ),
    "tutoring_app": Behaviour(
        (
            ("math", "app", 0.5),
            ("exam_zh", "app", 0.1),
            ("hard_instruct", "app", 0.2),
            ("chat_en", "app", 0.2),
        ),
        1500,
        "single",
        1,
        "evening",
        1.0,
        (96, 0.2, 96),
        0.3,
        0.8,
        1,
    ),
    "corporate_nat_team": Behaviour(
        (
            ("code", "plain", 0.4),
            ("chat_en", "plain", 0.35),
            ("hard_instruct", "plain", 0.15),
            ("tool_use", "plain", 0.1),
        ),
        90,
        "conversation",
        5,
        "workday",
        0.15,
        (12, 0.5, 48),
        0.2,
        0.9,
        120,
    ),
    "education_cohort": Behaviour(
        (
            ("math", "homework", 0.55),
            ("code", "homework", 0.15),
            ("chat_en", "plain", 0.2),
            ("hard_instruct", "plain", 0.1),
        ),
        40,
        "conversation",
        3,
        "evening",
        0.9,
        (48, 0.3, 96),
        0.5,
        0.8,
        150,
    ),
    "benchmark_company": Behaviour(
        (
            ("math", "benchmark", 0.35),
            ("code", "benchmark", 0.2),
            ("exam_zh", "benchmark", 0.15),
            ("hard_instruct", "benchmark", 0.15),
            ("chat_en", "benchmark", 0.15),
        ),
        2500,
        "batch",
        200,
        "flat",
        1.0,
        (1, 0.95, 3),
        0.1,
        0.5,
        2,
    ),
    "agentic_developer": Behaviour(
        (("agentic_code", "plain", 0.45), ("tool_use", "plain", 0.2), ("code", "plain", 0.35)),
        450,
        "conversation",
        12,
        "workday",
        0.4,
        (2, 0.6, 24),
        0.05,
        0.9,
        25,
    ),
    "indie_automation": Behaviour(
        (("chat_en", "app", 0.6), ("hard_instruct", "app", 0.15), ("code", "app", 0.25)),
        900,
        "batch",
        50,
        "flat",
        1.0,
        (48, 0.3, 48),
        0.6,
        1.0,
        1.5,
    ),
    "labeling_firm": Behaviour(
        (("grading", "plain", 0.85), ("chat_en", "plain", 0.15)),
        350,
        "batch",
        30,
        "workday",
        0.2,
        (72, 0.2, 72),
        0.3,
        0.6,
        60,
    ),
    # They paste problems as they are; running a public benchmark harness is what
    # benchmark_company does.  (In a world of a few thousand accounts, a public harness run by
    # a handful of individuals looks like a private wrapper; at a provider's scale it is shared
    # by thousands and weighs nothing as a tie.)
    "reasoning_power_user": Behaviour(
        (
            ("math", "homework", 0.3),
            ("math", "plain", 0.25),
            ("hard_instruct", "plain", 0.15),
            ("exam_zh", "plain", 0.05),
            ("code", "plain", 0.2),
            ("chat_en", "plain", 0.05),
        ),
        120,
        "single",
        1,
        "evening",
        1.2,
        (4, 0.6, 24),
        0.0,
        1.0,
        60,
    ),
    "exam_prep_user": Behaviour(
        (
            ("math", "homework", 0.25),
            ("math", "self_check", 0.2),
            ("math", "explain_answer", 0.15),
            ("exam_zh", "plain", 0.1),
            ("chat_en", "revise", 0.15),
            ("hard_instruct", "plain", 0.1),
            ("chat_en", "plain", 0.05),
        ),
        60,
        "single",
        1,
        "evening",
        1.1,
        (12, 0.5, 48),
        0.05,
        1.0,
        90,
    ),
    "proxy_reseller_customer": Behaviour(
        (*CASUAL_MIX[:3], ("code", "plain", 0.15), ("hard_instruct", "plain", 0.1)),
        45,
        "conversation",
        6,
        "evening",
        1.1,
        (24, 0.5, 72),
        0.3,
        1.0,
        90,
    ),
}

PLAYBOOKS: dict[str, Behaviour] = {
    "reasoning_cot": Behaviour(
        (
            ("math", "cot", 0.33),
            ("hard_instruct", "cot", 0.1),
            ("exam_zh", "cot", 0.08),
            ("math", "reconstruct", 0.12),
            ("grading", "grading", 0.2),
            ("chat_en", "censor_safe", 0.09),
            ("chat_zh", "censor_safe", 0.08),
        ),
        500,
        "batch",
        25,
        "windows",
        1.0,
        (6, 0.35, 24),
        0.0,
        0.4,
        4,
    ),
    "agentic_multipath": Behaviour(
        (
            ("tool_use", "tool", 0.33),
            ("code", "code", 0.2),
            ("agentic_code", "tool", 0.1),
            ("hard_instruct", "cot", 0.12),
            ("chat_en", "vision", 0.1),
            ("math", "cot", 0.05),
            ("chat_zh", "cot", 0.1),
        ),
        600,
        "batch",
        8,
        "flat",
        1.0,
        (10, 0.4, 36),
        0.0,
        0.5,
        8,
    ),
    "agentic_coding_pivot": Behaviour(
        (("agentic_code", "tool", 0.5), ("code", "code", 0.3), ("tool_use", "tool", 0.2)),
        900,
        "batch",
        12,
        "flat",
        1.0,
        (1, 0.55, 8),
        0.0,
        0.4,
        3,
    ),
}

HOURLY: dict[str, tuple[float, ...]] = {
    "evening": (
        1.0,
        0.6,
        0.4,
        0.3,
        0.3,
        0.4,
        0.8,
        1.5,
        2.5,
        3.0,
        3.2,
        3.4,
        3.5,
        3.4,
        3.3,
        3.4,
        3.6,
        3.9,
        4.3,
        4.8,
        5.0,
        4.6,
        3.6,
        2.2,
    ),
    "workday": (
        0.2,
        0.1,
        0.1,
        0.1,
        0.1,
        0.2,
        0.5,
        1.5,
        4.0,
        6.0,
        6.5,
        6.2,
        5.0,
        5.8,
        6.3,
        6.0,
        5.2,
        3.5,
        1.8,
        1.2,
        1.0,
        0.8,
        0.5,
        0.3,
    ),
    "app": (
        1.2,
        1.0,
        0.9,
        0.8,
        0.8,
        0.9,
        1.2,
        1.7,
        2.3,
        2.7,
        2.9,
        3.0,
        3.0,
        3.0,
        2.9,
        2.9,
        2.9,
        2.8,
        2.7,
        2.6,
        2.4,
        2.1,
        1.8,
        1.5,
    ),
    "flat": (1.0,) * 24,
}
"""Relative request volume per local hour of day."""
