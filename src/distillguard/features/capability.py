"""Capability tag per exchange: what the request would teach a distiller.

Cheap cues only, applied in this order (the first rule that holds wins):

1. ``vision``    the request carries an image part;
2. ``tool_use``  tools are offered, the conversation holds tool calls or results, or
                 ``p_tool`` ≥ 0.5;
3. ``grading``   ``p_grading`` ≥ 0.5 (rubric / reward-model grading);
4. ``rewrite``   ``p_rewrite`` ≥ 0.5 (censorship-safe rewriting);
5. ``coding``    code cues in the prompt: a code fence, a function or class signature,
                 "implement", "write a function/program/script", 编写代码, 函数 …;
6. ``reasoning`` ``p_reasoning`` or ``p_reconstruct`` ≥ 0.5, or math cues (LaTeX, equations,
                 "solve", "how many", "prove", 求, 计算 …);
7. ``chat``      anything else.

Coding comes before reasoning because code harvests also ask for step-by-step reasoning;
the capability is the code.  Cluster reports aggregate these tags into ``capabilities``.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

CAPABILITIES = ("reasoning", "coding", "tool_use", "grading", "vision", "rewrite", "chat")
THRESHOLD = 0.5
CUE_CHARS = 4_000
"""Code and maths cues are looked for in the first this many characters."""

_CODE = re.compile(
    r"```|\bdef \w+\(|\bclass \w+[:(]|\bfunction \w+\(|#include|\bimport \w+|=>|"
    r"\bimplement\w*\b|\bwrite (?:a |an |the )?(?:python |java |c\+\+ |rust |go )?"
    r"(?:function|program|script|class|method|code)\b|"
    r"编写|代码|函数|程序"
)
_MATH = re.compile(
    r"\\frac|\\sqrt|\\boxed|\$[^$]{1,80}\$|\bsolve\b|\bhow many\b|\bhow much\b|\bprove\b|"
    r"\bcalculate\b|\bequation\b|\bprobability\b|\bintegral\b|0 ?[-+*/×÷^=] ?0|求|计算|方程|证明"
)


Cue = tuple[str, re.Pattern[str] | None]
"""One alternative of a cue pattern: a literal it cannot match without, and the alternative
itself (None when the literal is the whole alternative)."""

_CODE_CUES: tuple[Cue, ...] = (
    ("```", None),
    ("def ", re.compile(r"\bdef \w+\(")),
    ("class ", re.compile(r"\bclass \w+[:(]")),
    ("function ", re.compile(r"\bfunction \w+\(")),
    ("#include", None),
    ("import ", re.compile(r"\bimport \w+")),
    ("=>", None),
    ("implement", re.compile(r"\bimplement")),  # \w*\b after it always matches
    (
        "write ",
        re.compile(
            r"\bwrite (?:a |an |the )?(?:python |java |c\+\+ |rust |go )?"
            r"(?:function|program|script|class|method|code)\b"
        ),
    ),
    ("编写", None),
    ("代码", None),
    ("函数", None),
    ("程序", None),
)
"""The alternatives of :data:`_CODE`, one by one."""
_MATH_CUES: tuple[Cue, ...] = (
    ("\\frac", None),
    ("\\sqrt", None),
    ("\\boxed", None),
    ("$", re.compile(r"\$[^$]{1,80}\$")),
    ("solve", re.compile(r"\bsolve\b")),
    ("how many", re.compile(r"\bhow many\b")),
    ("how much", re.compile(r"\bhow much\b")),
    ("prove", re.compile(r"\bprove\b")),
    ("calculate", re.compile(r"\bcalculate\b")),
    ("equation", re.compile(r"\bequation\b")),
    ("probability", re.compile(r"\bprobability\b")),
    ("integral", re.compile(r"\bintegral\b")),
    ("0", re.compile(r"0 ?[-+*/×÷^=] ?0")),
    ("求", None),
    ("计算", None),
    ("方程", None),
    ("证明", None),
)
"""The alternatives of :data:`_MATH`, one by one."""


def _any_cue(head: str, cues: tuple[Cue, ...]) -> bool:
    """Whether one alternative matches: the same answer as searching their union.

    The union has many alternatives that start with a word boundary, which Python's ``re``
    tries at every position of the text; a substring test for each alternative's literal,
    then that alternative alone, costs a small fraction of it.
    """
    for literal, pattern in cues:
        if literal in head and (pattern is None or pattern.search(head) is not None):
            return True
    return False


def has_code_cue(normal: str) -> bool:
    """Whether a normal-form prompt looks like a coding request (:data:`_CODE`)."""
    return _any_cue(normal[:CUE_CHARS], _CODE_CUES)


def has_math_cue(normal: str) -> bool:
    """Whether a normal-form prompt looks like a maths or reasoning problem (:data:`_MATH`)."""
    return _any_cue(normal[:CUE_CHARS], _MATH_CUES)


RULE_TAGS = ("vision", "tool_use", "grading", "rewrite", "coding", "reasoning")
"""The tags of the rules of the module docstring, in order; anything else is ``chat``."""


def tag_capabilities(
    *,
    image: npt.NDArray[np.bool_],
    tools: npt.NDArray[np.bool_],
    code: npt.NDArray[np.bool_],
    math: npt.NDArray[np.bool_],
    signals: npt.NDArray[np.float32],
) -> npt.NDArray[np.object_]:
    """Apply the rules above to whole columns; ``signals`` columns follow ``SIGNALS``."""
    reasoning, reconstruct, grading, tool, rewrite = (signals[:, i] >= THRESHOLD for i in range(5))
    conditions = [
        image,
        tools | tool,
        grading,
        rewrite,
        code,
        reasoning | reconstruct | math,
    ]
    return np.select(conditions, np.array(RULE_TAGS, dtype=object), default="chat").astype(object)


def capability_sql(
    *,
    image: str,
    tools: str,
    code: str,
    math: str,
    signals: tuple[str, ...],
) -> str:
    """The same rules as :func:`tag_capabilities`, as one SQL ``CASE`` over boolean columns
    (``image``, ``tools``, ``code``, ``math``: SQL expressions) and the five signal columns
    in the order of ``SIGNALS``, so the store can tag exchanges without sending them through
    Python."""
    if len(signals) != 5:
        raise ValueError(f"five signal columns expected, got {len(signals)}")
    reasoning, reconstruct, grading, tool, rewrite = (f"{s} >= {THRESHOLD}" for s in signals)
    conditions = (
        image,
        f"{tools} OR {tool}",
        grading,
        rewrite,
        code,
        f"{reasoning} OR {reconstruct} OR {math}",
    )
    whens = " ".join(
        f"WHEN {condition} THEN '{tag}'"
        for condition, tag in zip(conditions, RULE_TAGS, strict=True)
    )
    return f"CASE {whens} ELSE 'chat' END"
