"""The cue checks, alternative by alternative, answer exactly as the documented patterns."""

from __future__ import annotations

import random

from distillguard.features import capability

PIECES = [
    "def f(", "class A:", "function g(", "#include", "import os", "=>", "implementing",
    "write a python function", "write code", "writes ", "write the rust script", "编写", "代码",
    "\\frac", "\\boxed", "$x+1$", "$", "solve", "resolve", "solved", "how many", "prove",
    "0 + 0", "0=0", "0 ×0", "求", "证明", " ", "a", "\n", "_solve", "x" * 50,
]  # fmt: skip


def test_cues_match_the_union_patterns() -> None:
    rng = random.Random(7)
    for _ in range(20_000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 8)))
        head = text[: capability.CUE_CHARS]
        assert capability.has_code_cue(text) == (capability._CODE.search(head) is not None)
        assert capability.has_math_cue(text) == (capability._MATH.search(head) is not None)


def test_cues_only_read_the_head() -> None:
    far = "x " * capability.CUE_CHARS + "solve def f("
    assert not capability.has_math_cue(far) and not capability.has_code_cue(far)
