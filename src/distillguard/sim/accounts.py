"""Simulated accounts: who signs up, from where, how they pay, and how much they send.

Accounts of every population are built here with their sign-up record (the contract's
`accounts` table), the infrastructure their requests come from, and their expected volume
per day.  Ids are random and drawn after all populations are mixed, so nothing in an id,
an order or a name tells which population an account belongs to.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from distillguard.sim import infra, wrappers
from distillguard.sim.behaviour import BENIGN, PLAYBOOKS, Behaviour
from distillguard.sim.fastrandom import FastRandom
from distillguard.sim.scenarios import CampaignSpec, Evasion, Scenario
from distillguard.sim.wrappers import house_line

DAY = 86400.0
HOUR = 3600.0


@dataclass(slots=True)
class SimAccount:
    """One simulated account and everything the generator needs to make its traffic."""

    population: str
    label: str
    campaign: str | None
    behaviour: Behaviour
    group: int
    country: str
    tz_hours: float
    created_at: float
    organization_id: str | None
    email_domain: str
    payment_fingerprint: str | None
    verification: str
    program: str
    signup_ip: str
    user_agent: str
    params: dict[str, object]
    active_from: float = 0.0
    active_to: float = 0.0
    volume: float = 0.0
    ips: tuple[str, ...] = ()
    proxy_pool: int = -1
    system_prompt: str | None = None
    app_tools: list[dict[str, str]] | None = None
    app_template: str | None = None
    harness: int = 0
    wrapper_variant: int = 0
    mix_benign: float = 0.0
    human_timing: bool = True
    paraphrase: bool = False
    instruction_in_system: bool = False
    """The campaign's step-by-step instruction rides in ``system_prompt``; its reasoning-trace
    and code requests carry the bare task (evasion ``instruction_in_system``)."""
    house: str = ""
    """A campaign's standing instruction in its harvesting wrappers (see ``wrappers``)."""
    habit: str = ""
    """A customer's own standing instruction after many of their questions (``HABITS``)."""
    day_boost: dict[int, float] = field(default_factory=dict)
    account_id: str = ""
    api_key_id: str = ""


@dataclass
class World:
    """All accounts plus the shared infrastructure pools and the campaign timing windows."""

    accounts: list[SimAccount]
    proxy_pools: list[list[str]]
    windows: dict[int, list[tuple[float, float]]]
    """Per group id of synchronised campaigns: (start hour UTC, length hours) each day."""


APP_SYSTEMS = (
    "You are the customer support assistant for {org}. Answer politely, cite the help centre, "
    "and hand off to a human agent for refunds over $500.",
    "You are {org}'s internal knowledge assistant. Use the provided tools to look up records "
    "before answering. Never reveal internal ticket numbers.",
    "You are a writing assistant embedded in {org}'s document editor. Keep answers concise.",
    "You are {org}'s code review bot. Comment on the diff, flag bugs and security issues.",
)
COVER_SYSTEMS = (
    "You are {org} Assistant, the AI helper of {org}. Answer accurately and completely.",
    "You are the assistant inside {org}'s productivity app. Be helpful, thorough and clear.",
    "You are {org}'s research assistant. Give complete, well-structured answers.",
    "You are a friendly assistant for {org} customers. Answer every question in full.",
)
"""A campaign account's own cover instruction (evasion ``private_system``): a made-up small
company's assistant, naming the company, so that no other identity sends the same text."""
HARVEST_SYSTEM_INSTRUCTIONS = (
    "Always think through the problem step by step and show every step of your reasoning "
    "before the final answer.",
    "Work through each task in full: lay out your complete chain of reasoning, then give the "
    "final answer on its own line.",
    "Explain your reasoning step by step, checking each step, before you answer.",
    "Show all of your work: every intermediate step, every check, then the result.",
)
"""A campaign's step-by-step instruction written into its cover system prompt (evasion
``instruction_in_system``); its reasoning-trace and code requests then carry the bare task."""
TUTOR_OPENINGS = (
    "You are {org} Tutor, the {subject} study assistant of {org}.",
    "You are the homework helper inside {org}'s {subject} app.",
    "You are {org}'s {subject} coach for high-school students.",
)
TUTOR_STEPS = (
    "Always explain every step of the solution in detail before the final answer.",
    "Walk the student through the reasoning one step at a time, then state the answer.",
    "Show the complete working, step by step, and end with the final answer.",
)
TUTOR_GRADING = (
    "When a student submits an answer, grade it against the rubric (method, accuracy, "
    "clarity) with a score out of 10.",
    "If the student gives their own attempt, mark it out of 10 using the rubric and explain "
    "each deduction.",
    "Score submitted answers from 1 to 10 against the marking scheme and justify the score.",
)
TUTOR_SUBJECTS = ("maths", "physics", "chemistry", "SAT prep", "algebra", "exam revision")
TUTOR_TEMPLATES = ("Student question:\n{q}", "{q}", "Homework help request #{n}:\n{q}")
"""How a tutoring product frames each student question.  Its own instruction (the reasoning
and grading a harvester asks for) is written once by the company, into the system prompt or,
for half the companies, above the question, and rides on every request it serves."""


def tutor_instruction(org: str, pick: Callable[[tuple[str, ...]], str]) -> str:
    """One tutoring company's standing instruction (its system prompt, or the text above
    every question): its name throughout, so no other company sends the same text."""
    subject = pick(TUTOR_SUBJECTS)
    return " ".join(
        (
            pick(TUTOR_OPENINGS).format(org=org, subject=subject),
            pick(TUTOR_STEPS),
            pick(TUTOR_GRADING),
            f"Keep the tone encouraging; {org} serves students aged 14 to 18.",
        )
    )


INDIE_TEMPLATES = (
    "Classify the sentiment of the following text as positive, negative or neutral.\n\n{q}",
    "Translate into French:\n{q}",
    "Extract every named entity from this text as JSON.\n{q}",
    "Write a one-sentence summary of:\n{q}",
    "Answer with yes or no only. Is the following a question about programming?\n{q}",
    "Generate three search keywords for: {q}",
)
"""A solo developer's own script: one fixed template, run in bulk. Normal for one account."""
APP_TEMPLATES = (
    "Customer message:\n{q}",
    "{q}",
    "Summarize the following for the account team, then list action items.\n\n{q}",
    "Ticket #{n}: {q}",
)


def _lognormal_weights(rng: FastRandom, n: int, sigma: float) -> np.ndarray:
    return np.asarray(rng.lognormal(0.0, sigma, size=n), dtype=float)


class AccountBuilder:
    """Builds every population of a scenario; one instance per simulation."""

    def __init__(
        self, scenario: Scenario, total_exchanges: int, seed: int, campaign_seed: int | None = None
    ) -> None:
        self.scenario = scenario
        self.campaign_seed = campaign_seed
        """When set, each campaign's infrastructure, cards, domains, client and wrappers come
        from this seed and the campaign's name, not from ``seed``: two providers simulated
        with different seeds are then hit by the same campaigns."""
        self.total = total_exchanges
        self.seed = seed
        self.rng = FastRandom(seed * 7_919 + 1)
        self.cover_rng = FastRandom(seed * 7_919 + 2)
        """Draws for campaigns' cover prompts alone, so that switching evasion
        ``private_system`` on changes the prompts and nothing else in the world."""
        self.wrapper_rng = FastRandom(seed * 7_919 + 3)
        """Draws for where a tutoring product writes its instruction (system prompt or user
        text) alone, for the same reason."""
        self.window_hours = scenario.days * 24.0
        self.window_start = 0.0
        self.accounts: list[SimAccount] = []
        self.groups = 0
        self.windows: dict[int, list[tuple[float, float]]] = {}
        residential = infra.random_ipv4_in(
            infra.all_residential_prefixes(),
            self.rng,
            max(2000, min(200_000, total_exchanges // 40)),
        )
        vpn_exits = infra.random_ipv4_in(infra.HOSTING_PREFIXES, self.rng, 400)
        self.proxy_pools: list[list[str]] = [residential, vpn_exits]
        """Pool 0: a residential proxy network; pool 1: commercial VPN exits (both shared by
        many ordinary customers); campaign pools follow."""

    # -- helpers ---------------------------------------------------------------------

    def _new_group(self) -> int:
        self.groups += 1
        return self.groups

    def _pick(self, options: tuple[str, ...] | list[str], weights: np.ndarray | None = None) -> str:
        if weights is None:
            return options[int(self.rng.integers(len(options)))]
        return str(self.rng.choices(options, weights=weights.tolist())[0])

    def _hex(self, n: int = 16) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def _country(self) -> str:
        return self._pick(infra.COUNTRY_CODES, infra.CASUAL_COUNTRY_WEIGHTS)

    def _tz(self, country: str) -> float:
        return infra.COUNTRIES[country][0] + float(self.rng.choice([-1.0, 0.0, 0.0, 1.0]))

    def _created_before(self, max_days: float, min_days: float = 0.0) -> float:
        return -float(self.rng.uniform(min_days, max_days)) * DAY

    def _volume_split(
        self, behaviour: Behaviour, target: float, accounts: list[SimAccount]
    ) -> None:
        weights = _lognormal_weights(self.rng, len(accounts), behaviour.volume_sigma)
        weights /= weights.sum()
        for account, weight in zip(accounts, weights.tolist(), strict=True):
            account.volume = target * weight

    def _count_for(self, behaviour: Behaviour, target: float, minimum: int) -> int:
        return max(minimum, round(target / behaviour.per_account))

    def _casual_params(self) -> dict[str, object]:
        params: dict[str, object] = {"stream": bool(self.rng.random() < 0.7)}
        if self.rng.random() < 0.6:
            params["temperature"] = float(self.rng.choice([0.2, 0.5, 0.7, 1.0]))
        if self.rng.random() < 0.3:
            params["max_tokens"] = int(self.rng.choice([512, 1024, 2048, 4096]))
        return params

    # -- benign populations ----------------------------------------------------------

    def _individual(
        self, population: str, target: float, *, proxy: bool = False
    ) -> list[SimAccount]:
        behaviour = BENIGN[population]
        made: list[SimAccount] = []
        for _ in range(self._count_for(behaviour, target, 20)):
            country = self._pick(("CN", "CN", "RU")) if proxy else self._country()
            paid = self.rng.random() < 0.35
            new_signup = self.rng.random() < 0.06
            account = SimAccount(
                population=population,
                label="benign",
                campaign=None,
                behaviour=behaviour,
                group=self._new_group(),
                country=country,
                tz_hours=self._tz(country),
                created_at=(
                    float(self.rng.uniform(0, self.window_hours * HOUR))
                    if new_signup
                    else self._created_before(700, 1)
                ),
                organization_id=None,
                email_domain=self._pick(infra.WEBMAIL),
                payment_fingerprint=f"pm_{self._hex()}" if paid or proxy else None,
                verification=self._pick(("email", "email", "phone")),
                program="paid" if paid or proxy else "free",
                signup_ip="",
                user_agent=self._pick(infra.USER_AGENTS),
                params=self._casual_params(),
            )
            if self.rng.random() < 0.08:
                account.email_domain = infra.company_domain(self.rng)  # a personal domain
            if proxy or self.rng.random() < 0.08:  # reseller customers, or a VPN user
                account.proxy_pool = 0 if proxy else 1
                account.signup_ip = self._pick(self.proxy_pools[account.proxy_pool])
            else:
                home = infra.residential_ip(country, self.rng)
                account.signup_ip = home
                account.ips = (
                    (home,)
                    if self.rng.random() < 0.7
                    else (home, infra.residential_ip(country, self.rng))
                )
            self._activity(account, float(self.rng.uniform(0.25, 0.8)))
            made.append(account)
        self._volume_split(behaviour, target, made)
        return made

    def _activity(self, account: SimAccount, day_probability: float) -> None:
        """Active on a random subset of days (stored as boosts of 0 on off days)."""
        start = max(0.0, account.created_at / HOUR)
        account.active_from, account.active_to = start, self.window_hours
        for day in range(self.scenario.days):
            if self.rng.random() > day_probability:
                account.day_boost[day] = 0.0

    def _org_accounts(
        self, population: str, target: float, size: tuple[int, int], make_org: dict[str, Any]
    ) -> list[SimAccount]:
        behaviour = BENIGN[population]
        made: list[SimAccount] = []
        count = self._count_for(behaviour, target, 6)
        while len(made) < count:
            group = self._new_group()
            members = int(self.rng.integers(size[0], size[1] + 1))
            country = (
                self._country() if population != "labeling_firm" else self._pick(("IN", "BR", "US"))
            )
            domain = infra.company_domain(self.rng)
            org_id = f"org_{self._hex()}"
            card = f"pm_{self._hex()}"
            prefixes = infra.COUNTRIES[country][1]
            if make_org.get("cloud"):
                prefixes = infra.CLOUD_PREFIXES
            if make_org.get("hosting"):
                prefixes = infra.HOSTING_PREFIXES
            office = infra.random_ipv4_in(
                prefixes,
                self.rng,
                int(self.rng.integers(1, 3 if not make_org.get("cloud") else 7)),
            )
            created = self._created_before(900, 30)
            ua = self._pick(infra.USER_AGENTS)
            shared_params = self._casual_params()
            org_name = domain.split(".")[0].title()
            system = self._pick(APP_SYSTEMS).format(org=org_name)
            tools = [
                {"name": f"lookup_{w}", "description": f"Fetch {w} records"}
                for w in ("order", "customer", "invoice")
            ]
            template = self._pick(APP_TEMPLATES)
            boosts = {
                int(d): float(self.rng.uniform(2.5, 5.0))
                for d in self.rng.choice(self.scenario.days, size=2, replace=False)
            }
            tz = self._tz(country)
            harness = int(self.rng.integers(8))
            tutor_prompt = (
                tutor_instruction(org_name, self._pick) if population == "tutoring_app" else ""
            )
            tutor_template = self._pick(TUTOR_TEMPLATES) if population == "tutoring_app" else ""
            in_user_text = population == "tutoring_app" and self.wrapper_rng.random() < 0.5
            # Some products run on a reasoning model at a large budget: worked solutions
            # are what they sell.
            tutor_params: dict[str, object] = (
                {
                    "max_tokens": int(self.wrapper_rng.choice([16000, 32000])),
                    "reasoning_effort": "high",
                }
                if population == "tutoring_app" and self.wrapper_rng.random() < 0.4
                else {"temperature": 0.3, "max_tokens": 2048}
            )
            for _ in range(members):
                program = str(make_org.get("program", "enterprise"))
                account = SimAccount(
                    population=population,
                    label="benign",
                    campaign=None,
                    behaviour=behaviour,
                    group=group,
                    country=country,
                    tz_hours=tz,
                    created_at=created + float(self.rng.uniform(0, 20)) * DAY,
                    organization_id=org_id,
                    email_domain=domain,
                    payment_fingerprint=card,
                    verification=str(make_org.get("verification", "business")),
                    program=program,
                    signup_ip=office[0],
                    user_agent=ua
                    if make_org.get("shared_client")
                    else self._pick(infra.USER_AGENTS),
                    params=dict(shared_params),
                    ips=tuple(office),
                    harness=harness,
                )
                if population == "enterprise_app":
                    account.system_prompt, account.app_tools, account.app_template = (
                        system,
                        tools,
                        template,
                    )
                    account.params = {
                        "temperature": 0.2,
                        "max_tokens": int(self.rng.choice([1024, 4096])),
                    }
                if population == "tutoring_app" and in_user_text:
                    # The product's private wrapper: the instruction written above every
                    # student question, no system prompt.
                    account.app_template = tutor_prompt + "\n\n" + tutor_template
                elif population == "tutoring_app":
                    account.system_prompt = tutor_prompt
                    account.app_template = tutor_template
                if population == "tutoring_app":
                    account.params = dict(tutor_params)
                if population == "indie_automation":
                    account.app_template = self._pick(INDIE_TEMPLATES)
                    account.params = {"temperature": 0.0, "max_tokens": 512}
                    account.organization_id = None
                    account.email_domain = self._pick(infra.WEBMAIL)
                if population == "benchmark_company":
                    account.params = {"temperature": 0.0, "max_tokens": 4096}
                    if self.rng.random() < 0.4:
                        account.params["n"] = 5
                    self._benchmark_activity(account)
                else:
                    self._activity(account, float(make_org.get("active", 0.8)))
                if population == "education_cohort":
                    account.day_boost.update(boosts)
                made.append(account)
        self._volume_split(behaviour, target, made)
        return made

    def _benchmark_activity(self, account: SimAccount) -> None:
        """Benchmark sweeps: a few before the release, most in the two days after it."""
        account.active_from, account.active_to = 0.0, self.window_hours
        release_day = int(self.scenario.release_hour // 24)
        for day in range(self.scenario.days):
            if release_day <= day <= release_day + 2:
                account.day_boost[day] = 6.0
            elif self.rng.random() < 0.7:
                account.day_boost[day] = 0.0

    def _education(self, target: float) -> list[SimAccount]:
        made = self._org_accounts(
            "education_cohort",
            target,
            (20, 120),
            {
                "program": "education",
                "verification": "email",
                "shared_client": True,
                "active": 0.55,
            },
        )
        by_group: dict[int, list[SimAccount]] = {}
        for account in made:
            by_group.setdefault(account.group, []).append(account)
        for members in by_group.values():
            uni = infra.WORDS[int(self.rng.integers(len(infra.WORDS)))]
            campus = (int(self.rng.integers(128, 200)), int(self.rng.integers(0, 256)))
            campus_ips = infra.random_ipv4_in((campus,), self.rng, 3)
            signup_day = float(self.rng.uniform(-20, 5))
            for account in members:
                account.email_domain = f"{uni}-university.edu"
                account.organization_id = None
                account.payment_fingerprint = None
                account.created_at = (signup_day + float(self.rng.uniform(0, 2))) * DAY
                account.active_from = max(0.0, account.created_at / HOUR)
                account.signup_ip = campus_ips[0]
                account.ips = (*campus_ips, infra.residential_ip(account.country, self.rng))
        return made

    # -- campaigns -------------------------------------------------------------------

    def _campaign(self, spec: CampaignSpec, target: float) -> list[SimAccount]:
        behaviour = PLAYBOOKS[spec.playbook]
        ev = spec.evasion
        per_day_cap = ev.daily_cap
        active_days = self.scenario.days * 0.9
        per_account = behaviour.per_account
        if per_day_cap is not None:
            per_account = min(per_account, per_day_cap * active_days * 0.8)
        slots = max(8, round(target / per_account))
        campaign_group = self._new_group()
        provider_rng = self.rng
        if self.campaign_seed is not None:  # the campaign's own draws, shared across providers
            self.rng = FastRandom(self.campaign_seed * 7_919 + zlib.crc32(spec.name.encode()))
        pool_id = self._campaign_pool(ev)
        cards = [f"pm_{self._hex()}" for _ in range(max(2, slots // 7))]
        domains = [infra.throwaway_domain(self.rng) for _ in range(3)]
        orgs = [f"org_{self._hex()}" for _ in range(max(2, slots // 8))]
        base_ua = self._pick(infra.USER_AGENTS[:6])
        base_params = self._playbook_params(spec.playbook)
        burst_days = [float(self.rng.uniform(-60, -5)) for _ in range(3)]
        variant = int(self.rng.integers(8))
        self.windows[campaign_group] = [
            (float(self.rng.uniform(0, 24)), float(self.rng.uniform(1.5, 4))) for _ in range(3)
        ]
        self.rng = provider_rng
        # The campaign's house rules: named by the campaign (and its seed), so that drawing
        # them leaves every other draw of the simulation as it was.
        owner = self.seed if self.campaign_seed is None else self.campaign_seed
        house = house_line(zlib.crc32(f"{owner}:{spec.name}".encode()))
        made: list[SimAccount] = []
        for slot in range(slots):
            start = 0.0 if not ev.replace_banned else -float(self.rng.uniform(0, 48))
            while start < self.window_hours:
                lifetime = (
                    (float(self.rng.exponential(4 * 24)) + 24)
                    if ev.replace_banned
                    else self.window_hours * 2
                )
                end = min(self.window_hours, start + lifetime)
                account = self._campaign_account(
                    spec,
                    behaviour,
                    campaign_group,
                    slot,
                    pool_id,
                    cards,
                    domains,
                    orgs,
                    base_ua,
                    base_params,
                    burst_days,
                    variant,
                )
                if ev.replace_banned:
                    account.created_at = (max(0.0, start) - float(self.rng.uniform(1, 30))) * HOUR
                account.active_from = max(0.0, start, account.created_at / HOUR)
                account.active_to = end
                account.house = house
                if account.active_to - account.active_from >= 1:
                    made.append(account)
                start = end
        weights = np.array([a.active_to - a.active_from for a in made])
        weights *= _lognormal_weights(self.rng, len(made), behaviour.volume_sigma)
        weights /= weights.sum()
        for account, weight in zip(made, weights.tolist(), strict=True):
            account.volume = target * weight
            if per_day_cap is not None:
                days = max(1.0, (account.active_to - account.active_from) / 24)
                account.volume = min(account.volume, per_day_cap * days * 0.9)
        return made

    def _campaign_pool(self, ev: Evasion) -> int:
        if ev.proxies == "residential":
            return 0
        subnets = infra.subnet_pool(infra.HOSTING_PREFIXES, self.rng, int(self.rng.integers(4, 12)))
        datacenter = [f"{a}.{b}.{c}.{d}" for a, b, c in subnets for d in range(2, 250, 3)]
        if ev.proxies == "mixed":
            datacenter += self.proxy_pools[0][: len(datacenter)]
        self.proxy_pools.append(datacenter)
        return len(self.proxy_pools) - 1

    def _playbook_params(self, playbook: str) -> dict[str, object]:
        if playbook == "reasoning_cot":
            return {"temperature": 0.6, "max_tokens": 32000, "reasoning_effort": "high"}
        if playbook == "agentic_multipath":
            return {
                "temperature": 0.7,
                "max_tokens": 16000,
                "reasoning_effort": "high",
                "stream": True,
            }
        return {"temperature": 1.0, "max_tokens": 64000, "stream": True}

    def _campaign_account(
        self,
        spec: CampaignSpec,
        behaviour: Behaviour,
        group: int,
        slot: int,
        pool_id: int,
        cards: list[str],
        domains: list[str],
        orgs: list[str],
        base_ua: str,
        base_params: dict[str, object],
        burst_days: list[float],
        variant: int,
    ) -> SimAccount:
        ev = spec.evasion
        country = (
            self._pick(("US", "US", "SG", "GB", "DE", "JP", "CA", "CN"))
            if spec.playbook != "agentic_multipath"
            else self._country()
        )
        if ev.staggered_signups:
            created = self._created_before(180, 2)
        else:
            created = (burst_days[slot % len(burst_days)] + float(self.rng.uniform(0, 0.2))) * DAY
        program = "paid"
        organization = None
        if spec.playbook == "agentic_multipath":
            program = self._pick(("free", "paid", "paid", "education", "startup", "research"))
            if program in ("startup", "research"):
                organization = orgs[slot % len(orgs)]
        params = dict(base_params)
        ua = base_ua
        if ev.varied_clients:
            ua = self._pick(infra.USER_AGENTS)
            params = {k: v for k, v in params.items() if self.rng.random() < 0.7}
            if self.rng.random() < 0.5:
                params["temperature"] = float(self.rng.choice([0.3, 0.6, 0.8, 1.0]))
        webmail = ev.unique_payment or ev.staggered_signups or self.rng.random() < 0.5
        pool = self.proxy_pools[pool_id]
        cover = None
        if ev.private_system or ev.instruction_in_system:
            company = infra.company_domain(self.cover_rng).split(".")[0].title()
            cover = self.cover_rng.choice(COVER_SYSTEMS).format(org=company)
            if ev.instruction_in_system:
                cover = f"{cover} {self.cover_rng.choice(HARVEST_SYSTEM_INSTRUCTIONS)}"
        return SimAccount(
            population=spec.name,
            label="distillation",
            campaign=spec.name,
            behaviour=behaviour,
            group=group,
            country=country,
            tz_hours=self._tz(country) if ev.human_timing else 8.0,
            created_at=created,
            organization_id=organization,
            email_domain=self._pick(infra.WEBMAIL[:6]) if webmail else domains[slot % len(domains)],
            payment_fingerprint=f"pm_{self._hex()}"
            if ev.unique_payment
            else cards[slot % len(cards)],
            verification=self._pick(("email", "email", "phone")),
            program=program,
            signup_ip=self._pick(pool),
            user_agent=ua,
            params=params,
            proxy_pool=pool_id,
            wrapper_variant=variant,
            mix_benign=ev.mix_benign,
            human_timing=ev.human_timing,
            paraphrase=ev.paraphrase,
            instruction_in_system=ev.instruction_in_system,
            system_prompt=cover,
        )

    # -- all together ----------------------------------------------------------------

    def build(self) -> World:
        """Every population of the scenario, ids assigned after shuffling."""
        scenario = self.scenario
        benign_total = self.total * (1.0 - scenario.harvest_share)
        share_sum = sum(s for _, s in scenario.benign_shares) or 1.0
        builders: dict[str, Callable[[float], list[SimAccount]]] = {
            "casual_chat": lambda t: self._individual("casual_chat", t),
            "proxy_reseller_customer": lambda t: self._individual(
                "proxy_reseller_customer", t, proxy=True
            ),
            "reasoning_power_user": lambda t: self._individual("reasoning_power_user", t),
            "exam_prep_user": lambda t: self._individual("exam_prep_user", t),
            "enterprise_app": lambda t: self._org_accounts(
                "enterprise_app", t, (1, 2), {"cloud": True, "shared_client": True, "active": 1.0}
            ),
            "tutoring_app": lambda t: self._org_accounts(
                "tutoring_app", t, (1, 3), {"cloud": True, "shared_client": True, "active": 1.0}
            ),
            "corporate_nat_team": lambda t: self._org_accounts(
                "corporate_nat_team", t, (5, 40), {"program": "paid", "active": 0.75}
            ),
            "education_cohort": self._education,
            "benchmark_company": lambda t: self._org_accounts(
                "benchmark_company",
                t,
                (1, 3),
                {"cloud": True, "program": "research", "shared_client": True},
            ),
            "agentic_developer": lambda t: self._org_accounts(
                "agentic_developer",
                t,
                (1, 4),
                {"program": "paid", "verification": "phone", "active": 0.7},
            ),
            "indie_automation": lambda t: self._org_accounts(
                "indie_automation",
                t,
                (1, 1),
                {"hosting": True, "program": "paid", "verification": "email", "active": 0.6},
            ),
            "labeling_firm": lambda t: self._org_accounts(
                "labeling_firm",
                t,
                (5, 30),
                {"program": "enterprise", "shared_client": True, "active": 0.75},
            ),
        }
        for population, share in scenario.benign_shares:
            self.accounts.extend(builders[population](benign_total * share / share_sum))
        harvest_total = self.total * scenario.harvest_share
        campaign_sum = sum(c.share for c in scenario.campaigns) or 1.0
        for spec in scenario.campaigns:
            self.accounts.extend(self._campaign(spec, harvest_total * spec.share / campaign_sum))
        for account in self.accounts:
            if account.population == "agentic_developer":
                account.user_agent = self._pick(infra.CODING_AGENT_AGENTS)
                account.params = {
                    "stream": True,
                    "max_tokens": int(self.rng.choice([8192, 16000, 32000, 64000])),
                    "reasoning_effort": self._pick(("medium", "high")),
                }
            if account.population == "reasoning_power_user":
                # The largest budget and high effort always; some sample several answers
                # per problem (self-consistency), as the reasoning_cot playbook does.
                account.params = {
                    "max_tokens": int(self.rng.choice([32000, 64000])),
                    "reasoning_effort": "high" if self.rng.random() < 0.8 else "medium",
                    **({"n": int(self.rng.choice([4, 8]))} if self.rng.random() < 0.3 else {}),
                }
            if account.population == "exam_prep_user" and self.rng.random() < 0.6:
                # Most study through an app or notebook set to the reasoning model's largest
                # budget and high effort; the rest keep their client's defaults.
                account.params = {
                    "max_tokens": int(self.rng.choice([16000, 32000, 64000])),
                    "reasoning_effort": "high" if self.rng.random() < 0.7 else "medium",
                }
        order = self.rng.permutation(len(self.accounts))
        shuffled = [self.accounts[i] for i in order.tolist()]
        for account in shuffled:
            account.account_id = f"acct_{self._hex(16)}"
            account.api_key_id = f"key_{self._hex(12)}"
            _give_habit(account)
        return World(shuffled, self.proxy_pools, self.windows)


HABITUAL_POPULATIONS = frozenset(
    {
        "casual_chat",
        "education_cohort",
        "corporate_nat_team",
        "proxy_reseller_customer",
        "agentic_developer",
    }
)


def _give_habit(account: SimAccount) -> None:
    """Some individual customers keep a standing instruction (``wrappers.HABITS``).

    Drawn from the account id, not the builder's generator, so every other draw of a
    seed's world is unchanged.
    """
    if account.population not in HABITUAL_POPULATIONS:
        return
    draw = zlib.crc32(account.account_id.encode()) / 2**32
    if draw < wrappers.HABIT_SHARE:
        account.habit = wrappers.HABITS[int(draw / wrappers.HABIT_SHARE * len(wrappers.HABITS))]
