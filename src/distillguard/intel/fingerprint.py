"""The shared prompt-template fingerprint (spec ``distillguard-template-v1``).

Two providers hit by one campaign see different *tasks* (each harvests its own prompt pool)
wrapped in the same *instructions*.  The fingerprint is therefore taken over the wrapper,
not the whole prompt, and built only from steps that are already documented and fixed:

1. **Normal form** of the prompt (:func:`distillguard.features.text.prepare`: truncation,
   NFKC, zero-width removal, casefold, digits → ``0``, whitespace collapsed).
2. **Wrapper**: the instruction lines of the normal form, task lines removed
   (:func:`distillguard.features.templates.wrapper_text`; the text whose xxhash64 is the
   scan's ``wrapper_id``).
3. **Shingles**: :func:`distillguard.features.minhash.shingles` of the wrapper, with the
   language guessed on the wrapper itself (3-word shingles; 5-character shingles for ``zh``).
4. **MinHash and bands**: MinHash spec v1 (:mod:`distillguard.features.minhash`): rensa
   ``RMinHash`` algorithm 2, 64 permutations, seed 20260101, 16 bands of 4 rows, each band
   folded into one signed 64-bit band key.
5. **Keyed band tokens**: band *b* with key *h* becomes
   ``HMAC-SHA256(sharing key, "template_band|<b>:<h>")`` (:mod:`.keys`).

Only the 16 tokens leave.  Each band key is a hash of four minima of hashed shingles, so the
prompt cannot be rebuilt from it; the keyed step also stops anyone without the community key
from testing a guessed template against a bundle.  Two wrappers match when at least
:data:`MIN_BANDS` of their 16 tokens are equal: a band agrees with probability ``s**4`` for
Jaccard similarity *s*, so 4 agreeing bands happen 93% of the time at s = 0.8, 15% at
s = 0.6 and 2% at s = 0.5 — near-identical instructions, not a shared phrase.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from distillguard.features.minhash import BANDS, lsh_bands_many, shingles
from distillguard.features.templates import wrapper_text
from distillguard.features.text import guess_language, prepare
from distillguard.intel.keys import SharingKey

SPEC = "distillguard-template-v1"
MIN_BANDS = 4
"""Agreeing band tokens needed for two wrappers to count as the same template."""
TOKEN_KIND = "template_band"


def prompt_wrapper(prompt: str) -> str:
    """Steps 1–2: the wrapper of a raw prompt text."""
    return wrapper_text(prepare(prompt).text)


def wrapper_band_keys(wrappers: Sequence[str]) -> list[list[int]]:
    """Steps 3–4 for many wrappers: 16 band keys each, or an empty list (no words)."""
    token_sets = [shingles(w, guess_language(w)) for w in wrappers]
    return lsh_bands_many(token_sets)


def band_tokens(key: SharingKey, bands: Sequence[int]) -> tuple[str, ...]:
    """Step 5: the keyed tokens of one wrapper's band keys, in band order."""
    if bands and len(bands) != BANDS:
        raise ValueError(f"a template fingerprint has {BANDS} bands, got {len(bands)}")
    return tuple(key.token(TOKEN_KIND, f"{b}:{h}") for b, h in enumerate(bands))


def prompt_fingerprint(key: SharingKey, prompt: str) -> tuple[str, ...]:
    """The shared fingerprint of one raw prompt (empty when its wrapper has no words)."""
    return band_tokens(key, wrapper_band_keys([prompt_wrapper(prompt)])[0])


def agreeing_bands(ours: Iterable[str], theirs: Iterable[str]) -> int:
    """How many band tokens two fingerprints share (tokens carry their band index)."""
    return len(set(ours) & set(theirs))
