"""LiteLLM proxy logs -> contract records.

Two shapes are read, told apart per record:

* ``StandardLoggingPayload`` (what a custom logger, the s3/gcs bucket loggers and most
  integrations write): ``id``, ``startTime`` (epoch seconds, float), ``model``,
  ``model_group``, ``messages``, ``response``, ``model_parameters``, ``prompt_tokens``,
  ``completion_tokens``, ``status`` (``success``/``failure``), ``end_user``,
  ``requester_ip_address`` and ``metadata`` (``user_api_key_hash``,
  ``user_api_key_user_id``, ``user_api_key_team_id``, ``user_api_key_org_id``, …).
* ``LiteLLM_SpendLogs`` rows exported as JSON Lines: ``request_id``, ``startTime``
  (timestamp string), ``api_key`` (hashed), ``user``, ``team_id``, ``organization_id``,
  ``end_user``, ``model``, ``model_group``, ``prompt_tokens``, ``completion_tokens``,
  ``requester_ip_address``, ``messages``, ``response``, ``metadata``,
  ``proxy_server_request`` (the request body), ``status``, ``session_id``.

Account: the first non-empty of :data:`DEFAULT_ACCOUNT_FIELDS`, each looked up on the
record and then in its ``metadata`` — the end user the customer passed, else the
LiteLLM internal user, else the team, else the virtual-key hash.  Callers can pass their
own order.  Model: ``model_group`` (the public name the caller asked for), else ``model``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from distillguard.ingest.jsonlines import iter_objects
from distillguard.ingest.openai_messages import (
    convert_messages,
    flatten_tools,
    response_text_and_finish,
    text_of,
)
from distillguard.ingest.source import ByteProgress, SourceRecord, no_progress

DEFAULT_ACCOUNT_FIELDS: tuple[str, ...] = (
    "end_user",
    "user_api_key_user_id",
    "user",
    "user_api_key_team_id",
    "team_id",
    "user_api_key_hash",
    "api_key",
)

_PARAM_SKIP = frozenset(
    {"messages", "model", "tools", "functions", "metadata", "user", "input", "litellm_metadata"}
)
_STATUS_OK = 200


def missing_hints(account_fields: Sequence[str]) -> dict[str, str]:
    """Words for validation errors: which LiteLLM fields were looked for."""
    return {
        "exchange_id": "LiteLLM record has no id / request_id",
        "timestamp": "LiteLLM record has no startTime",
        "account_id": "none of " + ", ".join(account_fields) + " is set",
        "model": "LiteLLM record has no model_group or model",
        "messages": "no messages logged; for spend logs enable store_prompts_in_spend_logs",
    }


def read_litellm(
    path: Path,
    progress: ByteProgress = no_progress,
    *,
    account_fields: Sequence[str] = DEFAULT_ACCOUNT_FIELDS,
) -> Iterator[SourceRecord]:
    """LiteLLM JSON Lines (either shape) as contract-shaped records."""
    for item in iter_objects(path, progress):
        if item.record is not None:
            item.record = to_contract(item.record, account_fields)
        yield item


def to_contract(
    record: dict[str, Any], account_fields: Sequence[str] = DEFAULT_ACCOUNT_FIELDS
) -> dict[str, Any]:
    """Map one LiteLLM record (StandardLoggingPayload or spend-log row) to the contract."""
    payload = record.get("standard_logging_object")
    if isinstance(payload, dict):
        record = payload
    is_spend_log = "request_id" in record
    metadata = _object(record.get("metadata"))
    request = _object(record.get("proxy_server_request"))
    request_body = _object(request.get("body")) or request

    def lookup(name: str) -> Any:
        value = record.get(name)
        if value is None or value == "":
            value = metadata.get(name)
        return None if value == "" else value

    params = _object(record.get("model_parameters")) or {
        key: value for key, value in request_body.items() if key not in _PARAM_SKIP
    }
    tools = params.pop("tools", None) if "tools" in params else request_body.get("tools")
    messages = _json_value(record.get("messages"))
    if messages in (None, {}, [], ""):
        messages = request_body.get("messages", request_body.get("input"))
    response = _json_value(record.get("response"))
    response_text, finish_reason = response_text_and_finish(response)
    system_prompt = _system_prompt(messages)
    account = next((v for v in map(lookup, account_fields) if v is not None), None)
    return {
        "exchange_id": record.get("request_id") if is_spend_log else record.get("id"),
        "timestamp": record.get("startTime"),
        "account_id": account,
        "api_key_id": lookup("api_key") if is_spend_log else metadata.get("user_api_key_hash"),
        "organization_id": lookup("organization_id") or metadata.get("user_api_key_org_id"),
        "client_ip": lookup("requester_ip_address"),
        "user_agent": _user_agent(metadata, request),
        "model": record.get("model_group") or record.get("model"),
        "system_prompt": system_prompt,
        "messages": None if messages in (None, {}, [], "") else convert_messages(messages),
        "tools": flatten_tools(tools),
        "params": params or None,
        "input_tokens": record.get("prompt_tokens"),
        "output_tokens": record.get("completion_tokens"),
        "reasoning_tokens": _reasoning_tokens(response),
        "response_text": response_text,
        "finish_reason": finish_reason,
        "conversation_id": lookup("session_id"),
        "status": _status(record),
        "litellm_status": record.get("status"),
        "call_type": record.get("call_type"),
        "team_id": lookup("team_id") or lookup("user_api_key_team_id"),
        "trace_id": record.get("trace_id"),
        "cost": record.get("response_cost", record.get("spend")),
    }


def _object(value: Any) -> dict[str, Any]:
    value = _json_value(value)
    return dict(value) if isinstance(value, dict) else {}


def _json_value(value: Any) -> Any:
    """Spend-log JSON columns are often exported as JSON text; decode them."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _system_prompt(messages: Any) -> str | None:
    if not isinstance(messages, list):
        return None
    texts = [
        text_of(message.get("content"))
        for message in messages
        if isinstance(message, dict) and message.get("role") in ("system", "developer")
    ]
    return "\n".join(texts) if texts else None


def _user_agent(metadata: dict[str, Any], request: dict[str, Any]) -> str | None:
    agent = metadata.get("user_agent")
    if isinstance(agent, str) and agent:
        return agent
    headers = _object(metadata.get("headers")) or _object(request.get("headers"))
    for key, value in headers.items():
        if key.lower() == "user-agent" and isinstance(value, str):
            return value
    return None


def _reasoning_tokens(response: Any) -> Any:
    usage = response.get("usage") if isinstance(response, dict) else None
    details = usage.get("completion_tokens_details") if isinstance(usage, dict) else None
    return details.get("reasoning_tokens") if isinstance(details, dict) else None


def _status(record: dict[str, Any]) -> int | None:
    status = record.get("status")
    if status == "success":
        return _STATUS_OK
    information = record.get("error_information")
    code = information.get("error_code") if isinstance(information, dict) else None
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    if isinstance(code, str) and code.isdigit():
        return int(code)
    return None
