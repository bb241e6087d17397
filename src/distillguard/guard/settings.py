"""Where a deployed guard finds its policy, verdicts, appeals, logs and state store.

The same settings serve ``distillguard guard serve`` (from its flags) and the LiteLLM
adapter (from a small YAML file named by the ``DISTILLGUARD_GUARD_SETTINGS`` environment
variable, since LiteLLM builds the guardrail itself).  :func:`build_runtime` wires the
guard, starts nothing; :meth:`GuardRuntime.start` starts the reload thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from distillguard.errors import UserError
from distillguard.guard.core import Guard
from distillguard.guard.store import MemoryStore, StateStore
from distillguard.guard.verdicts import VerdictSnapshot, load_verdicts, verdict_files
from distillguard.guard.watch import Refresher, Watched
from distillguard.policy.appeals import Appeal, read_appeals
from distillguard.policy.audit import AuditLog
from distillguard.policy.model import Policy
from distillguard.policy.parser import load_policy

SETTINGS_ENV = "DISTILLGUARD_GUARD_SETTINGS"
PATH_KEYS = ("policy", "results", "audit", "appeals", "exchange_log")
NUMBER_KEYS = ("reload_seconds", "timeout_ms")


@dataclass(frozen=True)
class GuardSettings:
    """Everything needed to run a guard."""

    policy: Path
    results: Path | None = None
    store: str = "memory"
    """``memory`` or a Redis URL (``redis://127.0.0.1:6379/0``)."""
    audit: Path | None = None
    appeals: Path | None = None
    exchange_log: Path | None = None
    """Where the LiteLLM logging callback appends exchanges (contract format)."""
    reload_seconds: float = 1.0
    timeout_ms: float = 50.0
    """Deadline of one webhook decision; past it the policy's fail mode answers."""


def load_settings(path: Path) -> GuardSettings:
    """Read a settings YAML file; relative paths are relative to the file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: guard settings file not found (set ${SETTINGS_ENV})") from None
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: must be a mapping with at least 'policy'")
    allowed = {*PATH_KEYS, *NUMBER_KEYS, "store"}
    for key in raw:
        if key not in allowed:
            raise UserError(
                f"{path}, field '{key}': unknown; allowed: {', '.join(sorted(allowed))}"
            )
    if "policy" not in raw:
        raise UserError(f"{path}, field 'policy': is required (the policy YAML file)")
    values: dict[str, Any] = {}
    for key in PATH_KEYS:
        if raw.get(key) is not None:
            values[key] = (path.parent / str(raw[key])).resolve()
    for key in NUMBER_KEYS:
        if key in raw:
            if not isinstance(raw[key], int | float) or raw[key] <= 0:
                raise UserError(f"{path}, field '{key}': must be a positive number")
            values[key] = float(raw[key])
    if "store" in raw:
        values["store"] = str(raw["store"])
    return GuardSettings(**values)


def open_store(spec: str) -> StateStore:
    """``memory`` or a Redis URL."""
    if spec == "memory":
        return MemoryStore()
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from distillguard.guard.redis_store import RedisStore

        return RedisStore(spec)
    raise UserError(f"store {spec!r}: use 'memory' or a Redis URL such as redis://127.0.0.1:6379/0")


@dataclass
class GuardRuntime:
    """A wired guard and the watched files behind it."""

    guard: Guard
    settings: GuardSettings
    policy: Watched[Policy]
    verdicts: Watched[VerdictSnapshot] | None
    appeals: Watched[dict[str, Appeal]] | None
    refresher: Refresher
    audit: AuditLog | None = None
    watched: list[Watched[Any]] = field(default_factory=list)

    def start(self) -> None:
        self.refresher.start()

    def close(self) -> None:
        self.refresher.stop()
        self.guard.store.close()
        if self.audit is not None:
            self.audit.close()

    def health(self) -> dict[str, Any]:
        """What an operator needs to see: is state up, which policy, any reload errors."""
        return {
            "store": "up" if self.guard.store.ping() else "down",
            "policy": {"revision": self.policy.value.revision, "error": self.policy.error},
            "verdicts": {
                "source": self.verdicts.value.source if self.verdicts else None,
                "accounts": len(self.verdicts.value.accounts) if self.verdicts else 0,
                "error": self.verdicts.error if self.verdicts else None,
            },
            "appeals": len(self.appeals.value) if self.appeals else 0,
            "decisions": self.guard.stats.decisions,
            "degraded": self.guard.stats.degraded,
        }


def build_runtime(settings: GuardSettings) -> GuardRuntime:
    """Load everything once (errors are ``UserError``) and wire the guard."""
    policy = Watched("policy", [settings.policy], lambda: load_policy(settings.policy))
    verdicts = None
    if settings.results is not None:
        results = settings.results
        verdicts = Watched("verdicts", verdict_files(results), lambda: load_verdicts(results))
    appeals = None
    if settings.appeals is not None:
        path = settings.appeals
        appeals = Watched("appeals", [path], lambda: read_appeals(path))
    audit = AuditLog(settings.audit) if settings.audit is not None else None
    watched: list[Watched[Any]] = [w for w in (policy, verdicts, appeals) if w is not None]
    guard = Guard(
        policy,
        open_store(settings.store),
        verdicts=verdicts,
        appeals=appeals,
        audit=audit,
    )
    return GuardRuntime(
        guard=guard,
        settings=settings,
        policy=policy,
        verdicts=verdicts,
        appeals=appeals,
        refresher=Refresher(watched, settings.reload_seconds),
        audit=audit,
        watched=watched,
    )
