"""Named traffic scenarios: who is on the platform, which campaigns run, which tactics they use.

The campaign shapes follow what was reported in 2026: a reasoning-trace campaign (chain of
thought, rubric grading, censorship-safe rewrites; ~1% of the harvest volume), an agentic
campaign over hundreds of accounts and several access pathways (tool use, coding, vision;
~21%) and an agentic-coding campaign at volume that moved about half its traffic to a new
model within a day of its release (~78%).  Evasion knobs can be switched on per campaign.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from distillguard.errors import UserError


@dataclass(frozen=True)
class Evasion:
    """Tactics a campaign may use to look like ordinary customers."""

    proxies: str = "datacenter"
    """``datacenter`` (a few hosting /24s), ``residential`` (rotating through home ranges that
    ordinary customers of a proxy reseller share) or ``mixed``."""
    replace_banned: bool = False
    """Accounts live a few days and are replaced by fresh ones inheriting some infrastructure."""
    daily_cap: int | None = None
    """Low and slow: no account sends more than this per day (more accounts carry the volume)."""
    paraphrase: bool = False
    """Wrappers paraphrased per request instead of a few fixed templates."""
    mix_benign: float = 0.0
    """Share of each campaign account's traffic that is unrelated ordinary chat."""
    staggered_signups: bool = False
    """Sign-ups spread over months instead of a burst."""
    unique_payment: bool = False
    """One payment instrument per account instead of a few shared cards."""
    human_timing: bool = False
    """Diurnal, jittered timing instead of scripted batches in shared windows."""
    varied_clients: bool = False
    """Different SDKs, versions and sampling parameters per account."""
    private_system: bool = False
    """Each account sends a constant system prompt of its own, dressed as a small company's
    assistant, on every request that has none of its own (a tool wrapper keeps its place):
    the cover of an application's standing instruction, which ordinary companies' products
    send and the prompt-signal test discounts."""
    instruction_in_system: bool = False
    """The step-by-step instruction moves into that cover system prompt (implies
    ``private_system``), and the reasoning-trace and code requests carry the bare task: the
    shape of a tutoring product's own "explain every step" instruction on its students'
    questions, which the prompt-signal test discounts as the application's own."""


@dataclass(frozen=True)
class CampaignSpec:
    """One distillation campaign: its playbook, its share of the harvest, its tactics."""

    name: str
    playbook: str
    share: float
    evasion: Evasion = field(default_factory=Evasion)


@dataclass(frozen=True)
class Scenario:
    """Everything the simulator needs besides the seed and the number of exchanges."""

    name: str
    description: str
    days: int = 14
    release_hour: float = 7 * 24 + 17
    """Hours after the window starts when the new model is released."""
    harvest_share: float = 0.25
    """Share of all exchanges that belong to campaigns."""
    campaigns: tuple[CampaignSpec, ...] = ()
    benign_shares: tuple[tuple[str, float], ...] = (
        ("casual_chat", 0.32),
        ("enterprise_app", 0.16),
        ("indie_automation", 0.04),
        ("corporate_nat_team", 0.09),
        ("education_cohort", 0.08),
        ("benchmark_company", 0.07),
        ("agentic_developer", 0.12),
        ("labeling_firm", 0.05),
        ("proxy_reseller_customer", 0.08),
        ("reasoning_power_user", 0.03),
        ("exam_prep_user", 0.02),
        ("tutoring_app", 0.03),
    )


REPORTED_SHARES = {
    "reasoning_cot": 0.009,
    "agentic_multipath": 0.206,
    "agentic_coding_pivot": 0.785,
}
"""Shares of the harvest volume, from ~150k, ~3.4M and ~13M reported exchanges."""


def _reported(evasions: dict[str, Evasion]) -> tuple[CampaignSpec, ...]:
    return tuple(
        CampaignSpec(name, name, share, evasions.get(name, Evasion()))
        for name, share in REPORTED_SHARES.items()
    )


AS_REPORTED = {
    "reasoning_cot": Evasion(proxies="datacenter"),
    "agentic_multipath": Evasion(proxies="residential", varied_clients=True, mix_benign=0.1),
    "agentic_coding_pivot": Evasion(proxies="datacenter", replace_banned=True),
}
ALL_EVASIONS = Evasion(
    proxies="residential",
    replace_banned=True,
    daily_cap=60,
    paraphrase=True,
    mix_benign=0.3,
    staggered_signups=True,
    unique_payment=True,
    human_timing=True,
    varied_clients=True,
    private_system=True,
)


def _evasive(instruction_in_system: bool = False) -> tuple[CampaignSpec, ...]:
    """The reported campaigns with every evasion knob (the coding pivot uncapped, the others
    at 60 a day), the step-by-step instruction in the cover system prompt if asked."""
    return _reported(
        {
            c: replace(
                ALL_EVASIONS,
                daily_cap=None if c == "agentic_coding_pivot" else 60,
                instruction_in_system=instruction_in_system,
            )
            for c in REPORTED_SHARES
        }
    )


def _randomized_evasion(rng: np.random.Generator) -> Evasion:
    return Evasion(
        proxies=("datacenter", "residential", "mixed")[int(rng.integers(3))],
        replace_banned=bool(rng.random() < 0.5),
        daily_cap=int(rng.choice([40, 80, 150])) if rng.random() < 0.4 else None,
        paraphrase=bool(rng.random() < 0.5),
        mix_benign=float(rng.choice([0.0, 0.15, 0.35])),
        staggered_signups=bool(rng.random() < 0.5),
        unique_payment=bool(rng.random() < 0.5),
        human_timing=bool(rng.random() < 0.4),
        varied_clients=bool(rng.random() < 0.5),
        private_system=bool(rng.random() < 0.3),
    )


SCENARIOS: dict[str, str] = {
    "reported-2026": "The three 2026 campaigns with the tactics reported for each.",
    "evasive": "The same campaigns with every evasion knob switched on.",
    "low-and-slow": (
        "Capped per-account volume, staggered sign-ups, unique payments, residential proxies."
    ),
    "hydra-proxy": (
        "A proxy reseller runs thousands of harvesting accounts mixed with its ordinary customers."
    ),
    "randomized": (
        "Each campaign draws its own evasion knobs from the seed (for held-out evaluation)."
    ),
    "benign-only": (
        "Only legitimate customers, hard negatives included: every flag is a false positive."
    ),
    "private-instruction": (
        "The evasive campaigns, each account asking for step-by-step answers through its own "
        "cover system prompt and sending bare tasks: an application's standing instruction."
    ),
    "lone-harvesters": (
        "A small reasoning-trace campaign of unlinkable accounts (every evasion knob), each "
        "sending a few dozen requests: lone harvesters, judged on their own evidence."
    ),
}


def build_scenario(name: str, seed: int) -> Scenario:
    """The named scenario; ``randomized`` draws knobs from ``seed`` so each seed differs."""
    if name not in SCENARIOS:
        known = ", ".join(SCENARIOS)
        raise UserError(f"unknown scenario {name!r}; choose one of: {known}")
    description = SCENARIOS[name]
    if name == "reported-2026":
        return Scenario(name, description, campaigns=_reported(AS_REPORTED))
    if name == "evasive":
        return Scenario(name, description, campaigns=_evasive())
    if name == "low-and-slow":
        slow = Evasion(
            proxies="residential",
            daily_cap=25,
            staggered_signups=True,
            unique_payment=True,
            human_timing=True,
        )
        return Scenario(name, description, campaigns=_reported({c: slow for c in REPORTED_SHARES}))
    if name == "hydra-proxy":
        hydra = Evasion(
            proxies="residential",
            daily_cap=30,
            unique_payment=True,
            varied_clients=True,
            mix_benign=0.2,
            replace_banned=True,
        )
        campaigns = (
            CampaignSpec("hydra_network", "agentic_multipath", 0.8, hydra),
            CampaignSpec("reasoning_cot", "reasoning_cot", 0.2, AS_REPORTED["reasoning_cot"]),
        )
        benign = tuple(
            (p, s * (2.0 if p == "proxy_reseller_customer" else 1.0))
            for p, s in Scenario("", "").benign_shares
        )
        return Scenario(name, description, campaigns=campaigns, benign_shares=benign)
    if name == "private-instruction":
        return Scenario(name, description, campaigns=_evasive(instruction_in_system=True))
    if name == "lone-harvesters":
        unlinked = replace(ALL_EVASIONS, daily_cap=None)
        return Scenario(
            name,
            description,
            harvest_share=0.005,
            campaigns=(CampaignSpec("reasoning_cot", "reasoning_cot", 1.0, unlinked),),
        )
    if name == "randomized":
        rng = np.random.default_rng([seed, 9001])
        return Scenario(
            name,
            description,
            campaigns=tuple(
                CampaignSpec(c, c, share, _randomized_evasion(rng))
                for c, share in REPORTED_SHARES.items()
            ),
        )
    return Scenario(name, description, harvest_share=0.0, campaigns=())
