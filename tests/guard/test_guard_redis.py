"""The Redis store against a real redis-server: shared state for replicas, and faults.

Each test starts its own redis-server on a free port (no persistence, so a restart loses
everything, which is the worst case the guard must survive)."""

from __future__ import annotations

import time
from pathlib import Path

from guard_services import RedisServer, free_port, write_verdicts
from test_guard_core import campaign_request, policy_text

from distillguard.guard.core import Fixed, Guard
from distillguard.guard.redis_store import RedisStore
from distillguard.guard.request import GuardRequest
from distillguard.guard.store import MemoryStore, Observation
from distillguard.guard.verdicts import load_verdicts
from distillguard.policy.audit import AuditLog, read_audit
from distillguard.policy.model import Action
from distillguard.policy.parser import parse_policy


def observation(account: str, now: float, wrapper: str | None = "w1") -> Observation:
    return Observation(account, now, 60.0, wrapper, coordination_min_rate=2)


def test_redis_counts_like_the_memory_store(redis_server: RedisServer) -> None:
    redis_store, memory = RedisStore(redis_server.url), MemoryStore()
    for i in range(90):
        obs = observation(f"a{i % 6}", 1_000.0 + i * 1.3, wrapper="w1" if i % 3 else None)
        r, m = redis_store.observe(obs), memory.observe(obs)
        assert abs(r.account_requests - m.account_requests) < 1e-6
        assert r.wrapper_accounts == m.wrapper_accounts or obs.wrapper is None
    grants = [redis_store.take_token("account:a", 60, 3, 5_000.0 + i * 0.1) for i in range(6)]
    assert grants == [True, True, True, False, False, False]
    assert redis_store.take_token("account:a", 60, 3, 5_002.0)  # refilled one a second
    assert redis_store.ping()
    redis_store.close()


def test_two_replicas_share_one_view_of_a_campaign(redis_server: RedisServer) -> None:
    policy = Fixed(parse_policy(policy_text()))
    replicas = [Guard(policy, RedisStore(redis_server.url)) for _ in range(2)]
    actions = [replicas[i % 2].decide(campaign_request(i)).action for i in range(200)]
    assert Action.THROTTLE in actions
    first_block = actions.index(Action.BLOCK)
    assert actions.index(Action.THROTTLE) < first_block
    assert set(actions[first_block:]) == {Action.BLOCK}


def test_redis_restart_mid_run_keeps_the_fail_mode_and_rebuilds(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    results = write_verdicts(tmp_path / "scan", ["known-bad"], score=0.85)
    store = RedisStore(redis_server.url, retry_seconds=0.2)
    guard_open = Guard(
        Fixed(parse_policy(policy_text("open"))),
        store,
        verdicts=Fixed(load_verdicts(results)),
        audit=AuditLog(tmp_path / "audit.jsonl"),
    )
    guard_closed = Guard(Fixed(parse_policy(policy_text("closed"))), store)
    for i in range(60):
        guard_open.decide(campaign_request(i, start=time.time()))
    before = guard_open.decide(campaign_request(60, start=time.time()))
    assert before.degraded is None and before.action is not Action.ALLOW

    redis_server.stop()
    started = time.monotonic()
    down = [guard_open.decide(campaign_request(61 + i, start=time.time())) for i in range(20)]
    assert time.monotonic() - started < 5  # a dead store costs one short timeout, not a hang
    assert all(d.degraded for d in down)
    assert all(d.allowed for d in down)  # fail-open: served, on batch verdicts alone
    assert {r.detector for r in down[0].reasons} == {"DG-790"}
    known = guard_open.decide(GuardRequest("known-bad", "hello"))
    assert known.degraded and known.action is Action.BLOCK  # batch verdicts still hold
    closed = guard_closed.decide(GuardRequest("someone", "hello"))
    assert closed.degraded and not closed.allowed and closed.http_status == 403
    assert store.failures >= 1 and not store.ping()

    redis_server.start()
    time.sleep(0.3)  # past the store's retry interval
    after = [guard_open.decide(campaign_request(200 + i, start=time.time())) for i in range(120)]
    assert after[0].degraded is None
    assert after[0].action in (Action.ALLOW, Action.MONITOR)  # state was lost with Redis...
    assert Action.BLOCK in {d.action for d in after}  # ...and rebuilt from live traffic
    degraded_audit = [e for e in read_audit(tmp_path / "audit.jsonl") if e["degraded"]]
    assert degraded_audit and all(e["reasons"] for e in degraded_audit)


def test_unreachable_redis_fails_fast_in_both_modes() -> None:

    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    for mode, allowed in (("open", True), ("closed", False)):
        guard = Guard(Fixed(parse_policy(policy_text(mode))), store)
        decision = guard.decide(campaign_request(1))
        assert decision.degraded and decision.allowed is allowed
