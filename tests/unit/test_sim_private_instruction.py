"""The `private-instruction` tactic: a campaign writes its step-by-step instruction into each
account's own cover system prompt and sends the bare task, the shape of a tutoring
product's standing instruction on its students' questions."""

from __future__ import annotations

import json
from pathlib import Path

from distillguard.sim.accounts import HARVEST_SYSTEM_INSTRUCTIONS
from distillguard.sim.scenarios import SCENARIOS, build_scenario
from distillguard.sim.writer import simulate


def test_every_campaign_of_the_scenario_uses_the_tactic() -> None:
    scenario = build_scenario("private-instruction", 1)
    assert "private-instruction" in SCENARIOS
    assert {c.name for c in scenario.campaigns} == {
        "reasoning_cot",
        "agentic_multipath",
        "agentic_coding_pivot",
    }
    assert all(c.evasion.instruction_in_system for c in scenario.campaigns)


def test_the_instruction_rides_in_the_system_prompt_and_the_task_goes_bare(
    tmp_path: Path,
) -> None:
    simulate(
        tmp_path, seed=3, exchanges=20_000, scenario_name="private-instruction", progress=False
    )
    campaign = {
        r["account_id"]
        for r in map(json.loads, (tmp_path / "labels.jsonl").open())
        if r["campaign"] == "reasoning_cot"
    }
    systems: dict[str, set[str]] = {}
    bare = 0
    for line in (tmp_path / "exchanges.jsonl").open():
        record = json.loads(line)
        if record["account_id"] not in campaign:
            continue
        system = record.get("system_prompt") or ""
        systems.setdefault(record["account_id"], set()).add(system)
        text = record["messages"][-1]["content"]
        if isinstance(text, str) and not any(w in text.lower() for w in ("step", "reason")):
            bare += 1
    assert systems and bare > 0
    for seen in systems.values():
        # One private cover per account, carrying one of the step-by-step instructions.
        assert len(seen) == 1
        (system,) = seen
        assert any(instruction in system for instruction in HARVEST_SYSTEM_INSTRUCTIONS)
    assert len({next(iter(s)) for s in systems.values()}) == len(systems)
