"""Template skeletons, wrapper ids and text hashes: what ties scripted prompts together.

A harvesting pipeline sends one *wrapper* (instructions such as "Think step by step and
show all your reasoning. Put the final answer in \\boxed{}.") around thousands of different
*task* prompts.  Three fingerprints, all on the normal form of :mod:`.text`:

``text_hash``
    the normal form itself: exact duplicates after normalisation.
``template_id``
    the *skeleton*: numbers, quoted spans, code, URLs masked, and the task lines replaced by
    one ``⟨task⟩`` slot, keeping the order.  Same wrapper, same layout → same skeleton.
``wrapper_id``
    only the instruction lines, in order, without the task slot: also equal when the same
    wrapper comes before the task in one request and after it in the next.

Separating wrapper from task without knowing the task works line by line.  A line is
*instruction-like* when enough of its words come from a lexicon of instruction vocabulary
(answer, reasoning, step, explain, rubric, score, rewrite, tool, 请, 推理, 步骤 …) and it is
not a question (does not end with ``?``).  A short ``Label: content`` line keeps its label
(``question:``, ``final answer:``) as instruction and hands its content to the task.  When a
prompt has no instruction-like line, nothing can be separated: the wrapper is the skeleton
minus its longest line (or the whole skeleton when it has one line), so ordinary chat prompts
keep distinct ids instead of all sharing the empty wrapper.

Hashes are xxhash64 with seed :data:`HASH_SEED` of the UTF-8 text, read as signed int64.
"""

from __future__ import annotations

import re

import xxhash

HASH_SEED = 0x5EED_D15C
"""Seed of every 64-bit id in this module (part of the fingerprint spec: never change)."""

TASK = "⟨task⟩"
CODE = "⟨code⟩"
URL = "⟨url⟩"
QUOTE = "⟨q⟩"

_FENCE = re.compile(r"```.*?(?:```|\Z)", re.S)
_INLINE_CODE = re.compile(r"`[^`\n]{1,200}`")
_URL = re.compile(r"(?:https?://|www\.)\S+")
_QUOTED = re.compile(r"\"[^\"\n]{1,300}\"|“[^”\n]{1,300}”|「[^」\n]{1,300}」|‘[^’\n]{1,300}’")
_QUOTE_MARKS = ('"', "“", "「", "‘")
_LABEL = re.compile(
    r"^((?:[^\W\d\u3400-\u9fff]{1,24}|[\u3400-\u9fff]{1,4})(?: [^\W\d]{1,24}){0,2})"
    r"\s?[:：]\s*(.*)$",
    re.S,
)
_WORD = re.compile(r"[^\W\d_]+")
_ASCII_LETTER_BYTES = bytes(
    c if chr(c).isascii() and chr(c).isalpha() else ord(" ") for c in range(256)
)
"""Byte table keeping ASCII letters (what ``[^\\W\\d_]`` matches in ASCII), blanking the rest."""
_HAN_FIRST, _HAN_LAST = "\u3400", "\u9fff"
_HAN_RUN = re.compile(r"[\u3400-\u9fff]+")


def han_count(text: str) -> int:
    """How many Han characters (U+3400..U+9FFF) a text holds: the length of its runs of
    them (one match per run instead of one per character)."""
    return sum(map(len, _HAN_RUN.findall(text)))


INSTRUCTION_WORDS = frozenset(
    [
        "answer",
        "answers",
        "reason",
        "reasons",
        "reasoning",
        "step",
        "steps",
        "think",
        "thinking",
        "thought",
        "thoughts",
        "explain",
        "explaining",
        "explanation",
        "explanations",
        "solve",
        "solution",
        "show",
        "write",
        "rewrite",
        "rephrase",
        "score",
        "scores",
        "scoring",
        "grade",
        "grading",
        "grader",
        "rubric",
        "evaluate",
        "evaluation",
        "assess",
        "format",
        "formatted",
        "final",
        "output",
        "respond",
        "response",
        "responses",
        "task",
        "question",
        "questions",
        "problem",
        "provide",
        "give",
        "detail",
        "detailed",
        "details",
        "please",
        "following",
        "below",
        "above",
        "chain",
        "derivation",
        "derive",
        "intermediate",
        "conclude",
        "conclusion",
        "return",
        "line",
        "json",
        "you",
        "your",
        "yourself",
        "assistant",
        "tool",
        "tools",
        "call",
        "calls",
        "function",
        "functions",
        "agent",
        "plan",
        "carefully",
        "thoroughly",
        "rigorous",
        "rigorously",
        "boxed",
        "box",
        "put",
        "end",
        "reconstruct",
        "trace",
        "known",
        "correct",
        "given",
        "version",
        "safe",
        "neutral",
        "content",
        "rules",
        "acceptable",
        "alternative",
        "avoid",
        "complete",
        "completely",
        "full",
        "fully",
        "every",
        "each",
        "process",
        "deduction",
        "deductions",
        "include",
        "including",
        "state",
        "result",
        "first",
        "then",
        "before",
        "after",
        "must",
        "should",
        "do",
        "not",
        "don't",
        "skip",
        "write-up",
        "justify",
        "justification",
        "rate",
        "rating",
        "criteria",
        "feedback",
        "narrate",
        "reflect",
        "out",
        "loud",
        "verbose",
        "exhaustive",
        "exhaustively",
        "explicit",
        "explicitly",
        "checks",
        "check",
        "verify",
        "implement",
        "implementation",
        "code",
        "tests",
        "sensitive",
        "political",
        "politically",
        "compliant",
        "guidelines",
        "policy",
        "instruction",
        "instructions",
    ]
)
"""English instruction vocabulary (after casefold); generic on purpose, not the sim's banks."""

INSTRUCTION_ZH = re.compile(
    "请|推理|步骤|答案|回答|改写|思考|过程|给出|写出|详细|评分|打分|分析|解释|输出|格式|"
    "最终|完整|逐步|一步|中间|省略|展示|说明|敏感|规范|稳妥|评价|标准|工具|调用|推导"
)
MIN_DENSITY = 0.25
"""Share of instruction words that makes a line instruction-like."""


def stable_hash(text: str) -> int:
    """xxhash64(seed=HASH_SEED) of the UTF-8 text as a signed int64."""
    value: int = xxhash.xxh64_intdigest(text.encode("utf-8"), HASH_SEED)
    return value - (1 << 64) if value >= (1 << 63) else value


def mask(normal: str) -> str:
    """Mask code, URLs and quoted spans (numbers are already ``0`` in the normal form)."""
    # Each pass runs only when its opening mark occurs (a scan for a substring is far
    # cheaper than a regex tried at every position); the result is the same.
    text = normal
    if "`" in text:
        text = _INLINE_CODE.sub(CODE, _FENCE.sub(CODE, text) if "```" in text else text)
    if "http" in text or "www." in text:
        text = _URL.sub(URL, text)
    if any(mark in text for mark in _QUOTE_MARKS):
        text = _QUOTED.sub(QUOTE, text)
    return text


def instruction_density(line: str) -> float:
    """Share of a line's words (Han characters count in pairs) that are instruction words."""
    words = _words(line)
    hits = sum(map(INSTRUCTION_WORDS.__contains__, words))
    han = 0 if line.isascii() else han_count(line)
    if han:
        hits += 2 * len(INSTRUCTION_ZH.findall(line))
        total = len(words) - sum(1 for w in words if _HAN_FIRST <= w[0] <= _HAN_LAST) + han
    else:
        total = len(words)
    return hits / total if total else 0.0


_MASK_BRACKETS = ("⟨", "⟩")
"""The brackets of the mask tokens: neither letters nor Han, so they only separate words."""


def _words(text: str) -> list[str]:
    """``_WORD.findall(text)``; by one byte translation and a split when the text is ASCII
    but for the mask brackets (most masked prompts: their quoted spans became ``⟨q⟩``).

    Python's ``re`` tries a pattern led by a class at every position; the translation
    keeps ASCII letters and blanks the rest, which gives the same runs of letters.
    """
    if not text.isascii():
        plain = text.replace(_MASK_BRACKETS[0], " ").replace(_MASK_BRACKETS[1], " ")
        if not plain.isascii():
            return _WORD.findall(text)
        text = plain
    return text.encode("ascii").translate(_ASCII_LETTER_BYTES).decode("ascii").split()


def _instruction_like(text: str) -> bool:
    if text.endswith(("?", "？")):
        return False
    return instruction_density(text) >= MIN_DENSITY


def _lines(paragraph: str, skeleton: list[str], wrapper: list[str]) -> None:
    """Sort one paragraph's lines into instruction lines and task slots."""
    for raw in paragraph.split("\n"):
        line = raw.strip()
        if not line:
            continue
        label = _LABEL.match(line)
        if label and label.group(2) and not _instruction_like(label.group(2)):
            head = label.group(1) + ":"
            skeleton.append(f"{head} {TASK}")
            wrapper.append(head)
        elif (label and not label.group(2)) or _instruction_like(line):
            skeleton.append(line)
            wrapper.append(line)
        elif not skeleton or skeleton[-1] != TASK:
            skeleton.append(TASK)


def _task_paragraph(paragraph: str, skeleton: list[str], wrapper: list[str]) -> None:
    """A task paragraph: one slot, keeping a leading ``Label:`` as instruction."""
    label = _LABEL.match(paragraph.split("\n", 1)[0])
    if label:
        head = label.group(1) + ":"
        skeleton.append(f"{head} {TASK}")
        wrapper.append(head)
    elif not skeleton or skeleton[-1] != TASK:
        skeleton.append(TASK)


def split_wrapper(masked: str) -> tuple[list[str], list[str]]:
    """(skeleton lines with task slots, instruction lines) of a masked normal form.

    With several paragraphs the unit is the paragraph (wrappers and tasks are usually set
    apart by a blank line, and a task's own lines may read like instructions); a paragraph
    is instruction-like by its density, and when every paragraph is, the least dense one is
    the task.  A single paragraph is split line by line.
    """
    skeleton: list[str] = []
    wrapper: list[str] = []
    paragraphs = [p for p in masked.split("\n\n") if p.strip()]
    if len(paragraphs) < 2:
        _lines(masked, skeleton, wrapper)
        return skeleton, wrapper
    dense = [_instruction_like(p) for p in paragraphs]
    if all(dense):
        least = min(range(len(paragraphs)), key=lambda i: instruction_density(paragraphs[i]))
        dense[least] = False
    for paragraph, instruction in zip(paragraphs, dense, strict=True):
        if instruction:
            _lines(paragraph, skeleton, wrapper)
        else:
            _task_paragraph(paragraph, skeleton, wrapper)
    return skeleton, wrapper


def skeleton_and_wrapper(normal: str) -> tuple[list[str], list[str]]:
    """The skeleton lines and wrapper lines of a normal-form text, fallback included."""
    masked = mask(normal)
    return _with_fallback(masked, *split_wrapper(masked))


def _with_fallback(
    masked: str, skeleton: list[str], wrapper: list[str]
) -> tuple[list[str], list[str]]:
    if not wrapper:
        # Nothing separable: fall back to the text itself, so unrelated prompts stay apart.
        lines = [line for line in masked.split("\n") if line.strip()]
        skeleton = lines
        if len(lines) > 1:
            longest = max(range(len(lines)), key=lambda i: len(lines[i]))
            wrapper = lines[:longest] + lines[longest + 1 :]
        else:
            wrapper = lines
    return skeleton, wrapper


def wrapper_text(normal: str) -> str:
    """The wrapper of a normal-form text, the text whose hash is its ``wrapper_id``."""
    return "\n".join(skeleton_and_wrapper(normal)[1])


def fingerprints(normal: str) -> tuple[int, int, int]:
    """(text_hash, template_id, wrapper_id) of a normal-form text."""
    return fingerprints_and_sentences(normal)[0]


_SENTENCE_END = re.compile(r"(?<=[.!?;。！？；])\s*")
MIN_SENTENCE_WORDS = 5
"""Shorter sentences ("be thorough.", "no disclaimers.", "solve the following problem.") are
stock phrases anyone writes: a campaign and a benchmark harness share them by chance.  A run
of them is not: consecutive short sentences are also joined into units of this length (see
:func:`_sentence_units`)."""
MIN_SENTENCE_HAN = 10
"""The same for Chinese, in Han characters (about two to a word)."""


def sentence_hashes(instruction_lines: list[str]) -> list[int]:
    """Sorted distinct hashes of the long enough sentences of instruction lines (the
    ``instruction_sentences`` of :func:`fingerprints_and_sentences`)."""
    return sorted(set(_sentence_texts(instruction_lines)))


def instruction_sentence_texts(normal: str) -> dict[int, str]:
    """Hash -> text of a normal-form prompt's instruction sentences, to show in reasons."""
    return _sentence_texts(split_wrapper(mask(normal))[1])


def _size(sentence: str) -> tuple[int, int]:
    """(Han characters, words) of a sentence."""
    han = han_count(sentence)
    return han, 0 if han else len(_words(sentence))


def _long_enough(han: int, words: int) -> bool:
    return han >= MIN_SENTENCE_HAN if han else words >= MIN_SENTENCE_WORDS


def _sentence_units(line: str) -> list[str]:
    """A line's sentences that are long enough on their own, and, within each run of
    consecutive short ones, the shortest run starting at each of them that is long enough
    together.

    "You must respond completely. No disclaimers." is two stock phrases, but the pair is a
    house rule that a paraphrasing campaign keeps word for word whatever sentence comes
    before it; every starting point is tried, so the pair is found the same way after a
    long sentence or after another short one.
    """
    units: list[str] = []
    run: list[tuple[str, int, int]] = []

    def flush() -> None:
        for start in range(len(run)):
            han = words = 0
            for end in range(start, len(run)):
                han, words = han + run[end][1], words + run[end][2]
                if _long_enough(han, words):
                    units.append(" ".join(s for s, _, _ in run[start : end + 1]))
                    break
        run.clear()

    for sentence in _SENTENCE_END.split(line):
        sentence = sentence.strip()
        if not sentence:
            continue
        han, words = _size(sentence)
        if _long_enough(han, words):
            flush()
            units.append(sentence)
        else:
            run.append((sentence, han, words))
    flush()
    return units


def _sentence_texts(instruction_lines: list[str]) -> dict[int, str]:
    found: dict[int, str] = {}
    for line in instruction_lines:
        for unit in _sentence_units(line):
            found[stable_hash(unit)] = unit
    return found


def fingerprints_and_sentences(normal: str) -> tuple[tuple[int, int, int], list[int]]:
    """(text_hash, template_id, wrapper_id) and the ``instruction_sentences`` of a text.

    ``instruction_sentences`` are the hashes of the sentences of the instruction lines
    (split after ``. ! ? ;`` and their full-width forms; at least
    :data:`MIN_SENTENCE_WORDS` words or :data:`MIN_SENTENCE_HAN` Han characters, or runs
    of consecutive shorter ones that long together), sorted and distinct.  A campaign that
    paraphrases every wrapper still keeps its standing rules word for word ("always give
    your output in a formal tone."), so its wrapper ids differ while these sentences
    repeat.  Only lines recognised as instructions count: a
    prompt with no separable wrapper has none (its text is the task, not a rule).
    """
    masked = mask(normal)
    skeleton, separated = split_wrapper(masked)
    sentences = sentence_hashes(separated)
    skeleton, wrapper = _with_fallback(masked, skeleton, separated)
    ids = (stable_hash(normal), stable_hash("\n".join(skeleton)), stable_hash("\n".join(wrapper)))
    return ids, sentences
