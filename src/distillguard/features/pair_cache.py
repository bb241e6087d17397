"""A bounded memory of features already computed for a (prompt, system prompt) pair.

Scripted traffic and popular prompts repeat across the whole log, not only inside one batch,
so a worker that features batch after batch meets the same pairs again; the text work for a
pair (normal form, fingerprints, shingles, MinHash, classifier) is a pure function of the
pair, so its result can be kept and reused without changing any feature value.

Keys are the 128-bit xxh3 digest of the pair (length-prefixed, so two different pairs
cannot spell the same string), which keeps an entry to about 300 bytes whatever the prompt's
length.  When full, the oldest quarter of the entries is dropped (first in, first out):
memory stays bounded and a campaign's recurring prompts are re-entered on their next use.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice

import xxhash

DEFAULT_ENTRIES = 300_000
"""About 100 MB per worker at ~300 bytes an entry."""


@dataclass(frozen=True, slots=True)
class PairFeatures:
    """Everything :func:`features_for_batch` derives from one distinct pair's text."""

    lang: str
    chars: int
    truncated: bool
    hashes: tuple[int, int, int]
    bands: tuple[int, ...]
    signals: tuple[float, float, float, float, float]
    code: bool
    math: bool
    sentences: tuple[int, ...] = ()
    """Hashes of the prompt's instruction sentences (``instruction_sentences``)."""


def pair_key(prompt: str, system: str) -> int:
    """The cache key of a pair: xxh3-128 of ``len(prompt):prompt`` followed by the system."""
    text = f"{len(prompt)}:{prompt}{system}".encode("utf-8", "surrogatepass")
    key: int = xxhash.xxh3_128_intdigest(text)
    return key


class PairCache:
    """Features of recently seen pairs, at most ``entries`` of them."""

    def __init__(self, entries: int = DEFAULT_ENTRIES) -> None:
        self.entries = max(int(entries), 1)
        self._items: dict[int, PairFeatures] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: int) -> PairFeatures | None:
        """The features stored under ``key``, counting the hit or miss."""
        found = self._items.get(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: int, features: PairFeatures) -> None:
        """Remember one pair, dropping the oldest quarter first when the cache is full."""
        if len(self._items) >= self.entries:
            for old in list(islice(self._items, max(self.entries // 4, 1))):
                del self._items[old]
        self._items[key] = features
