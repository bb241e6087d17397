"""LiteLLM proxy adapters: a pre-call guardrail and a logging callback that feeds the scan.

LiteLLM loads custom guardrails and callbacks from files beside its ``config.yaml``: the
one-line module and the config section to add are in :mod:`.litellm_config` and
``docs/guard.md``.

Both read their settings from the YAML file named by ``DISTILLGUARD_GUARD_SETTINGS``
(:mod:`distillguard.guard.settings`), on first use, not at import.

The guardrail refuses with HTTP 429 (throttled, with ``Retry-After``) or 403 (block,
take-down, verification required) and a body carrying the decision; otherwise it lets the
request through and, when the policy protects outputs, drops reasoning parameters before
the call and withholds or shortens reasoning traces in the answer.  The logger appends
every completed exchange to ``exchange_log`` in the contract format (CONTRACT.md), so
``distillguard scan --exchanges LOG`` runs on what the proxy served.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import orjson
from fastapi import HTTPException
from litellm.integrations.custom_guardrail import CustomGuardrail
from litellm.integrations.custom_logger import CustomLogger

from distillguard.errors import UserError
from distillguard.guard.core import Decision
from distillguard.guard.request import GuardRequest, MalformedRequest, last_user_text
from distillguard.guard.settings import SETTINGS_ENV, GuardRuntime, build_runtime, load_settings
from distillguard.ingest.litellm import to_contract
from distillguard.policy.model import Protection

REASONING_PARAMS = ("reasoning_effort", "thinking", "include_reasoning", "reasoning")
"""Request parameters that ask a model for its reasoning trace; dropped under ``withhold``."""
SUMMARY_CHARS = 200
METADATA_KEY = "distillguard"

_runtime_lock = threading.Lock()
_runtimes: dict[str, GuardRuntime] = {}


def shared_runtime() -> GuardRuntime:
    """The process's guard runtime for ``$DISTILLGUARD_GUARD_SETTINGS`` (built on first use)."""
    path = os.environ.get(SETTINGS_ENV)
    if not path:
        raise UserError(f"${SETTINGS_ENV} is not set: point it at the guard settings YAML")
    with _runtime_lock:
        runtime = _runtimes.get(path)
        if runtime is None:
            runtime = build_runtime(load_settings(Path(path)))
            runtime.start()
            _runtimes[path] = runtime
        return runtime


def _metadata(data: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key in ("litellm_metadata", "metadata"):
        value = data.get(key)
        if isinstance(value, dict):
            merged.update(value)
    return merged


def request_from_litellm(data: dict[str, Any], key: Any) -> GuardRequest:
    """The guard's view of a LiteLLM request: account as the log reader resolves it."""
    metadata = _metadata(data)
    candidates = (
        data.get("user"),
        getattr(key, "end_user_id", None),
        getattr(key, "user_id", None),
        getattr(key, "team_id", None),
        getattr(key, "token", None),
        getattr(key, "api_key", None),
    )
    account = next((c for c in candidates if isinstance(c, str) and c), None)
    if account is None:
        raise MalformedRequest("user: no account (pass `user`, or use a virtual key)")
    ip = metadata.get("requester_ip_address")
    return GuardRequest(
        account_id=account,
        prompt_text=last_user_text(data.get("messages")),
        client_ip=ip if isinstance(ip, str) and ip else None,
        organization_id=getattr(key, "org_id", None) or None,
        model=data.get("model") if isinstance(data.get("model"), str) else None,
    )


def refusal(decision: Decision) -> HTTPException:
    """The HTTP error a refused request gets, with the decision in the body."""
    headers = {"x-distillguard-decision": decision.decision_id}
    if decision.retry_after_seconds is not None:
        headers["Retry-After"] = str(max(1, round(decision.retry_after_seconds)))
    message = {
        "throttle": "rate limited by distillguard policy",
        "require_verification": "account verification required",
    }.get(decision.action.value, "request refused by distillguard policy")
    return HTTPException(
        status_code=decision.http_status,
        detail={"error": message, **decision.to_json()},
        headers=headers,
    )


def protect_response(response: Any, protection: Protection) -> None:
    """Withhold or shorten reasoning traces in a chat completion, in place."""
    if protection is Protection.NONE:
        return
    for choice in getattr(response, "choices", None) or []:
        message = getattr(choice, "message", None)
        if message is None:
            continue
        for field in ("reasoning_content", "thinking_blocks"):
            value = getattr(message, field, None)
            if value is None:
                continue
            if protection is Protection.WITHHOLD or not isinstance(value, str):
                setattr(message, field, None)
            else:
                setattr(message, field, value[:SUMMARY_CHARS] + " [shortened by distillguard]")


class DistillGuardGuardrail(CustomGuardrail):
    """LiteLLM guardrail: pre-call decision, post-call output protection."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> dict[str, Any]:
        runtime = shared_runtime()
        try:
            request = request_from_litellm(data, user_api_key_dict)
        except MalformedRequest as error:
            raise HTTPException(status_code=400, detail={"error": str(error)}) from None
        decision = runtime.guard.decide(request)
        if not decision.allowed:
            raise refusal(decision)
        metadata = data.get("metadata")
        if not isinstance(metadata, dict):
            metadata = data["metadata"] = {}
        metadata[METADATA_KEY] = {
            "decision_id": decision.decision_id,
            "action": decision.action.value,
            "protect_outputs": decision.protect_outputs.value,
        }
        if decision.protect_outputs is Protection.WITHHOLD:
            for name in REASONING_PARAMS:
                data.pop(name, None)
        return data

    async def async_post_call_success_hook(
        self, data: dict[str, Any], user_api_key_dict: Any, response: Any
    ) -> Any:
        guard_note = _metadata(data).get(METADATA_KEY)
        if isinstance(guard_note, dict):
            protect_response(response, Protection(guard_note.get("protect_outputs", "none")))
        return response


class ExchangeLogger(CustomLogger):
    """Appends each exchange the proxy completes to the settings' ``exchange_log``."""

    def __init__(self) -> None:
        super().__init__()
        self._fd: int | None = None
        self._lock = threading.Lock()

    def _write(self, kwargs: dict[str, Any]) -> None:
        payload = kwargs.get("standard_logging_object")
        if not isinstance(payload, dict):
            return
        runtime = shared_runtime()
        path = runtime.settings.exchange_log
        if path is None:
            return
        record = {k: v for k, v in to_contract(payload).items() if v is not None}
        line = orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE, default=str)
        with self._lock:
            if self._fd is None:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            os.write(self._fd, line)

    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._write(kwargs)

    async def async_log_failure_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._write(kwargs)


exchange_logger = ExchangeLogger()
"""The instance a LiteLLM config names in ``litellm_settings.callbacks``."""
