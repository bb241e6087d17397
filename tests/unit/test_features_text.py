"""Text normal form, language guess, truncation, template and wrapper fingerprints."""

from __future__ import annotations

import random
from pathlib import Path

from distillguard.features.templates import fingerprints, stable_hash
from distillguard.features.text import ELLIPSIS, MAX_CHARS, guess_language, normalize, prepare
from distillguard.sim.prompts import load_datasets
from distillguard.sim.wrappers import WrapperStyle, harvest_text


def test_normal_form_folds_width_case_zero_width_numbers_and_spaces() -> None:
    raw = "  Ｓｏｌｖｅ\u200b  THIS:\t１２３.５ apples\n\n\n  and 7 pears  "
    assert normalize(raw) == "solve this: 0 apples\n\nand 0 pears"


def test_line_and_paragraph_breaks_are_kept_once() -> None:
    assert normalize("a \n  b\n \n\n c") == "a\nb\n\nc"


def test_language_by_script_share() -> None:
    assert guess_language("what is the capital of france") == "en"
    assert guess_language("请一步一步地详细推理") == "zh"
    assert guess_language("как дела у тебя сегодня") == "ru"
    assert guess_language("こんにちは、元気ですか") == "other"
    assert guess_language("0 + 0 = 0 !!") == "und"
    # Mixed: a Chinese question with an English term is still Chinese.
    assert guess_language("请解释 python 中的装饰器是什么以及如何使用") == "zh"


def test_a_megabyte_prompt_is_cut_to_head_and_tail_with_a_note() -> None:
    text = "START " + "x" * 1_000_000 + " END"
    prepared = prepare(text)
    assert prepared.truncated and prepared.chars == len(text)
    assert len(prepared.text) <= MAX_CHARS + len(ELLIPSIS)
    assert prepared.text.startswith("start") and prepared.text.endswith("end")
    assert not prepare("short").truncated


def test_stable_hash_is_signed_64_bit_and_fixed() -> None:
    value = stable_hash("hello")
    assert -(2**63) <= value < 2**63
    assert value == stable_hash("hello") != stable_hash("hello!")


WRAPPER = (
    "Solve the following problem. Think step by step and write out your complete reasoning "
    "before giving the final answer. Put the final answer in \\boxed{}."
)


def _ids(text: str) -> tuple[int, int, int]:
    return fingerprints(prepare(text).text)


def test_one_wrapper_around_different_tasks_gives_one_wrapper_and_template() -> None:
    tasks = [f"Tom has {n} apples and buys {n + 3} more. How many does he have?" for n in range(9)]
    tasks += ["A train leaves at noon and travels east for three hours. Where is it?"]
    ids = {_ids(f"{WRAPPER}\n\n{task}") for task in tasks}
    assert len({i[1] for i in ids}) == 1 and len({i[2] for i in ids}) == 1
    assert len({i[0] for i in ids}) == len(tasks) - 8  # numbers fold to 0


def test_wrapper_id_ignores_whether_the_task_comes_first() -> None:
    task = "Natalia sold clips to her friends in April. How many clips did she sell?"
    before, after = _ids(f"{WRAPPER}\n\n{task}"), _ids(f"{task}\n\n{WRAPPER}")
    assert before[2] == after[2] and before[1] != after[1]


def test_ordinary_chat_prompts_keep_distinct_wrapper_ids() -> None:
    prompts = [
        "What's a good recipe for banana bread?",
        "How do I fix a flat bicycle tyre?",
        "Tell me a joke about cats.",
        "Why is the sky blue?",
        "Recommend three sci-fi novels.",
    ]
    assert len({_ids(p)[2] for p in prompts}) == len(prompts)


def _first_user(item: object) -> str:
    content = item.messages[0]["content"]  # type: ignore[attr-defined]
    return content if isinstance(content, str) else ""


def test_simulator_campaign_wrapper_is_one_id_over_gsm8k(shared_datasets: Path) -> None:
    items = load_datasets(shared_datasets, ("gsm8k",))[:100]
    rng = random.Random(1)
    for variant in range(3):
        style = WrapperStyle(paraphrase=False, fixed_variant=variant)
        ids = {_ids(harvest_text("cot", i, _first_user(i), style, rng))[2] for i in items}
        assert len(ids) == 1


def test_simulator_chat_prompts_give_distinct_wrapper_ids(shared_datasets: Path) -> None:
    items = load_datasets(shared_datasets, ("oasst_eval_samples",))[:100]
    assert len({_ids(_first_user(i))[2] for i in items}) >= 95
