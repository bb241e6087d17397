"""Text fast paths (normal form, words, instruction density) give the regex rules' result.

The normal form is part of the shared fingerprint spec (docs/intel.md), so the faster
``normalize`` must agree with the rules as first written, character for character, on any
text: ASCII and not, with digits, odd whitespace and runs of line breaks.
"""

from __future__ import annotations

import re
import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

from distillguard.features.minhash import ascii_words
from distillguard.features.templates import INSTRUCTION_WORDS, INSTRUCTION_ZH, instruction_density
from distillguard.features.text import ZERO_WIDTH, normalize

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SPACES = re.compile(r"[^\S\n]{2,}|[^\S\n ]")
_PARAGRAPH = re.compile(r"[^\S\n]*\n\s*\n\s*")
_BREAK = re.compile(r"[^\S\n]*\n[^\S\n]*")
_ZERO_WIDTH_TABLE = dict.fromkeys(map(ord, ZERO_WIDTH))


def reference_normalize(text: str) -> str:
    """Steps 2–6 of the normal form, each one regex pass, as the spec states them."""
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH_TABLE)
    text = _NUMBER.sub("0", text.casefold())
    text = _SPACES.sub(" ", text)
    text = _PARAGRAPH.sub("\n\n", text)
    text = _BREAK.sub("\n", text)
    return text.strip()


PIECES = st.sampled_from(
    [
        " ",
        "  ",
        "\n",
        "\n\n",
        " \n ",
        "\t",
        "\r\n",
        "\x0b",
        "\x1c",
        "\u2028",
        "\xa0",
        "\u3000",
        "12",
        "3.5",
        "1,000",
        "٣",
        "１２",
        "a",
        "Word",
        "ß",
        "İ",
        "中文",
        "\u200b",
        "x\ny",
        ".",
        ",",
    ]
)
texts = st.lists(PIECES, max_size=40).map("".join)


@given(texts)
@settings(max_examples=400, deadline=None)
@example("a \n \n b")
@example("line one \n\n\n\n  line two\t\n x")
@example("1.2.3 , 4,5 .6")
def test_normalize_matches_the_regex_rules_on_built_texts(text: str) -> None:
    assert normalize(text) == reference_normalize(text)


@given(st.text(max_size=200))
@settings(max_examples=400, deadline=None)
def test_normalize_matches_the_regex_rules_on_any_text(text: str) -> None:
    assert normalize(text) == reference_normalize(text)


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=200))
@settings(max_examples=400, deadline=None)
def test_normalize_matches_the_regex_rules_on_ascii(text: str) -> None:
    assert normalize(text) == reference_normalize(text)


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=300))
@settings(max_examples=400, deadline=None)
def test_ascii_words_are_the_regex_words(text: str) -> None:
    assert ascii_words(text) == re.findall(r"\w+", text)


def _reference_density(line: str) -> float:
    words = re.findall(r"[^\W\d_]+", line)
    han = len(re.findall(r"[\u3400-\u9fff]", line))
    hits = sum(1 for w in words if w in INSTRUCTION_WORDS)
    if han:
        hits += 2 * len(INSTRUCTION_ZH.findall(line))
        total = len(words) - sum(1 for w in words if re.match(r"[\u3400-\u9fff]", w)) + han
    else:
        total = len(words)
    return hits / total if total else 0.0


@given(
    st.lists(st.sampled_from([*sorted(INSTRUCTION_WORDS)[:40], "x1", "a_b", "中文", "步骤"])).map(
        lambda ws: " ".join(ws)
    )
    | st.text(max_size=120)
)
@settings(max_examples=400, deadline=None)
def test_instruction_density_is_the_regex_density(line: str) -> None:
    assert instruction_density(line) == _reference_density(line)
