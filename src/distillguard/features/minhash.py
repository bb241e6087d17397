"""MinHash LSH band keys: near-duplicate prompts share a band key, unrelated ones rarely do.

Specification (version :data:`SPEC_VERSION`; a second provider who follows it gets the same
keys, which is what lets two providers compare campaigns without sharing prompts):

1. **Text**: the normal form of :func:`distillguard.features.text.prepare` (truncated to
   20,000 characters, NFKC, zero-width removed, casefolded, digits → ``0``, spaces collapsed).
2. **Shingles** (the token set):

   * when the language guess is ``zh``: every run of :data:`CHAR_SHINGLE` = 5 consecutive
     non-whitespace characters (text with all whitespace removed); shorter texts give the
     whole text as one shingle;
   * otherwise: words are maximal runs of ``\\w`` (Python ``re``, Unicode); shingles are
     :data:`WORD_SHINGLE` = 3 consecutive words joined by one space; texts of 1–2 words
     give one shingle of those words;
   * a text without words or characters has no shingles and **no band keys** (empty list).
   * duplicate shingles count once (a set).
3. **MinHash**: ``rensa.RMinHash`` (rensa 0.5, ``RMinHash.ALGORITHM_VERSION == 2``, which
   fixes its token hash and permutations) over the UTF-8 shingle strings, with
   ``num_perm`` = :data:`NUM_PERM` = 64 and ``seed`` = :data:`MINHASH_SEED`; values are
   unsigned 32-bit.
4. **Bands**: :data:`BANDS` = 16 bands of :data:`ROWS` = 4 consecutive values (band *b* holds
   values ``4b .. 4b+3``).  Two texts with Jaccard similarity *s* share at least one band
   with probability ``1 - (1 - s**4)**16``: 0.96 at s = 0.6, 0.56 at s = 0.4, 0.02 at s = 0.2.
5. **Band key** (signed int64): with all arithmetic modulo 2**64,
   ``h = BAND_SEED + b``; for each of the band's 4 values *v* in order:
   ``h = fmix64(h * 0x9E3779B97F4A7C15 + v)``, where ``fmix64`` is MurmurHash3's 64-bit
   finaliser (``x ^= x >> 33; x *= 0xFF51AFD7ED558CCD; x ^= x >> 33;
   x *= 0xC4CEB93FE1A85EC5; x ^= x >> 33``); the key is ``h`` read as two's-complement int64.
   Including *b* keeps equal values in different bands apart.  Keys are listed by band.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

import numpy as np
import numpy.typing as npt
import rensa

SPEC_VERSION = 1
NUM_PERM = 64
BANDS = 16
ROWS = 4
MINHASH_SEED = 20260101
BAND_SEED = 0x0D15_7111
WORD_SHINGLE = 3
CHAR_SHINGLE = 5
RENSA_ALGORITHM_VERSION = 2

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB93FE1A85EC5)
_S33 = np.uint64(33)
_WORDS = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")

assert NUM_PERM == BANDS * ROWS
assert WORD_SHINGLE == 3, "shingles() builds word triples"


_ASCII_WORD_BYTES = bytes(
    c if chr(c).isascii() and (chr(c).isalnum() or chr(c) == "_") else ord(" ") for c in range(256)
)
"""Byte table keeping ASCII word characters (what ``\\w`` matches in ASCII) and blanking
the rest."""


def ascii_words(text: str) -> list[str]:
    """``re.findall(r"\\w+", text)`` for ASCII text, by one byte translation and a split
    (a regex led by a class is tried at every position: several times slower)."""
    return text.encode("ascii").translate(_ASCII_WORD_BYTES).decode("ascii").split()


def shingles(normal: str, lang: str) -> set[str]:
    """The token set of step 2 for a normal-form text and its language guess."""
    return set(shingle_list(normal, lang))


def shingle_list(normal: str, lang: str) -> list[str]:
    """The shingles of step 2 in text order, repeats included.

    A MinHash is a minimum over the tokens, so repeats and order change no digest: the
    feature stage hands this list to :func:`lsh_bands_many` as it is, which spares hashing
    every shingle into a set first (a third of the cost of shingling a prompt).
    """
    if lang == "zh":
        chars = _SPACE.sub("", normal)
        if not chars:
            return []
        if len(chars) <= CHAR_SHINGLE:
            return [chars]
        return [chars[i : i + CHAR_SHINGLE] for i in range(len(chars) - CHAR_SHINGLE + 1)]
    words = ascii_words(normal) if normal.isascii() else _WORDS.findall(normal)
    if len(words) < WORD_SHINGLE:
        return [" ".join(words)] if words else []
    # WORD_SHINGLE == 3 consecutive words, built from three shifted views (no slice per word).
    return [f"{a} {b} {c}" for a, b, c in zip(words, words[1:], words[2:], strict=False)]


def _fmix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    x = x ^ (x >> _S33)
    x = x * _M1
    x = x ^ (x >> _S33)
    x = x * _M2
    return x ^ (x >> _S33)


def band_keys(digests: npt.NDArray[np.uint32]) -> npt.NDArray[np.int64]:
    """Step 5 for a (documents × NUM_PERM) digest matrix: (documents × BANDS) int64 keys."""
    values = digests.astype(np.uint64).reshape(len(digests), BANDS, ROWS)
    h = np.broadcast_to(
        np.uint64(BAND_SEED) + np.arange(BANDS, dtype=np.uint64), (len(digests), BANDS)
    ).copy()
    with np.errstate(over="ignore"):
        for row in range(ROWS):
            h = _fmix64(h * _GOLDEN + values[:, :, row])
    return h.view(np.int64)


def digests(token_sets: Sequence[Collection[str]]) -> npt.NDArray[np.uint32]:
    """Step 3 for many token sets at once: a (documents × NUM_PERM) uint32 matrix.

    A token set may be given as a list with repeats (:func:`shingle_list`): the digest is
    the same as of its set."""
    if rensa.RMinHash.ALGORITHM_VERSION != RENSA_ALGORITHM_VERSION:
        raise RuntimeError(
            f"rensa RMinHash algorithm version {rensa.RMinHash.ALGORITHM_VERSION} differs "
            f"from {RENSA_ALGORITHM_VERSION} of the MinHash spec; band keys would not match"
        )
    if not token_sets:
        return np.zeros((0, NUM_PERM), dtype=np.uint32)
    matrix = rensa.RMinHash.digest_matrix_from_token_sets(
        [tokens if type(tokens) is list else list(tokens) for tokens in token_sets],
        NUM_PERM,
        MINHASH_SEED,
    )
    return np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(len(token_sets), NUM_PERM)


def lsh_bands_many(token_sets: Sequence[Collection[str]]) -> list[list[int]]:
    """Band keys (step 4–5) per token set (a set, or a list as :func:`digests` takes);
    an empty one gets an empty list."""
    keys = band_keys(digests(token_sets)).tolist()
    return [row if tokens else [] for row, tokens in zip(keys, token_sets, strict=True)]


def lsh_bands(normal: str, lang: str) -> list[int]:
    """Band keys of one normal-form text (convenience for tests and the online guard)."""
    return lsh_bands_many([shingles(normal, lang)])[0]
