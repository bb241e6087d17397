"""Contract records -> canonical rows, or every reason they are not.

One function per table turns a record (a dict shaped as CONTRACT.md says) into a tuple
in the column order of the canonical Arrow schema, without ``source_file`` and
``source_line``, which the caller knows and appends.  Like pandera, it collects every
broken field of a record before raising, so a user fixes an exporter once, not once per
field.  It runs once per input record, so it stays a flat sequence of type checks.

Decisions the contract leaves open:

* Optional fields given as ``null`` count as absent; optional strings are kept as given.
* Integers given as integral floats (``12.0``, what pandas writes for an int column with
  gaps) are accepted; ``12.5`` and booleans are not.
* ``messages`` must be a non-empty list; a request always has at least one input message.
* ``country`` is upper-cased and ``verification``/``program`` lower-cased before checking.
* Unknown top-level fields with a value are kept in ``extra`` as canonical JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import orjson

from distillguard.ingest.problems import (
    BAD_TIME,
    BAD_VALUE,
    MISSING,
    WRONG_TYPE,
    FieldError,
    RecordInvalid,
)
from distillguard.ingest.timeparse import TimeError, parse_timestamp_us
from distillguard.schema import ACCOUNT_SCHEMA, EXCHANGE_SCHEMA, PROGRAMS, VERIFICATION_LEVELS
from distillguard.schema.tables import MESSAGE_PART_TYPES

_PROVENANCE = ("source_file", "source_line")
EXCHANGE_ROW_FIELDS: tuple[str, ...] = tuple(
    name for name in EXCHANGE_SCHEMA.names if name not in _PROVENANCE
)
"""Order of the tuple :func:`validate_exchange` returns."""
ACCOUNT_ROW_FIELDS: tuple[str, ...] = tuple(
    name for name in ACCOUNT_SCHEMA.names if name not in _PROVENANCE
)
"""Order of the tuple :func:`validate_account` returns."""

EXCHANGE_FIELDS = frozenset(
    {
        "exchange_id", "timestamp", "account_id", "api_key_id", "organization_id",
        "client_ip", "user_agent", "model", "system_prompt", "messages", "tools", "params",
        "input_tokens", "output_tokens", "reasoning_tokens", "response_text",
        "finish_reason", "conversation_id", "status",
    }
)  # fmt: skip
ACCOUNT_FIELDS = frozenset(
    {
        "account_id", "created_at", "organization_id", "email_domain",
        "payment_fingerprint", "country", "verification", "program", "signup_ip",
    }
)  # fmt: skip

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_PART_TYPES = frozenset(MESSAGE_PART_TYPES)
_VERIFICATION = frozenset(VERIFICATION_LEVELS)
_PROGRAMS = frozenset(PROGRAMS)
_SORTED = orjson.OPT_SORT_KEYS

Hints = Mapping[str, str]
"""Extra words for a missing required field, e.g. which OTel attributes were looked for."""


def validate_exchange(record: Mapping[str, Any], hints: Hints | None = None) -> tuple[Any, ...]:
    """Return the canonical exchange row (see EXCHANGE_ROW_FIELDS) or raise RecordInvalid."""
    errors: list[FieldError] = []
    hints = hints or {}
    get = record.get
    exchange_id = _required_str(get("exchange_id"), "exchange_id", errors, hints)
    ts = _time(get("timestamp"), "timestamp", errors, hints, required=True)
    account_id = _required_str(get("account_id"), "account_id", errors, hints)
    model = _required_str(get("model"), "model", errors, hints)
    messages_json, n_messages, prompt_text = _messages(get("messages"), errors, hints)
    tools_json, tool_names = _tools(get("tools"), errors)
    params = _params(get("params"), errors)
    row = (
        exchange_id,
        ts,
        account_id,
        _optional_str(get("api_key_id"), "api_key_id", errors),
        _optional_str(get("organization_id"), "organization_id", errors),
        _optional_str(get("client_ip"), "client_ip", errors),
        _optional_str(get("user_agent"), "user_agent", errors),
        model,
        _optional_str(get("system_prompt"), "system_prompt", errors),
        messages_json,
        n_messages,
        prompt_text,
        tools_json,
        tool_names,
        *params,
        _count(get("input_tokens"), "input_tokens", errors),
        _count(get("output_tokens"), "output_tokens", errors),
        _count(get("reasoning_tokens"), "reasoning_tokens", errors),
        _optional_str(get("response_text"), "response_text", errors),
        _optional_str(get("finish_reason"), "finish_reason", errors),
        _optional_str(get("conversation_id"), "conversation_id", errors),
        _integer(get("status"), "status", errors),
        _extra(record, EXCHANGE_FIELDS, errors),
    )
    if errors:
        raise RecordInvalid(errors)
    return row


def validate_account(record: Mapping[str, Any], hints: Hints | None = None) -> tuple[Any, ...]:
    """Return the canonical account row (see ACCOUNT_ROW_FIELDS) or raise RecordInvalid."""
    errors: list[FieldError] = []
    get = record.get
    row = (
        _required_str(get("account_id"), "account_id", errors, hints or {}),
        _time(get("created_at"), "created_at", errors, {}, required=False),
        _optional_str(get("organization_id"), "organization_id", errors),
        _optional_str(get("email_domain"), "email_domain", errors),
        _optional_str(get("payment_fingerprint"), "payment_fingerprint", errors),
        _country(get("country"), errors),
        _choice(get("verification"), "verification", _VERIFICATION, VERIFICATION_LEVELS, errors),
        _choice(get("program"), "program", _PROGRAMS, PROGRAMS, errors),
        _optional_str(get("signup_ip"), "signup_ip", errors),
        _extra(record, ACCOUNT_FIELDS, errors),
    )
    if errors:
        raise RecordInvalid(errors)
    return row


def _missing(field: str, errors: list[FieldError], hints: Hints) -> None:
    hint = hints.get(field)
    reason = f"required field is missing ({hint})" if hint else "required field is missing"
    errors.append(FieldError(field, MISSING, reason))


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _required_str(value: object, field: str, errors: list[FieldError], hints: Hints) -> str:
    if type(value) is str and value:
        return value
    if value is None:
        _missing(field, errors, hints)
    elif isinstance(value, str):
        errors.append(FieldError(field, MISSING, "required field is an empty string"))
    else:
        errors.append(FieldError(field, WRONG_TYPE, f"expected a string, got {_type_name(value)}"))
    return ""


def _optional_str(value: object, field: str, errors: list[FieldError]) -> str | None:
    if value is None or type(value) is str:
        return value
    errors.append(FieldError(field, WRONG_TYPE, f"expected a string, got {_type_name(value)}"))
    return None


def _time(
    value: object, field: str, errors: list[FieldError], hints: Hints, *, required: bool
) -> int | None:
    if value is None:
        if required:
            _missing(field, errors, hints)
        return None
    try:
        return parse_timestamp_us(value)
    except TimeError as error:
        errors.append(FieldError(field, BAD_TIME, str(error)))
        return None


def _integer(value: object, field: str, errors: list[FieldError]) -> int | None:
    if value is None:
        return None
    if type(value) is int:
        if _INT64_MIN <= value <= _INT64_MAX:
            return value
        errors.append(FieldError(field, BAD_VALUE, f"{value} does not fit a 64-bit integer"))
        return None
    if type(value) is float and math.isfinite(value) and value.is_integer():
        return _integer(int(value), field, errors)
    errors.append(FieldError(field, WRONG_TYPE, f"expected an integer, got {_value_repr(value)}"))
    return None


def _count(value: object, field: str, errors: list[FieldError]) -> int | None:
    if value is None or (type(value) is int and 0 <= value <= _INT64_MAX):
        return value
    number = _integer(value, field, errors)
    if number is not None and number < 0:
        errors.append(FieldError(field, BAD_VALUE, f"expected a count >= 0, got {number}"))
        return None
    return number


def _number(value: object, field: str, errors: list[FieldError]) -> float | None:
    if value is None:
        return None
    if type(value) is float and value - value == 0.0:  # finite
        return value
    if type(value) in (int, float) and math.isfinite(value):  # type: ignore[arg-type]
        return float(value)  # type: ignore[arg-type]
    errors.append(FieldError(field, WRONG_TYPE, f"expected a number, got {_value_repr(value)}"))
    return None


def _value_repr(value: object) -> str:
    if isinstance(value, bool | int | float):
        return repr(value)
    return _type_name(value)


def _messages(value: object, errors: list[FieldError], hints: Hints) -> tuple[str, int, str]:
    if value is None:
        _missing("messages", errors, hints)
        return "", 0, ""
    if type(value) is not list:
        errors.append(
            FieldError("messages", WRONG_TYPE, f"expected a list, got {_type_name(value)}")
        )
        return "", 0, ""
    if not value:
        errors.append(FieldError("messages", MISSING, "required list is empty"))
        return "", 0, ""
    prompt_text = ""
    for index, message in enumerate(value):
        text = _message_text(message, index, errors)
        if text is None:
            return "", 0, ""
        if message["role"] == "user":
            prompt_text = text
    return _canonical_json(value, "messages", errors), len(value), prompt_text


def _message_text(message: object, index: int, errors: list[FieldError]) -> str | None:
    """Check one message; return its text (parts joined) or None after adding an error."""
    where = f"messages[{index}]"
    if type(message) is not dict:
        errors.append(
            FieldError(where, WRONG_TYPE, f"expected an object, got {_type_name(message)}")
        )
        return None
    role = message.get("role")
    if type(role) is not str or not role:
        errors.append(FieldError(f"{where}.role", MISSING, "expected a non-empty string"))
        return None
    content = message.get("content")
    if type(content) is str:
        return content
    if type(content) is not list:
        errors.append(
            FieldError(
                f"{where}.content",
                WRONG_TYPE,
                f"expected a string or a list of parts, got {_type_name(content)}",
            )
        )
        return None
    texts = []
    for part_index, part in enumerate(content):
        part_where = f"{where}.content[{part_index}]"
        if type(part) is not dict:
            errors.append(FieldError(part_where, WRONG_TYPE, "expected an object"))
            return None
        part_type = part.get("type")
        if part_type not in _PART_TYPES:
            errors.append(
                FieldError(
                    f"{part_where}.type",
                    BAD_VALUE,
                    f"expected one of {', '.join(MESSAGE_PART_TYPES)}, got {part_type!r}",
                )
            )
            return None
        text = part.get("text")
        if text is not None and type(text) is not str:
            errors.append(FieldError(f"{part_where}.text", WRONG_TYPE, "expected a string"))
            return None
        if part_type == "text" and text is not None:
            texts.append(text)
    return "\n".join(texts)


def _tools(value: object, errors: list[FieldError]) -> tuple[str | None, list[str] | None]:
    if value is None:
        return None, None
    if type(value) is not list:
        errors.append(FieldError("tools", WRONG_TYPE, f"expected a list, got {_type_name(value)}"))
        return None, None
    names = []
    for index, tool in enumerate(value):
        name = tool.get("name") if type(tool) is dict else None
        if name is None and type(tool) is dict and type(tool.get("function")) is dict:
            name = tool["function"].get("name")  # OpenAI's {"type": "function", "function": {...}}
        if type(name) is not str or not name:
            errors.append(
                FieldError(f"tools[{index}].name", MISSING, "each tool needs a non-empty name")
            )
            return None, None
        names.append(name)
    return _canonical_json(value, "tools", errors), names


_NO_PARAMS: tuple[Any, ...] = (None,) * 8


def _params(value: object, errors: list[FieldError]) -> tuple[Any, ...]:
    """Return params JSON and the typed columns lifted from it, in schema order."""
    if value is None:
        return _NO_PARAMS
    if type(value) is not dict:
        errors.append(
            FieldError("params", WRONG_TYPE, f"expected an object, got {_type_name(value)}")
        )
        return _NO_PARAMS
    get = value.get
    stream = get("stream")
    if stream is not None and type(stream) is not bool:
        errors.append(FieldError("params.stream", WRONG_TYPE, "expected true or false"))
        stream = None
    return (
        _canonical_json(value, "params", errors),
        _number(get("temperature"), "params.temperature", errors),
        _number(get("top_p"), "params.top_p", errors),
        _count(get("max_tokens"), "params.max_tokens", errors),
        _count(get("n"), "params.n", errors),
        stream,
        _integer(get("seed"), "params.seed", errors),
        _optional_str(get("reasoning_effort"), "params.reasoning_effort", errors),
    )


def _country(value: object, errors: list[FieldError]) -> str | None:
    text = _optional_str(value, "country", errors)
    if text is None:
        return None
    code = text.upper()
    if len(code) != 2 or not ("A" <= code[0] <= "Z" and "A" <= code[1] <= "Z"):
        errors.append(
            FieldError("country", BAD_VALUE, f"expected ISO 3166-1 alpha-2, got {text!r}")
        )
        return None
    return code


def _choice(
    value: object,
    field: str,
    allowed: frozenset[str],
    ordered: tuple[str, ...],
    errors: list[FieldError],
) -> str | None:
    text = _optional_str(value, field, errors)
    if text is None:
        return None
    lowered = text.lower()
    if lowered not in allowed:
        errors.append(
            FieldError(field, BAD_VALUE, f"expected one of {', '.join(ordered)}, got {text!r}")
        )
        return None
    return lowered


def _extra(
    record: Mapping[str, Any], known: frozenset[str], errors: list[FieldError]
) -> str | None:
    unknown_keys = record.keys() - known
    if not unknown_keys:
        return None
    unknown = {key: record[key] for key in unknown_keys if record[key] is not None}
    if not unknown:
        return None
    return _canonical_json(unknown, "extra", errors)


def _canonical_json(value: object, field: str, errors: list[FieldError]) -> str:
    try:
        return orjson.dumps(value, option=_SORTED).decode()
    except (orjson.JSONEncodeError, TypeError) as error:
        errors.append(FieldError(field, BAD_VALUE, f"cannot be written as JSON: {error}"))
        return ""


# The per-value checks, for the column-at-a-time path (ingest/arrow_exchanges.py), which
# must judge nested values exactly as the record path does.
check_messages = _messages
check_tools = _tools
check_params = _params
check_count = _count
check_integer = _integer
canonical_json = _canonical_json
