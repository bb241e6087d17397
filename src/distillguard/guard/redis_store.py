"""The Redis state store: one shared state for a fleet of gateway replicas.

Each request costs one round trip: a Lua script increments the account's bucket, reads the
previous one, adds the account to the wrapper's HyperLogLog (Redis ``PFADD``; the union of
two buckets with ``PFCOUNT``) and returns both counts.  Token buckets are another script,
so refill and take are atomic across replicas.  Keys expire with their window, so Redis
memory follows the live traffic, not history.

Failure behaviour: socket timeouts are short and redis-py's retries are off, so a dead
Redis costs a request at most one timeout; after a failure the store stays *open-circuit*
for ``retry_seconds`` (answering :class:`StoreUnavailable` at once) and then tries again.
When Redis comes back empty (restarted without persistence) the counts rebuild from live
traffic within one window; scripts are re-loaded automatically.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from distillguard.guard.store import Observation, OnlineCounts, StoreUnavailable, bucket_of

_OBSERVE = """
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local requests = current + previous * tonumber(ARGV[2])
local distinct = 0
if ARGV[5] == '1' then
  if requests >= tonumber(ARGV[3]) then
    redis.call('PFADD', KEYS[3], ARGV[4])
    redis.call('EXPIRE', KEYS[3], ARGV[1])
  end
  distinct = redis.call('PFCOUNT', KEYS[3], KEYS[4])
end
return {tostring(requests), distinct}
"""

_TAKE_TOKEN = """
local state = redis.call('HMGET', KEYS[1], 't', 'u')
local rate = tonumber(ARGV[1]) / 60.0
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local tokens = tonumber(state[1]) or burst
local updated = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate)
local granted = 0
if tokens >= 1 then
  tokens = tokens - 1
  granted = 1
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'u', tostring(now))
redis.call('EXPIRE', KEYS[1], ARGV[4])
return granted
"""


class RedisStore:
    """State in Redis at ``url`` (``redis://host:port/db``), keys under ``prefix``."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "dg:",
        timeout_seconds: float = 0.05,
        retry_seconds: float = 1.0,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.retry_seconds = retry_seconds
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        self._observe = self._client.register_script(_OBSERVE)
        self._take = self._client.register_script(_TAKE_TOKEN)
        self._open_until = 0.0
        self._lock = threading.Lock()
        self.failures = 0

    def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        if time.monotonic() < self._open_until:
            raise StoreUnavailable(f"Redis at {self.url} failed recently; retrying shortly")
        try:
            return script(keys=keys, args=args)
        except redis.RedisError as error:
            with self._lock:
                self.failures += 1
                self._open_until = time.monotonic() + self.retry_seconds
            raise StoreUnavailable(f"Redis at {self.url}: {error}") from error

    def observe(self, observation: Observation) -> OnlineCounts:
        index, previous_weight = bucket_of(observation.now, observation.window_seconds)
        ttl = math.ceil(observation.window_seconds * 2) + 1
        p = self.prefix
        wrapper = observation.wrapper or ""
        keys = [
            f"{p}a:{observation.account_id}:{index}",
            f"{p}a:{observation.account_id}:{index - 1}",
            f"{p}w:{wrapper}:{index}",
            f"{p}w:{wrapper}:{index - 1}",
        ]
        args = [
            ttl,
            repr(previous_weight),
            repr(observation.coordination_min_rate),
            observation.account_id,
            "1" if observation.wrapper is not None else "0",
        ]
        requests, distinct = self._call(self._observe, keys, args)
        return OnlineCounts(account_requests=float(requests), wrapper_accounts=int(distinct))

    def take_token(self, key: str, rate_per_minute: float, burst: float, now: float) -> bool:
        refill = burst * 60.0 / rate_per_minute if rate_per_minute > 0 else 86_400.0
        args = [repr(rate_per_minute), repr(burst), repr(now), math.ceil(refill) + 60]
        return bool(self._call(self._take, [f"{self.prefix}t:{key}"], args))

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self._client.close()
