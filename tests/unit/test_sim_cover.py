"""Evasion ``private_system``: each campaign account hides behind a cover system prompt of
its own, and switching the tactic on changes those prompts and nothing else in the world."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path

from distillguard.sim.accounts import AccountBuilder
from distillguard.sim.scenarios import Scenario, build_scenario
from distillguard.sim.writer import simulate


def _without_cover(name: str) -> Scenario:
    scenario = build_scenario(name, 7)
    campaigns = tuple(
        replace(c, evasion=replace(c.evasion, private_system=False)) for c in scenario.campaigns
    )
    return replace(scenario, campaigns=campaigns)


def test_cover_changes_nothing_but_the_system_prompt() -> None:
    covered = AccountBuilder(build_scenario("evasive", 7), 20_000, 7).build().accounts
    bare = AccountBuilder(_without_cover("evasive"), 20_000, 7).build().accounts
    assert len(covered) == len(bare)
    for with_cover, without in zip(covered, bare, strict=True):
        left, right = asdict(with_cover), asdict(without)
        if with_cover.campaign:
            assert left.pop("system_prompt") and right.pop("system_prompt") is None
        assert left == right


def test_each_harvester_sends_its_own_cover_on_every_request(tmp_path: Path) -> None:
    simulate(tmp_path, seed=5, exchanges=8_000, scenario_name="evasive", progress=False)
    labels = {r["account_id"]: r for r in map(json.loads, (tmp_path / "labels.jsonl").open())}
    systems: dict[str, Counter[str]] = {}
    for record in map(json.loads, (tmp_path / "exchanges.jsonl").open()):
        systems.setdefault(record["account_id"], Counter())[record.get("system_prompt") or ""] += 1
    harvesters = [a for a, r in labels.items() if r["label"] == "distillation" and a in systems]
    assert len(harvesters) >= 20
    covers = {}
    for account in harvesters:
        assert "" not in systems[account], account  # every request carries a system prompt
        covers[account] = systems[account].most_common(1)[0][0]  # tool wrappers vary
    assert len(set(covers.values())) == len(covers)  # one cover per account
    benign = set().union(*(systems[a] for a in systems if a not in covers))
    assert not benign & set(covers.values())
