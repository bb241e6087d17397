"""Validation of single contract records: canonical values and every reason to reject."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest

from distillguard.ingest import (
    ACCOUNT_ROW_FIELDS,
    EXCHANGE_ROW_FIELDS,
    RecordInvalid,
    validate_account,
    validate_exchange,
)


def exchange(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "exchange_id": "ex-1",
        "timestamp": "2025-03-01T12:00:00Z",
        "account_id": "acct-1",
        "model": "frontier-1",
        "messages": [{"role": "user", "content": "hello"}],
    }
    record.update(changes)
    return {key: value for key, value in record.items() if value is not ...}


def row(record: dict[str, Any]) -> dict[str, Any]:
    return dict(zip(EXCHANGE_ROW_FIELDS, validate_exchange(record), strict=True))


def reasons(record: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(RecordInvalid) as caught:
        validate_exchange(record)
    return [(error.field, error.kind) for error in caught.value.errors]


def test_minimal_record_gets_canonical_values() -> None:
    values = row(exchange())
    assert values["ts"] == 1_740_830_400_000_000
    assert values["messages"] == '[{"content":"hello","role":"user"}]'
    assert (values["n_messages"], values["prompt_text"]) == (1, "hello")
    assert values["extra"] is None and values["params"] is None


def test_prompt_text_is_last_user_message_with_text_parts_joined() -> None:
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": [
            {"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"},
        ]},
        {"role": "tool", "content": [{"type": "tool_result", "text": "42"}]},
    ]  # fmt: skip
    assert row(exchange(messages=messages))["prompt_text"] == "a\nb"
    assert row(exchange(messages=[{"role": "system", "content": "s"}]))["prompt_text"] == ""


def test_params_are_lifted_into_typed_columns() -> None:
    params = {"temperature": 1, "top_p": 0.5, "max_tokens": 10.0, "n": 2, "stream": True,
              "seed": -3, "reasoning_effort": "high", "logit_bias": {"1": 2}}  # fmt: skip
    values = row(exchange(params=params, tools=[{"name": "search"}, {"name": "calc"}]))
    assert values["temperature"] == 1.0 and isinstance(values["temperature"], float)
    assert (values["top_p"], values["max_tokens"], values["n"]) == (0.5, 10, 2)
    assert (values["stream"], values["seed"], values["reasoning_effort"]) == (True, -3, "high")
    assert values["tool_names"] == ["search", "calc"]
    assert orjson.loads(values["params"])["logit_bias"] == {"1": 2}


def test_unknown_fields_are_kept_in_extra_and_nulls_are_absent() -> None:
    values = row(exchange(region="eu", tier=None, api_key_id=None))
    assert values["extra"] == '{"region":"eu"}'
    assert values["api_key_id"] is None


def test_every_error_of_a_record_is_collected() -> None:
    record = exchange(exchange_id=..., account_id=5, model="", timestamp="yesterday",
                      input_tokens=-1, status="200", params={"stream": "yes"})  # fmt: skip
    assert reasons(record) == [
        ("exchange_id", "missing"),
        ("timestamp", "bad_time"),
        ("account_id", "wrong_type"),
        ("model", "missing"),
        ("params.stream", "wrong_type"),
        ("input_tokens", "bad_value"),
        ("status", "wrong_type"),
    ]


@pytest.mark.parametrize(
    ("timestamp", "expected_us"),
    [
        ("2025-03-01T12:00:00Z", 1_740_830_400_000_000),
        ("2025-03-01T13:00:00+01:00", 1_740_830_400_000_000),
        ("2025-03-01T12:00:00", 1_740_830_400_000_000),  # naive -> UTC
        ("2025-03-01 12:00:00.5+00:00", 1_740_830_400_500_000),
        (1_740_830_400, 1_740_830_400_000_000),
        (1_740_830_400.25, 1_740_830_400_250_000),
    ],
)
def test_timestamps_accepted(timestamp: object, expected_us: int) -> None:
    assert row(exchange(timestamp=timestamp))["ts"] == expected_us


@pytest.mark.parametrize(
    ("timestamp", "words"),
    [
        ("2025-03-01", "no time of day"),
        ("not a time", "no time of day"),
        ("2025-13-01T00:00:00Z", "not an RFC 3339"),
        (True, "boolean"),
        (math.nan, "not a finite"),
        (-5, "before 1970"),
        (1_740_830_400_000, "milliseconds"),
        (1_740_830_400_000_000, "microseconds"),
        (1_740_830_400_000_000_000, "nanoseconds"),
        ([2025], "got list"),
    ],
)
def test_timestamps_rejected_with_reason(timestamp: object, words: str) -> None:
    with pytest.raises(RecordInvalid) as caught:
        validate_exchange(exchange(timestamp=timestamp))
    assert caught.value.errors[0].field == "timestamp"
    assert words in caught.value.errors[0].reason


@pytest.mark.parametrize(
    ("messages", "field"),
    [
        ("hello", "messages"),
        ([], "messages"),
        ([1], "messages[0]"),
        ([{"content": "x"}], "messages[0].role"),
        ([{"role": "user", "content": None}], "messages[0].content"),
        ([{"role": "user", "content": [{"type": "video"}]}], "messages[0].content[0].type"),
        (
            [{"role": "user", "content": [{"type": "text", "text": 3}]}],
            "messages[0].content[0].text",
        ),
    ],
)
def test_bad_messages_name_the_broken_part(messages: object, field: str) -> None:
    assert reasons(exchange(messages=messages))[0][0] == field


def test_tools_need_names_and_counts_must_be_integers() -> None:
    assert reasons(exchange(tools=[{"description": "x"}])) == [("tools[0].name", "missing")]
    assert reasons(exchange(output_tokens=1.5)) == [("output_tokens", "wrong_type")]
    assert reasons(exchange(output_tokens=True)) == [("output_tokens", "wrong_type")]
    assert reasons(exchange(status=2**70)) == [("status", "bad_value")]


def test_openai_style_tool_definitions_are_accepted() -> None:
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
    assert row(exchange(tools=[tool]))["tool_names"] == ["get_weather"]
    assert reasons(exchange(tools=[{"type": "function", "function": {}}])) == [
        ("tools[0].name", "missing")
    ]


def test_account_rules() -> None:
    values = dict(
        zip(
            ACCOUNT_ROW_FIELDS,
            validate_account({"account_id": "a", "country": "de", "verification": "Phone",
                              "program": "free", "created_at": 1_700_000_000, "plan": "x"}),
            strict=True,
        )
    )  # fmt: skip
    assert (values["country"], values["verification"], values["program"]) == ("DE", "phone", "free")
    assert values["created_at"] == 1_700_000_000_000_000 and values["extra"] == '{"plan":"x"}'
    with pytest.raises(RecordInvalid) as caught:
        validate_account({"country": "Germany", "verification": "sms", "program": "vip"})
    assert [error.field for error in caught.value.errors] == [
        "account_id", "country", "verification", "program",
    ]  # fmt: skip
