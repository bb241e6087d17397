"""Text normal form, cheap language guess and truncation of huge prompts.

Every fingerprint (text hash, template and wrapper ids, MinHash bands) is computed on the
*normal form* defined here, so that trivial evasions — full-width digits, zero-width
joiners, case, spacing, changing the numbers in a templated task — do not change it, and so
that a second provider who follows these steps gets the same fingerprints:

1. truncate: texts longer than :data:`MAX_CHARS` keep the first :data:`HEAD_CHARS` and the
   last :data:`TAIL_CHARS` characters joined by ``"\\n...\\n"`` (harvest instructions sit at
   the head or the tail of a prompt; the middle of a 1 MB paste tells us nothing more);
2. Unicode NFKC (full-width forms and compatibility characters fold to their plain form);
3. remove zero-width and invisible format characters (:data:`ZERO_WIDTH`);
4. ``str.casefold()``;
5. every run of decimal digits (with ``.``/``,`` separators inside) becomes ``0``;
6. every run of whitespace becomes one space, except that line breaks are kept: a run
   holding two or more breaks becomes one blank line ``\\n\\n`` (a paragraph break), one
   break becomes ``\\n`` (templates are line- and paragraph-structured); ends are stripped.

The language guess is by script share, not a model: Latin letters count as ``en``, Han
characters as ``zh`` (each weighted ×3, since one character carries about a word), Cyrillic
as ``ru``; any other script that dominates gives ``other`` and a text without letters
``und``.  It does not tell English from French; it only needs to route the CJK shingling
and describe campaigns' languages.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_CHARS = 20_000
"""Prompts longer than this are truncated before any feature is computed."""
HEAD_CHARS = 15_000
TAIL_CHARS = 5_000
ELLIPSIS = "\n...\n"

ZERO_WIDTH = (
    "\u00ad\u034f\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"
)
"""Invisible characters removed by the normal form (soft hyphen, joiners, marks, BOM)."""

_ZERO_WIDTH_TABLE = dict.fromkeys(map(ord, ZERO_WIDTH))
_SPACE_CEILING = 0x3001
"""Every character ``str.isspace`` accepts lies below this (U+3000 is the last one)."""
_ODD_SPACES = "".join(
    ch for ch in map(chr, range(_SPACE_CEILING)) if ch.isspace() and ch not in " \n"
)
"""Characters other than " " and "\\n" that ``\\s`` matches (``str.isspace``): a text holding
none of them and no "  " is left as it is by the space rule."""
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SPACES = re.compile(r"[^\S\n]{2,}|[^\S\n ]")
"""Runs of spaces other than a line break, except a lone " " (already what the rule makes):
the same text as replacing every run, without one replacement per word."""
_PARAGRAPH = re.compile(r"[^\S\n]*\n\s*\n\s*")
_BREAK = re.compile(r"[^\S\n]*\n[^\S\n]*")
_BLANK_RUN = re.compile(r"\n{3,}")
_ASCII_DIGITS = "0123456789"
_DIGIT_TO_ZERO = bytes.maketrans(_ASCII_DIGITS.encode(), b"0" * len(_ASCII_DIGITS))
_ZERO_RUN = re.compile(r"0+(?:[.,]0+)*")
_ASCII_ODD_SPACES = _ODD_SPACES[:8]
"""The ASCII ones among them (tab, CR, VT, FF and the separators U+001C..U+001F)."""

_LATIN = re.compile(r"[a-zA-Z\u00c0-\u024f]+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]+")
_ANY_LETTER = re.compile(r"[^\W\d_]+")
"""Runs of each script's letters: the characters of the runs are the characters of the
class, and a run is one match (and one list item) where a character would be one each."""
_ASCII_LETTER = re.compile(r"[a-zA-Z]")
LANG_SAMPLE_CHARS = 2_000
"""The language guess reads this many leading characters (enough, and bounded)."""
HAN_WEIGHT = 3


@dataclass(frozen=True)
class Prepared:
    """A prompt cut to size and put in normal form."""

    text: str
    """The normal form (see module docstring)."""
    chars: int
    """Length of the original text, before truncation."""
    truncated: bool


def truncate(text: str, limit: int = MAX_CHARS) -> tuple[str, bool]:
    """Keep the head and tail of a text longer than ``limit``; say whether it was cut."""
    if len(text) <= limit:
        return text, False
    tail = min(TAIL_CHARS, limit // 4)
    head = limit - tail
    return text[:head] + ELLIPSIS + text[-tail:], True


def normalize(text: str) -> str:
    """The documented normal form of an (already truncated) text.

    ASCII text is already in NFKC and holds no zero-width character, text without a line
    break needs no paragraph or break rule, and text without a whitespace run or an odd
    space (:data:`_ODD_SPACES`) needs no space rule, so those steps are skipped for it (the
    result is the same; it runs once per distinct prompt of a scan, on up to 20k chars).
    """
    ascii_text = text.isascii()
    if not ascii_text:
        text = unicodedata.normalize("NFKC", text)
        # ``str.translate`` looks every character up in a dict; few texts hold any of them.
        if any(mark in text for mark in ZERO_WIDTH):
            text = text.translate(_ZERO_WIDTH_TABLE)
    text = text.casefold()
    if not ascii_text:
        text = _NUMBER.sub("0", text)
    elif any(digit in text for digit in _ASCII_DIGITS):
        # In ASCII text ``\\d`` is 0-9: make every digit a 0, then fold each run of zeros
        # (with separators inside) to one; a pattern that starts with a literal is fast.
        zeros = text.encode("ascii").translate(_DIGIT_TO_ZERO).decode("ascii")
        text = _ZERO_RUN.sub("0", zeros)
    odd_spaces = _ASCII_ODD_SPACES if ascii_text else _ODD_SPACES
    if "  " in text or any(space in text for space in odd_spaces):
        text = _SPACES.sub(" ", text)
    if "\n" in text:
        text = _line_breaks(text)
    return text.strip()


def _line_breaks(text: str) -> str:
    """Steps 6's break rule on a text whose other whitespace runs are already one space.

    The same result as replacing ``[^\\S\\n]*\\n\\s*\\n\\s*`` by a blank line and then
    ``[^\\S\\n]*\\n[^\\S\\n]*`` by a break, in a few passes of ``str.replace``: after the
    space rule a break has at most one space on each side, and breaks only meet breaks.
    (Python's ``re`` tries a pattern that starts with a class at every position; this runs
    once per distinct prompt, so the difference is a large share of the feature stage.)
    """
    text = text.replace(" \n", "\n").replace("\n ", "\n")
    while "\n\n\n" in text:
        text = _BLANK_RUN.sub("\n\n", text)
    return text


def prepare(text: str) -> Prepared:
    """Truncate, then normalise: the one entry point feature code uses."""
    cut, truncated = truncate(text)
    return Prepared(normalize(cut), len(text), truncated)


def guess_language(text: str) -> str:
    """``en``, ``zh``, ``ru``, ``other`` or ``und`` from the share of each script's letters."""
    sample = text[:LANG_SAMPLE_CHARS]
    if sample.isascii():
        # Only Latin letters can occur: "en" when there is one, else "und" (same rule).
        return "en" if _ASCII_LETTER.search(sample) else "und"
    han = _count(_HAN, sample) * HAN_WEIGHT
    latin = _count(_LATIN, sample)
    cyrillic = _count(_CYRILLIC, sample)
    letters = _count(_ANY_LETTER, sample)
    other = max(letters - latin - cyrillic - han // HAN_WEIGHT, 0)
    if not letters:
        return "und"
    best = max((latin, "en"), (han, "zh"), (cyrillic, "ru"), (other, "other"))
    return best[1]


def _count(runs: re.Pattern[str], text: str) -> int:
    """How many characters of ``text`` are in the class whose runs ``runs`` matches."""
    return sum(map(len, runs.findall(text)))


def is_cjk_heavy(text: str) -> bool:
    """Whether Han characters dominate, so words are not space-separated."""
    return guess_language(text) == "zh"
