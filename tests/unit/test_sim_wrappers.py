"""Harvest wrappers: fixed templates, paraphrases, and disjoint dev/holdout phrase banks."""

from __future__ import annotations

import random
from pathlib import Path

from distillguard.sim.prompts import make_item
from distillguard.sim.wrappers import COT_INSTRUCTIONS, WrapperStyle, harvest_text, house_line
from distillguard.sim.writer import simulate

ITEM = make_item(
    "math", "t", "dev", "en", [{"role": "user", "content": "What is 2+2?"}], answer="4"
)


def _texts(style: WrapperStyle, intent: str = "cot", n: int = 200) -> set[str]:
    rng = random.Random(3)
    return {harvest_text(intent, ITEM, "What is 2+2?", style, rng) for _ in range(n)}


def test_fixed_template_campaign_sends_one_wrapper_per_intent() -> None:
    assert len(_texts(WrapperStyle(paraphrase=False, fixed_variant=2))) == 1


def test_paraphrasing_campaign_rarely_repeats_itself() -> None:
    assert len(_texts(WrapperStyle(paraphrase=True, fixed_variant=0))) > 60


def test_dev_and_holdout_banks_share_no_instruction() -> None:
    dev = _texts(WrapperStyle(True, 0, "dev"))
    holdout = _texts(WrapperStyle(True, 0, "holdout"))
    assert not dev & holdout
    for text in holdout:
        assert not any(instruction in text for instruction in COT_INSTRUCTIONS[0::2])


def test_each_campaign_adds_its_own_house_line_to_every_harvesting_wrapper() -> None:
    first, second = house_line(11), house_line(12)
    assert first != second
    for intent in ("cot", "tool", "code", "grading", "reconstruct", "censor_safe", "vision"):
        one = _texts(WrapperStyle(True, 0, "all", first), intent=intent, n=20)
        other = _texts(WrapperStyle(True, 0, "all", second), intent=intent, n=20)
        assert all(first in text for text in one), intent
        assert not one & other, intent
    # Without a house line, wrappers are those of the shared phrase banks.
    assert _texts(WrapperStyle(False, 2), n=5) == _texts(WrapperStyle(False, 2, "all", ""), n=5)


def test_reconstruction_prompt_carries_the_known_answer() -> None:
    (text,) = _texts(WrapperStyle(False, 0), intent="reconstruct", n=3)
    assert "Final answer: 4" in text and "What is 2+2?" in text


def test_holdout_simulation_uses_only_holdout_phrasings(tmp_path: Path) -> None:
    simulate(
        tmp_path,
        seed=4,
        exchanges=6_000,
        scenario_name="evasive",
        prompt_split="holdout",
        progress=False,
    )
    text = (tmp_path / "exchanges.jsonl").read_text()
    assert any(instruction in text for instruction in COT_INSTRUCTIONS[1::2])
    assert not any(instruction in text for instruction in COT_INSTRUCTIONS[0::2])
