"""The guard: one decision per request, from streaming state, batch verdicts and the policy.

:meth:`Guard.decide` is the whole request path: fingerprint the prompt (bounded work),
count the request in the state store (one round trip at most), score with
:func:`~distillguard.guard.signals.assess`, let the policy pick the action, honour a
standing appeal, take throttle tokens, and audit anything but a plain ``allow``.  Policy,
verdicts and appeals are read from :class:`~distillguard.guard.watch.Watched` values that
a background thread swaps in, so the request path never reads a file.

When the store fails the decision is *degraded*: with ``fail_mode: open`` the policy still
applies on batch verdicts alone (and throttles let requests through); with
``fail_mode: closed`` the request is refused.  Either way the decision says so.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from distillguard.guard.request import GuardRequest, RequestFeatures, request_features
from distillguard.guard.signals import Assessment, assess
from distillguard.guard.store import Observation, StateStore, StoreUnavailable
from distillguard.guard.verdicts import EMPTY, VerdictSnapshot
from distillguard.policy.appeals import Appeal
from distillguard.policy.audit import AuditLog
from distillguard.policy.model import Action, FailMode, Policy, Protection, Rule
from distillguard.results.model import Reason

T = TypeVar("T", covariant=True)


class Source(Protocol[T]):
    """Anything with a current ``value`` (a :class:`Watched` file or a :class:`Fixed` one)."""

    @property
    def value(self) -> T: ...


@dataclass(frozen=True)
class Fixed(Generic[T]):
    """A value that never changes (tests, benchmarks, embedding without files)."""

    value: T


@dataclass(frozen=True)
class Decision:
    """What the gateway should do with one request, and why."""

    decision_id: str
    account_id: str
    verdict: str
    action: Action
    allowed: bool
    score: float
    reasons: tuple[Reason, ...]
    rule: str
    protect_outputs: Protection
    cluster_id: str | None = None
    retry_after_seconds: float | None = None
    degraded: str | None = None
    """Why the fail mode was applied (store down), or None."""
    policy_revision: str = ""

    @property
    def http_status(self) -> int:
        """200 to serve, 429 for an empty throttle bucket, 403 for a refusal."""
        if self.allowed:
            return 200
        return 429 if self.action is Action.THROTTLE else 403

    def to_json(self) -> dict[str, Any]:
        """The webhook's answer: ``{verdict, action, score, reasons}`` and the details."""
        return {
            "decision_id": self.decision_id,
            "account_id": self.account_id,
            "verdict": self.verdict,
            "action": self.action.value,
            "allowed": self.allowed,
            "score": round(self.score, 4),
            "reasons": [
                {"detector": r.detector, "summary": r.summary, "weight": round(r.weight, 4)}
                for r in self.reasons
            ],
            "rule": self.rule,
            "protect_outputs": self.protect_outputs.value,
            "cluster_id": self.cluster_id,
            "retry_after_seconds": self.retry_after_seconds,
            "degraded": self.degraded,
            "policy_revision": self.policy_revision,
        }


@dataclass
class GuardStats:
    """Counters for health checks and benchmarks."""

    decisions: int = 0
    degraded: int = 0
    by_action: dict[str, int] = field(default_factory=dict)


class Guard:
    """Scores requests and applies the policy; safe to call from many threads."""

    def __init__(
        self,
        policy: Source[Policy],
        store: StateStore,
        *,
        verdicts: Source[VerdictSnapshot] | None = None,
        appeals: Source[dict[str, Appeal]] | None = None,
        audit: AuditLog | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self.store = store
        self.verdicts: Source[VerdictSnapshot] = verdicts or Fixed(EMPTY)
        self.appeals: Source[dict[str, Appeal]] = appeals or Fixed({})
        self.audit = audit
        self.clock = clock
        self.stats = GuardStats()

    def decide(self, request: GuardRequest) -> Decision:
        """The decision for one request (audited unless it is a plain ``allow``)."""
        policy = self.policy.value
        now = request.timestamp if request.timestamp is not None else self.clock()
        features = request_features(request)
        degraded: str | None = None
        try:
            counts = self.store.observe(
                Observation(
                    account_id=request.account_id,
                    now=now,
                    window_seconds=policy.signals.window_seconds,
                    wrapper=features.wrapper if features.instruction_wrapper else None,
                    coordination_min_rate=policy.signals.coordination_min_rate,
                )
            )
        except StoreUnavailable as error:
            counts, degraded = None, str(error)
        judged = assess(request, features, counts, self.verdicts.value, policy)
        cluster = judged.cluster
        if degraded is not None and policy.fail_mode is FailMode.CLOSED:
            rule = Rule(name="fail-closed", when=policy.default.when, action=Action.BLOCK)
        else:
            rule = policy.match(
                judged.verdict,
                judged.score,
                cluster.verdict if cluster else None,
                cluster.score if cluster else 0.0,
            )
        action, protect, reasons = rule.action, rule.protect_outputs, list(judged.reasons)
        if degraded is not None:
            reasons.append(
                Reason("DG-790", f"state store unavailable, fail-{policy.fail_mode.value}", 0.0)
            )
        appeal = self.appeals.value.get(request.account_id)
        appealed = appeal is not None and action.severity > appeal.restore.severity
        if appeal is not None and appealed:
            reasons.insert(
                0,
                Reason(
                    "appeal",
                    f"{appeal.analyst} reversed {action.value} ({appeal.reason}); "
                    f"appeal {appeal.appeal_id}",
                    0.0,
                ),
            )
            action, protect = appeal.restore, Protection.NONE
        allowed, retry_after = not action.refuses, None
        if action is Action.THROTTLE:
            allowed, retry_after, degraded = self._throttle(
                policy, request.account_id, judged.group, now, degraded
            )
        decision = Decision(
            decision_id=uuid.uuid4().hex,
            account_id=request.account_id,
            verdict=judged.verdict,
            action=action,
            allowed=allowed,
            score=judged.score,
            reasons=tuple(reasons),
            rule="appeal" if appealed else rule.name,
            protect_outputs=protect,
            cluster_id=cluster.cluster_id if cluster else None,
            retry_after_seconds=retry_after,
            degraded=degraded,
            policy_revision=policy.revision,
        )
        self._record(decision, judged, features, policy, now)
        return decision

    def _throttle(
        self,
        policy: Policy,
        account_id: str,
        group: str | None,
        now: float,
        degraded: str | None,
    ) -> tuple[bool, float | None, str | None]:
        """(allowed, retry-after seconds, degraded) after taking a token from each bucket: the
        account's, and its group's (batch cluster or shared wrapper) under the cluster rate."""
        buckets = [(f"account:{account_id}", policy.throttle.account)]
        if group is not None:
            buckets.append((group, policy.throttle.cluster))
        for key, bucket in buckets:
            if bucket is None:
                continue
            try:
                granted = self.store.take_token(key, bucket.rate_per_minute, bucket.burst, now)
            except StoreUnavailable as error:
                return policy.fail_mode is FailMode.OPEN, None, str(error)
            if not granted:
                wait = 60.0 / bucket.rate_per_minute if bucket.rate_per_minute > 0 else 3600.0
                return False, round(wait, 3), degraded
        return True, None, degraded

    def _record(
        self,
        decision: Decision,
        judged: Assessment,
        features: RequestFeatures,
        policy: Policy,
        now: float,
    ) -> None:
        stats = self.stats
        stats.decisions += 1
        stats.by_action[decision.action.value] = stats.by_action.get(decision.action.value, 0) + 1
        if decision.degraded:
            stats.degraded += 1
        if self.audit is None or (decision.action is Action.ALLOW and decision.rule != "appeal"):
            return
        self.audit.append(
            {
                "kind": "decision",
                "time": now,
                **decision.to_json(),
                "families": judged.families,
                "policy": {
                    "name": policy.name,
                    "revision": policy.revision,
                    "digest": policy.digest,
                    "source": policy.source,
                },
                "request": {
                    "wrapper": features.wrapper if features.instruction_wrapper else None,
                    "template": features.template,
                    "client_subnet": features.client_subnet,
                },
            }
        )
