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


_CODE_LITERALS = (
    "```", "def ", "class ", "function ", "#include", "import ", "=>", "implement", "write ",
    "编写", "代码", "函数", "程序",
)  # fmt: skip
"""Text every alternative of the code pattern contains: without one of them it cannot match."""
_MATH_LITERALS = (
    "\\frac", "\\sqrt", "\\boxed", "$", "solve", "how many", "how much", "prove",
    "calculate", "equation", "probability", "integral", "求", "计算", "方程", "证明",
)  # fmt: skip
"""The same for the maths pattern, apart from its arithmetic alternative (see _ARITHMETIC)."""
_ARITHMETIC = re.compile(r"0 ?[-+*/×÷^=] ?0")


def _may_contain(head: str, literals: tuple[str, ...]) -> bool:
    return any(literal in head for literal in literals)


def has_code_cue(normal: str) -> bool:
    """Whether a normal-form prompt looks like a coding request.

    The pattern has many alternatives that start with a word boundary, which Python's
    ``re`` tries at every position; a substring test for the literals they need rules most
    prompts out first, with the same answer.
    """
    head = normal[:CUE_CHARS]
    return _may_contain(head, _CODE_LITERALS) and _CODE.search(head) is not None


def has_math_cue(normal: str) -> bool:
    """Whether a normal-form prompt looks like a maths or reasoning problem (see above)."""
    head = normal[:CUE_CHARS]
    if _ARITHMETIC.search(head) is not None:
        return True
    return _may_contain(head, _MATH_LITERALS) and _MATH.search(head) is not None


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
    choices = ["vision", "tool_use", "grading", "rewrite", "coding", "reasoning"]
    return np.select(conditions, np.array(choices, dtype=object), default="chat").astype(object)
