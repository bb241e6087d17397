"""Bounded-memory sketches for the online guard: HyperLogLog and count-min.

The guard keeps state for every account and every prompt wrapper it sees, and a campaign
can rotate through millions of distinct wrappers and accounts.  Exact sets would grow with
the attack; these sketches do not:

``HyperLogLog``
    how many *distinct* accounts used a wrapper (Flajolet et al. 2007, with the linear
    counting correction for small sets).  ``2**precision`` one-byte registers; relative
    standard error ``1.04 / sqrt(2**precision)`` (3.25 % at the default precision 10).
    Redis's ``PFADD``/``PFCOUNT`` implement the same estimator for the Redis store.
``CountMinSketch``
    how many requests used a wrapper (Cormode & Muthukrishnan 2005): never under-counts,
    over-counts by at most ``e / width`` of the total with probability ``1 - exp(-depth)``.
    The memory store uses it to decide which wrappers are heavy enough to deserve a
    HyperLogLog of their own.

Both hash with xxhash64 (seeded per row), so estimates are deterministic across processes.
"""

from __future__ import annotations

import math

import xxhash

DEFAULT_PRECISION = 10
MIN_PRECISION = 4
MAX_PRECISION = 16
_HASH_BITS = 64


def _hash64(item: str, seed: int = 0) -> int:
    return xxhash.xxh64_intdigest(item.encode("utf-8"), seed)


class HyperLogLog:
    """Distinct-count estimate of the strings added, in ``2**precision`` bytes.

    The estimator's sum over registers is kept up to date as registers grow (as an exact
    integer, ``sum(2**(64 - r))``), so :meth:`count` costs O(1), not a pass over the
    registers: the guard counts on every request.
    """

    __slots__ = ("_registers", "_scaled_sum", "_zeros", "precision")

    def __init__(self, precision: int = DEFAULT_PRECISION) -> None:
        if not MIN_PRECISION <= precision <= MAX_PRECISION:
            raise ValueError(f"precision must be in [{MIN_PRECISION}, {MAX_PRECISION}]")
        self.precision = precision
        self._registers = bytearray(1 << precision)
        self._zeros = 1 << precision
        self._scaled_sum = (1 << precision) << _HASH_BITS

    def add(self, item: str) -> None:
        """Count ``item`` (adding it again changes nothing)."""
        value = _hash64(item)
        index = value >> (_HASH_BITS - self.precision)
        rest = value & ((1 << (_HASH_BITS - self.precision)) - 1)
        rank = (_HASH_BITS - self.precision) - rest.bit_length() + 1
        old = self._registers[index]
        if rank > old:
            self._registers[index] = rank
            self._scaled_sum += (1 << (_HASH_BITS - rank)) - (1 << (_HASH_BITS - old))
            if old == 0:
                self._zeros -= 1

    def copy(self) -> HyperLogLog:
        out = HyperLogLog(self.precision)
        out._registers = bytearray(self._registers)
        out._zeros, out._scaled_sum = self._zeros, self._scaled_sum
        return out

    def merge(self, other: HyperLogLog) -> HyperLogLog:
        """A new sketch counting the union of both (same precision required)."""
        if other.precision != self.precision:
            raise ValueError("cannot merge HyperLogLogs of different precision")
        out = HyperLogLog(self.precision)
        out._registers = bytearray(map(max, self._registers, other._registers))
        out._zeros = out._registers.count(0)
        out._scaled_sum = sum(1 << (_HASH_BITS - r) for r in out._registers)
        return out

    def count(self) -> int:
        """The estimated number of distinct items added."""
        m = len(self._registers)
        alpha = 0.7213 / (1 + 1.079 / m)
        estimate = alpha * m * m / (self._scaled_sum / float(1 << _HASH_BITS))
        if estimate <= 2.5 * m and self._zeros:
            estimate = m * math.log(m / self._zeros)
        return round(estimate)


class CountMinSketch:
    """Approximate per-key counts that never under-count, in ``width * depth`` integers."""

    __slots__ = ("_rows", "depth", "total", "width")

    def __init__(self, width: int = 2048, depth: int = 4) -> None:
        if width < 1 or depth < 1:
            raise ValueError("width and depth must be positive")
        self.width = width
        self.depth = depth
        self.total = 0
        self._rows = [[0] * width for _ in range(depth)]

    def add(self, key: str, count: int = 1) -> int:
        """Add ``count`` to ``key`` and return its new estimate."""
        if count < 0:
            raise ValueError("count-min sketches only count up")
        self.total += count
        best = None
        for seed, row in enumerate(self._rows):
            slot = _hash64(key, seed) % self.width
            row[slot] += count
            best = row[slot] if best is None else min(best, row[slot])
        return best or 0

    def estimate(self, key: str) -> int:
        """The estimated count of ``key`` (at least its true count)."""
        return min(row[_hash64(key, seed) % self.width] for seed, row in enumerate(self._rows))
