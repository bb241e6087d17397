"""Streaming state behind the online signals: the store protocol and the in-memory store.

The guard needs three things per request, all bounded in memory and time:

* the account's request count over a sliding window (two fixed buckets, the previous one
  weighted by how much of it still overlaps the window: the usual sliding-window counter);
* how many distinct *busy* accounts sent the same instruction wrapper over the window
  (a HyperLogLog per wrapper and bucket, unioned across the two buckets);
* token buckets for the ``throttle`` action, per account and per cluster.

:class:`MemoryStore` keeps them in this process (one gateway); :class:`RedisStore`
(:mod:`.redis_store`) in Redis, shared by a fleet of gateway replicas.  Both raise
:class:`StoreUnavailable` when they cannot answer, and the guard applies the policy's fail
mode; neither ever raises anything else for a backend failure.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from distillguard.guard.sketches import CountMinSketch, HyperLogLog

HEAVY_WRAPPER_REQUESTS = 3
"""A wrapper gets its own HyperLogLog only once the count-min sketch has seen it this many
times in the bucket: one-off prompts (most chat) never cost a sketch."""
MAX_TRACKED_ACCOUNTS = 1_000_000
MAX_TRACKED_WRAPPERS = 100_000


class StoreUnavailable(RuntimeError):
    """The state backend did not answer; the guard falls back to the policy's fail mode."""


@dataclass(frozen=True)
class Observation:
    """One request to count."""

    account_id: str
    now: float
    window_seconds: float
    wrapper: str | None
    """The instruction wrapper id, or None when the prompt has none (plain chat)."""
    coordination_min_rate: float


@dataclass(frozen=True)
class OnlineCounts:
    """What the store knows right after counting a request."""

    account_requests: float
    """Requests from the account over the sliding window, this one included."""
    wrapper_accounts: int
    """Distinct busy accounts that sent this wrapper over the window (0 without a wrapper)."""


class StateStore(Protocol):
    """Where the guard keeps streaming state."""

    def observe(self, observation: Observation) -> OnlineCounts:
        """Count one request and return the window counts."""
        ...

    def take_token(self, key: str, rate_per_minute: float, burst: float, now: float) -> bool:
        """Take one token from bucket ``key``; False when it is empty."""
        ...

    def ping(self) -> bool:
        """Whether the backend answers now."""
        ...

    def close(self) -> None: ...


def bucket_of(now: float, window: float) -> tuple[int, float]:
    """(index of the fixed bucket holding ``now``, weight of the previous bucket)."""
    index = math.floor(now / window)
    elapsed = now / window - index
    return index, 1.0 - elapsed


class _WrapperWindow:
    """Distinct busy accounts of one wrapper: this bucket's sketch and the union with the
    previous bucket's (kept up to date on add, so counting costs nothing extra)."""

    __slots__ = ("current", "index", "window")

    def __init__(self, index: int) -> None:
        self.index = index
        self.current = HyperLogLog()
        self.window = HyperLogLog()

    def roll(self, index: int) -> None:
        if index == self.index:
            return
        self.window = self.current.copy() if index == self.index + 1 else HyperLogLog()
        self.current = HyperLogLog()
        self.index = index

    def add(self, account_id: str) -> None:
        self.current.add(account_id)
        self.window.add(account_id)


class _LRU(OrderedDict[str, object]):
    """A dict that forgets its least recently used keys beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def touch(self, key: str, make: Callable[[], object]) -> object:
        value = self.get(key)
        if value is None:
            value = make()
            self[key] = value
            if len(self) > self.limit:
                self.popitem(last=False)
        else:
            self.move_to_end(key)
        return value


class MemoryStore:
    """All state in this process; thread-safe; memory bounded by LRU limits and sketches."""

    def __init__(
        self,
        max_accounts: int = MAX_TRACKED_ACCOUNTS,
        max_wrappers: int = MAX_TRACKED_WRAPPERS,
    ) -> None:
        self._lock = threading.Lock()
        self._accounts: _LRU = _LRU(max_accounts)  # id -> [bucket, current, previous]
        self._wrappers: _LRU = _LRU(max_wrappers)  # wrapper -> _WrapperWindow
        self._wrapper_counts: dict[int, CountMinSketch] = {}
        self._tokens: _LRU = _LRU(max_accounts)  # key -> [tokens, updated]

    def observe(self, observation: Observation) -> OnlineCounts:
        index, previous_weight = bucket_of(observation.now, observation.window_seconds)
        with self._lock:
            slot = self._accounts.touch(observation.account_id, lambda: [index, 0, 0])
            assert isinstance(slot, list)
            if slot[0] != index:
                slot[2] = slot[1] if slot[0] == index - 1 else 0
                slot[0], slot[1] = index, 0
            slot[1] += 1
            requests = slot[1] + slot[2] * previous_weight
            distinct = 0
            if observation.wrapper is not None:
                distinct = self._wrapper_accounts(
                    observation, index, busy=requests >= observation.coordination_min_rate
                )
        return OnlineCounts(account_requests=requests, wrapper_accounts=distinct)

    def _wrapper_accounts(self, observation: Observation, index: int, *, busy: bool) -> int:
        assert observation.wrapper is not None
        for stale in [b for b in self._wrapper_counts if b < index - 1]:
            del self._wrapper_counts[stale]
        counts = self._wrapper_counts.setdefault(index, CountMinSketch())
        if counts.add(observation.wrapper) < HEAVY_WRAPPER_REQUESTS and not busy:
            return 0
        sketches = self._wrappers.touch(observation.wrapper, lambda: _WrapperWindow(index))
        assert isinstance(sketches, _WrapperWindow)
        sketches.roll(index)
        if busy:
            sketches.add(observation.account_id)
        return sketches.window.count()

    def take_token(self, key: str, rate_per_minute: float, burst: float, now: float) -> bool:
        with self._lock:
            state = self._tokens.touch(key, lambda: [burst, now])
            assert isinstance(state, list)
            tokens = min(burst, state[0] + max(0.0, now - state[1]) * rate_per_minute / 60.0)
            state[1] = now
            if tokens >= 1.0:
                state[0] = tokens - 1.0
                return True
            state[0] = tokens
            return False

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        with self._lock:
            self._accounts.clear()
            self._wrappers.clear()
            self._wrapper_counts.clear()
            self._tokens.clear()
