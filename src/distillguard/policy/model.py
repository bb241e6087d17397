"""What a policy says: graded actions, the rules that pick them, and the guard's thresholds.

A policy is data, not code: the guard scores, the policy decides.  Rules are tried top to
bottom and the first whose conditions all hold picks the action; ``default`` applies when
none does.  The thresholds of the online signals live in the policy too, so one versioned
file says everything about how the guard treats callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

POLICY_FORMAT_VERSION = 1


class Action(StrEnum):
    """Graded actions, mildest first (the order appeals and take-downs compare by)."""

    ALLOW = "allow"
    MONITOR = "monitor"
    PROTECT_OUTPUTS = "protect_outputs"
    THROTTLE = "throttle"
    REQUIRE_VERIFICATION = "require_verification"
    BLOCK = "block"
    CLUSTER_TAKEDOWN = "cluster_takedown"

    @property
    def severity(self) -> int:
        return list(Action).index(self)

    @property
    def refuses(self) -> bool:
        """Whether the request is refused outright (throttle refuses only without tokens)."""
        return self in (Action.REQUIRE_VERIFICATION, Action.BLOCK, Action.CLUSTER_TAKEDOWN)


class Protection(StrEnum):
    """What the gateway does with reasoning traces in the answer to this caller."""

    NONE = "none"
    SUMMARISE = "summarise"
    WITHHOLD = "withhold"


class FailMode(StrEnum):
    """What the guard answers when its state store or deadline fails."""

    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class Bucket:
    """A token bucket: ``burst`` requests at once, refilled at ``rate_per_minute``."""

    rate_per_minute: float
    burst: float


@dataclass(frozen=True)
class Throttle:
    """Token buckets applied by a ``throttle`` action; a request needs a token from each."""

    account: Bucket | None = Bucket(rate_per_minute=10.0, burst=5.0)
    cluster: Bucket | None = Bucket(rate_per_minute=30.0, burst=10.0)


@dataclass(frozen=True)
class Bands:
    """Score thresholds of the guard's own verdicts (batch verdicts are taken as they are)."""

    review: float = 0.5
    distillation: float = 0.8


@dataclass(frozen=True)
class Signals:
    """Thresholds of the online signals (see :mod:`distillguard.guard.signals`)."""

    window_seconds: float = 60.0
    rate_soft: float = 30.0
    """Requests per window from one account where the rate signal starts to rise."""
    rate_hard: float = 120.0
    """... and where it is full."""
    coordination_min_rate: float = 5.0
    """An account counts towards a shared wrapper only at this many requests per window:
    classmates who each ask "step by step" a few times an hour do not make a campaign."""
    shared_wrapper_soft: float = 3.0
    """Distinct busy accounts sending one instruction wrapper where the signal starts."""
    shared_wrapper_hard: float = 10.0


@dataclass(frozen=True)
class Condition:
    """What a rule matches on; an absent field matches anything."""

    verdicts: frozenset[str] | None = None
    min_score: float | None = None
    max_score: float | None = None
    cluster_verdicts: frozenset[str] | None = None
    min_cluster_score: float | None = None

    def holds(
        self, verdict: str, score: float, cluster_verdict: str | None, cluster_score: float
    ) -> bool:
        """Whether a decision with these values matches."""
        if self.verdicts is not None and verdict not in self.verdicts:
            return False
        if self.min_score is not None and score < self.min_score:
            return False
        if self.max_score is not None and score >= self.max_score:
            return False
        if self.cluster_verdicts is not None and cluster_verdict not in self.cluster_verdicts:
            return False
        return self.min_cluster_score is None or (
            cluster_verdict is not None and cluster_score >= self.min_cluster_score
        )


@dataclass(frozen=True)
class Rule:
    """When ``when`` holds, take ``action`` and protect outputs as ``protect_outputs``."""

    name: str
    when: Condition
    action: Action
    protect_outputs: Protection = Protection.NONE


@dataclass(frozen=True)
class Policy:
    """A validated policy file."""

    name: str
    revision: str
    rules: tuple[Rule, ...]
    default: Rule
    fail_mode: FailMode = FailMode.OPEN
    bands: Bands = Bands()
    signals: Signals = Signals()
    throttle: Throttle = Throttle()
    source: str = "<built-in>"
    format_version: int = POLICY_FORMAT_VERSION
    digest: str = ""
    """sha256 of the file's bytes: which exact policy made a decision (kept in the audit)."""

    def match(
        self, verdict: str, score: float, cluster_verdict: str | None, cluster_score: float
    ) -> Rule:
        """The first rule that holds, else the default."""
        for rule in self.rules:
            if rule.when.holds(verdict, score, cluster_verdict, cluster_score):
                return rule
        return self.default
