"""Tutoring products write their standing instruction either into the system prompt or
above every student question (a private wrapper); the simulator has both."""

from __future__ import annotations

from distillguard.sim.accounts import TUTOR_STEPS, AccountBuilder
from distillguard.sim.scenarios import build_scenario


def test_tutoring_products_use_both_places_for_their_instruction() -> None:
    places = set()
    for seed in range(1, 7):
        world = AccountBuilder(build_scenario("benign-only", seed), 50_000, seed).build()
        for account in world.accounts:
            if account.population != "tutoring_app":
                continue
            template = account.app_template or ""
            if account.system_prompt:
                assert any(step in account.system_prompt for step in TUTOR_STEPS)
                assert not any(step in template for step in TUTOR_STEPS)
                places.add("system")
            else:
                assert any(step in template for step in TUTOR_STEPS)
                assert template.endswith("{q}")
                places.add("user text")
    assert places == {"system", "user text"}


def test_some_tutoring_products_run_on_a_reasoning_budget() -> None:
    """Worked solutions are what a tutoring product sells, so some call a reasoning model at
    its largest budget and high effort, on every request (a company's accounts alike): on
    parameters, what a reasoning harvester sends."""
    budgets: dict[int, set[tuple[object, object]]] = {}
    for seed in range(1, 7):
        world = AccountBuilder(build_scenario("benign-only", seed), 50_000, seed).build()
        for account in world.accounts:
            if account.population != "tutoring_app":
                continue
            params = (account.params.get("max_tokens"), account.params.get("reasoning_effort"))
            budgets.setdefault(seed * 10_000 + account.group, set()).add(params)
    assert all(len(seen) == 1 for seen in budgets.values())
    kinds = {next(iter(seen)) for seen in budgets.values()}
    assert (2048, None) in kinds
    assert {(16000, "high"), (32000, "high")} & kinds
