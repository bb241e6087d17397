"""The guard's decisions with the in-memory store: campaigns, customers, batch verdicts,
appeals, audit, and reloading files while serving."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import orjson
import pytest
from guard_services import write_verdicts

from distillguard.guard.core import Fixed, Guard
from distillguard.guard.request import (
    GuardRequest,
    MalformedRequest,
    client_subnet,
    parse_request,
    request_features,
)
from distillguard.guard.settings import GuardSettings, build_runtime
from distillguard.guard.store import MemoryStore
from distillguard.guard.verdicts import load_verdicts
from distillguard.policy.appeals import read_appeals, record_appeal
from distillguard.policy.audit import AuditLog, read_audit
from distillguard.policy.model import Action, Protection
from distillguard.policy.parser import parse_policy
from distillguard.results.model import Indicator

POLICY = """
version: 1
name: test
revision: r1
fail_mode: {fail_mode}
bands: {{review: 0.5, distillation: 0.8}}
signals:
  window_seconds: 60
  rate_soft: 8
  rate_hard: 20
  coordination_min_rate: 3
  shared_wrapper_soft: 1
  shared_wrapper_hard: 4
throttle:
  account: {{rate_per_minute: 6, burst: 3}}
  cluster: {{rate_per_minute: 12, burst: 6}}
rules:
  - {{name: takedown, when: {{cluster_verdict: distillation, min_cluster_score: 0.9}},
     action: cluster_takedown, protect_outputs: withhold}}
  - {{name: block, when: {{verdict: distillation}}, action: block, protect_outputs: withhold}}
  - {{name: throttle, when: {{verdict: review}}, action: throttle, protect_outputs: summarise}}
  - {{name: watch, when: {{min_score: 0.2}}, action: monitor}}
"""
WRAPPER = (
    "Think step by step and show all your reasoning. Put the final answer in \\boxed{{}}.\n\n"
    "Problem: a crate holds {n} apples and {m} pears; how many pieces of fruit in {k} crates?"
)
CHAT = ["what's a good name for a grey cat?", "recommend a novel set in Lisbon", "hi there!"]


def policy_text(fail_mode: str = "open") -> str:
    return POLICY.format(fail_mode=fail_mode)


def campaign_request(index: int, accounts: int = 5, start: float = 1_000.0) -> GuardRequest:
    return GuardRequest(
        account_id=f"camp-{index % accounts}",
        prompt_text=WRAPPER.format(n=index, m=index * 3, k=index % 7 + 2),
        timestamp=start + index * 0.2,
    )


def make_guard(tmp_path: Path, **kwargs: object) -> Guard:
    return Guard(
        Fixed(parse_policy(policy_text())),
        MemoryStore(),
        audit=AuditLog(tmp_path / "audit.jsonl"),
        **kwargs,  # type: ignore[arg-type]
    )


def test_campaign_is_throttled_then_blocked_while_a_customer_is_served(tmp_path: Path) -> None:
    guard = make_guard(tmp_path)
    actions: list[Action] = []
    for i in range(200):
        decision = guard.decide(campaign_request(i))
        actions.append(decision.action)
        if i % 10 == 0:
            benign = guard.decide(
                GuardRequest("customer", CHAT[i % 3] + f" ({i})", timestamp=1_000.0 + i * 0.2)
            )
            assert benign.allowed and benign.verdict == "benign", benign
            assert benign.action in (Action.ALLOW, Action.MONITOR)
    first_throttle = actions.index(Action.THROTTLE)
    first_block = actions.index(Action.BLOCK)
    assert 0 < first_throttle < first_block
    assert set(actions[first_block:]) == {Action.BLOCK}
    blocked = guard.decide(campaign_request(200))
    assert not blocked.allowed and blocked.http_status == 403
    assert blocked.verdict == "distillation"
    assert {r.detector for r in blocked.reasons} == {"DG-701", "DG-702"}
    assert blocked.protect_outputs is Protection.WITHHOLD
    entries = list(read_audit(tmp_path / "audit.jsonl"))
    assert entries and all(e["action"] != "allow" for e in entries)
    assert entries[-1]["reasons"] and entries[-1]["policy"]["revision"] == "r1"
    assert all(e["action"] == "monitor" for e in entries if e["account_id"] == "customer")


def test_throttle_refuses_with_429_once_the_bucket_is_empty(tmp_path: Path) -> None:
    guard = make_guard(tmp_path)
    throttled = [
        d for d in (guard.decide(campaign_request(i)) for i in range(80))
        if d.action is Action.THROTTLE
    ]  # fmt: skip
    refused = [d for d in throttled if not d.allowed]
    assert refused and any(d.allowed for d in throttled)
    assert all(d.http_status == 429 for d in refused)
    # two buckets: the account's (6/min: retry in 10 s) and the one the campaign's accounts
    # share through their common wrapper (the cluster rate, 12/min: retry in 5 s)
    assert {d.retry_after_seconds for d in refused} == {5.0, 10.0}


def test_one_busy_customer_alone_is_only_watched(tmp_path: Path) -> None:
    guard = make_guard(tmp_path)
    decisions = [
        guard.decide(GuardRequest("busy", WRAPPER.format(n=i, m=i, k=i), timestamp=1000 + i * 0.1))
        for i in range(100)
    ]
    assert all(d.allowed for d in decisions)
    assert {d.action for d in decisions} <= {Action.ALLOW, Action.MONITOR}
    assert max(d.score for d in decisions) < 0.5


def test_batch_cluster_is_taken_down_and_its_wrapper_flags_new_accounts(tmp_path: Path) -> None:
    wrapper = request_features(campaign_request(0)).wrapper
    results = write_verdicts(
        tmp_path / "scan",
        ["old-1", "old-2"],
        benign=["customer"],
        indicators=[
            Indicator("wrapper", wrapper, 2),
            Indicator("client_subnet", "203.0.113.0/24", 2),
        ],
    )
    guard = make_guard(tmp_path, verdicts=Fixed(load_verdicts(results)))
    member = guard.decide(GuardRequest("old-1", "hello", timestamp=1.0))
    assert member.action is Action.CLUSTER_TAKEDOWN and member.cluster_id == "c-1"
    assert member.reasons[0].detector in {"DG-711", "DG-712"}
    newcomer = guard.decide(GuardRequest("new-9", campaign_request(3).prompt_text, timestamp=2.0))
    assert newcomer.cluster_id == "c-1" and newcomer.verdict == "review"
    assert any(r.detector == "DG-713" and "wrapper" in r.summary for r in newcomer.reasons)
    by_subnet = guard.decide(GuardRequest("new-8", "hello", client_ip="203.0.113.77", timestamp=3))
    assert by_subnet.cluster_id == "c-1"
    customer = guard.decide(GuardRequest("customer", "hello", timestamp=4.0))
    assert customer.action is Action.ALLOW
    # a customer the scan judged benign on all its traffic is not matched by one request
    # that carries the cluster's wrapper (a popular tool's that the campaign uses too)
    same_tool = guard.decide(GuardRequest("customer", campaign_request(4).prompt_text, timestamp=5))
    assert same_tool.cluster_id is None and same_tool.action is Action.ALLOW


def test_a_paraphrasing_fleets_house_rule_flags_a_new_account(tmp_path: Path) -> None:
    house = "Always give your output in a formal tone."
    known = request_features(GuardRequest("x", f"Show your steps. {house}\n\nWhat is 2+2?"))
    (sentence,) = known.instruction_sentences
    results = write_verdicts(
        tmp_path / "scan",
        ["fleet-1", "fleet-2"],
        indicators=[Indicator("instruction_sentence", sentence, 2)],
    )
    guard = make_guard(tmp_path, verdicts=Fixed(load_verdicts(results)))
    paraphrased = f"Lay out your full chain of thought, with every check. {house}\n\nSolve 3x = 12."
    newcomer = guard.decide(GuardRequest("new-7", paraphrased, timestamp=2.0))
    assert newcomer.cluster_id == "c-1" and newcomer.verdict == "review"
    assert any(
        r.detector == "DG-713" and "instruction_sentence" in r.summary for r in newcomer.reasons
    )
    plain = guard.decide(GuardRequest("new-8", "Lay out a plan for my garden.", timestamp=3.0))
    assert plain.cluster_id is None and plain.action is Action.ALLOW


def test_appeal_reverses_a_block_and_is_audited(tmp_path: Path) -> None:
    results = write_verdicts(tmp_path / "scan", ["student-1"], verdict="distillation", score=0.85)
    appeals_path = tmp_path / "appeals.jsonl"
    audit = AuditLog(tmp_path / "audit.jsonl")
    guard = Guard(
        Fixed(parse_policy(policy_text())),
        MemoryStore(),
        verdicts=Fixed(load_verdicts(results)),
        appeals=Fixed(read_appeals(appeals_path)),
        audit=audit,
    )
    blocked = guard.decide(GuardRequest("student-1", "hello", timestamp=1.0))
    assert blocked.action is Action.BLOCK
    appeal = record_appeal(
        appeals_path,
        audit,
        account_id="student-1",
        analyst="maria",
        reason="university cohort, verified by email",
        decision_id=blocked.decision_id,
    )
    guard.appeals = Fixed(read_appeals(appeals_path))
    served = guard.decide(GuardRequest("student-1", "hello", timestamp=2.0))
    assert served.allowed and served.action is Action.ALLOW and served.rule == "appeal"
    assert appeal.appeal_id in served.reasons[0].summary
    kinds = [(e["kind"], e.get("account_id")) for e in read_audit(tmp_path / "audit.jsonl")]
    assert kinds == [("decision", "student-1"), ("appeal", "student-1"), ("decision", "student-1")]
    record_appeal(appeals_path, audit, account_id="student-1", analyst="maria",
                  reason="withdrawn after new evidence", withdrawn=True)  # fmt: skip
    guard.appeals = Fixed(read_appeals(appeals_path))
    assert guard.decide(GuardRequest("student-1", "hi", timestamp=3.0)).action is Action.BLOCK


def test_malformed_requests_are_refused_with_the_field() -> None:
    with pytest.raises(MalformedRequest, match="account_id: is required"):
        parse_request({"messages": []})
    with pytest.raises(MalformedRequest, match=r"messages\[0\]: must be an object"):
        parse_request({"account_id": "a", "messages": ["hi"]})
    with pytest.raises(MalformedRequest, match=r"messages\[1\].content\[0\]"):
        parse_request({"account_id": "a", "messages": [{}, {"role": "user", "content": [1]}]})
    with pytest.raises(MalformedRequest, match="timestamp"):
        parse_request({"account_id": "a", "timestamp": "yesterday"})
    with pytest.raises(MalformedRequest, match="body"):
        parse_request([1, 2])
    ok = parse_request(
        {
            "account_id": "a",
            "messages": [
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": "x"},
                {"role": "user", "content": [{"type": "text", "text": "last"}]},
            ],
        }
    )
    assert ok.prompt_text == "last"


def test_fingerprints_match_the_batch_definitions() -> None:
    from distillguard.features.templates import fingerprints, fingerprints_and_sentences
    from distillguard.features.text import prepare

    request = campaign_request(4)
    features = request_features(request)
    _, template, wrapper = fingerprints(prepare(request.prompt_text).text)
    assert (features.template, features.wrapper) == (str(template), str(wrapper))
    assert features.instruction_wrapper
    assert not request_features(GuardRequest("a", "hi there")).instruction_wrapper
    _, sentences = fingerprints_and_sentences(prepare(request.prompt_text).text)
    assert features.instruction_sentences == tuple(str(h) for h in sentences) != ()
    assert client_subnet("198.51.100.7") == "198.51.100.0/24"
    assert client_subnet("2001:db8:1::5") == "2001:db8:1::/48"
    assert client_subnet("not an ip") is None


def test_files_are_reloaded_while_serving_and_broken_ones_are_refused(tmp_path: Path) -> None:
    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text(policy_text())
    results = write_verdicts(tmp_path / "scan", ["x-1"], verdict="review", score=0.6)
    runtime = build_runtime(
        GuardSettings(policy=policy_path, results=results, audit=tmp_path / "audit.jsonl")
    )
    runtime.refresher.interval = 0.05
    runtime.start()
    stop = threading.Event()
    errors: list[BaseException] = []

    def serve() -> None:  # decisions keep flowing while files change underneath
        i = 0
        while not stop.is_set():
            try:
                runtime.guard.decide(GuardRequest(f"load-{i % 3}", "hello", timestamp=i))
            except BaseException as error:  # pragma: no cover - a failure is the finding
                errors.append(error)
            i += 1

    worker = threading.Thread(target=serve)
    worker.start()
    try:
        assert runtime.guard.decide(GuardRequest("x-1", "hi")).action is Action.THROTTLE
        # a broken policy is refused with a clear message; the previous one stays in force
        policy_path.write_text(policy_text().replace("action: block", "action: obliterate"))
        wait_until(lambda: runtime.policy.error is not None)
        assert "field 'rules[1].action'" in (runtime.policy.error or "")
        assert runtime.policy.value.revision == "r1"
        # a fixed policy is picked up without a restart
        policy_path.write_text(policy_text().replace("revision: r1", "revision: r2"))
        wait_until(lambda: runtime.policy.value.revision == "r2")
        assert runtime.policy.error is None
        # the verdict file is replaced while serving: half-written first, then complete
        (results / "accounts.jsonl").write_text('{"account_id": "x-1", "score": 0.9')
        wait_until(lambda: runtime.verdicts is not None and runtime.verdicts.error is not None)
        assert runtime.guard.decide(GuardRequest("x-1", "hi")).action is Action.THROTTLE
        # A scan's files land one by one: accounts first.  A reload that sees the new
        # accounts beside the old summary keeps the verdicts in force, whatever the files say.
        staged = write_verdicts(tmp_path / "next", ["x-1"], verdict="distillation", score=0.97)
        shutil.copyfile(staged / "accounts.jsonl", results / "accounts.jsonl")
        wait_until(lambda: "is not the file summary.json" in (runtime.verdicts.error or ""))
        assert runtime.guard.decide(GuardRequest("x-1", "hi")).action is Action.THROTTLE
        write_verdicts(results, ["x-1"], verdict="distillation", score=0.97)
        wait_until(
            lambda: (
                runtime.guard.decide(GuardRequest("x-1", "hi")).action is Action.CLUSTER_TAKEDOWN
            )
        )
        assert runtime.verdicts is not None and runtime.verdicts.error is None
    finally:
        stop.set()
        worker.join()
        runtime.close()
    assert not errors
    audit_lines = (tmp_path / "audit.jsonl").read_bytes().splitlines()
    assert all(isinstance(orjson.loads(line), dict) for line in audit_lines)


def wait_until(condition: object, timeout: float = 10.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)
