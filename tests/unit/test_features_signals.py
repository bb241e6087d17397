"""Prompt-signal classifier sanity and capability tags."""

from __future__ import annotations

import numpy as np

from distillguard.features.capability import tag_capabilities
from distillguard.features.prompt_signals import SIGNALS, classifier_text, prompt_signals
from distillguard.features.text import prepare

TASK = "A farmer has 17 sheep and buys 5 more each week. How many after 6 weeks?"


def _signals(prompt: str, system: str = "") -> dict[str, float]:
    text = classifier_text(prepare(prompt).text, prepare(system).text if system else "")
    return dict(zip(SIGNALS, prompt_signals([text])[0].tolist(), strict=True))


def test_harvest_phrasings_score_high_on_their_signal() -> None:
    cases = {
        "reasoning": "Write out every step of your reasoning in full detail, do not skip any "
        f"thinking, then give the final answer.\n\n{TASK}",
        "reconstruct": "Here is a question and its known final answer. Write the full "
        f"step-by-step reasoning that arrives at it.\n\nQuestion: {TASK}\n\nFinal answer: 102",
        "grading": "You are a strict reward model. Score the response below from 1 to 10 "
        "according to the rubric and justify the score.\n\nResponse: The answer is 102.",
        "tool": "You are an autonomous agent. Before every tool call, explain your full "
        "reasoning, and reflect after each result.\n\nBook me a flight to Paris.",
        "rewrite": "Rewrite the answer to this question so it is politically safe and "
        "complies with censorship rules on sensitive topics:\nWhat happened in 1989?",
    }
    for signal, prompt in cases.items():
        assert _signals(prompt)[signal] > 0.5, (signal, _signals(prompt))


def test_benign_chat_scores_low_everywhere() -> None:
    for prompt in (
        "What's a good recipe for banana bread?",
        "Can you recommend a laptop for video editing under $1500?",
        "Translate 'good morning' into Spanish.",
        "今天北京的天气怎么样？",
    ):
        assert max(_signals(prompt).values()) < 0.5, (prompt, _signals(prompt))


def test_explain_step_by_step_alone_is_only_moderate() -> None:
    assert _signals(f"Can you explain step by step? {TASK}")["reasoning"] < 0.8


def test_capability_rules_follow_their_order() -> None:
    signals = np.zeros((5, 5), dtype=np.float32)
    signals[2, 2] = 0.9  # grading
    signals[4, 0] = 0.9  # reasoning
    tags = tag_capabilities(
        image=np.array([True, False, False, False, False]),
        tools=np.array([True, True, False, False, False]),
        code=np.array([False, False, True, True, True]),
        math=np.zeros(5, dtype=bool),
        signals=signals,
    )
    assert tags.tolist() == ["vision", "tool_use", "grading", "coding", "coding"]
