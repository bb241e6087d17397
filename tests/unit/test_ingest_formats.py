"""OpenTelemetry GenAI and LiteLLM importers, on hand-written fixtures with real names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from distillguard.engine.store import open_store
from distillguard.engine.texts import with_prompt_text
from distillguard.ingest import IngestReport, ingest_files

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ingest"


def ingest(
    tmp_path: Path, *names: str, **options: Any
) -> tuple[dict[str, dict[str, Any]], IngestReport]:
    con = open_store()
    report = ingest_files(
        con,
        [FIXTURES / name for name in names],
        quarantine_path=tmp_path / "q.jsonl",
        progress=False,
        **options,
    )
    rows = with_prompt_text(con, con.table("exchanges")).to_pyarrow().to_pylist()
    return {row["exchange_id"]: row for row in rows}, report


def test_otel_current_conventions(
    tmp_path: Path, canonical_exchanges: dict[str, dict[str, Any]]
) -> None:
    rows, report = ingest(tmp_path, "otel_current.jsonl")
    row = rows["chatcmpl-otel-1"]
    assert (row["account_id"], row["model"], row["client_ip"]) == (
        "acct-7",
        "frontier-1",
        "203.0.113.9",
    )
    assert row["user_agent"] == "curl/8.5" and row["system_prompt"] == "You are a careful tutor."
    assert row["ts"].isoformat() == "2025-03-01T12:00:00.123456+00:00"
    assert row["prompt_text"] == "Explain step by step.\nShow your reasoning."
    # The system instructions are the system_prompt field, not a message of the conversation.
    assert (row["has_tool_parts"], row["has_image"], row["has_system_message"]) == (
        True,
        False,
        False,
    )
    messages = orjson.loads(canonical_exchanges["chatcmpl-otel-1"]["messages"])
    assert messages[1]["content"][0] == {
        "type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"},
    }  # fmt: skip
    assert messages[2]["content"][0]["type"] == "tool_result"
    assert (row["temperature"], row["max_tokens"], row["seed"], row["n"]) == (0.2, 512, 42, 1)
    assert (row["input_tokens"], row["output_tokens"], row["reasoning_tokens"]) == (31, 250, 120)
    assert (row["response_text"], row["finish_reason"], row["status"]) == (
        "It is rainy.",
        "stop",
        200,
    )
    assert row["tool_names"] == ["get_weather"] and row["conversation_id"] == "conv-1"
    file = report.files[0]
    assert (file.read, file.loaded, file.quarantined) == (2, 1, 1)
    assert file.skipped == {"span without gen_ai.* attributes": 1}
    entry = orjson.loads((tmp_path / "q.jsonl").read_bytes())
    assert entry["field"] == "account_id" and "user.id, enduser.id" in entry["reason"]


def test_otel_deprecated_names_span_events_and_log_events(tmp_path: Path) -> None:
    rows, report = ingest(tmp_path, "otel_deprecated_traces.jsonl", "otel_deprecated_logs.jsonl")
    assert rows["dep-1"]["account_id"] == "acct-old"
    assert (rows["dep-1"]["input_tokens"], rows["dep-1"]["output_tokens"]) == (12, 34)
    assert (rows["dep-1"]["prompt_text"], rows["dep-1"]["response_text"]) == (
        "Grade this essay.",
        "B+",
    )
    assert rows["dep-1"]["status"] == 200
    assert orjson.loads(rows["dep-1"]["extra"])["provider"] == "openai"
    assert rows["dep-2"]["prompt_text"] == "Write a sort function."
    assert rows["dep-2"]["finish_reason"] == "stop"
    assert (rows["dep-4"]["prompt_text"], rows["dep-4"]["response_text"]) == ("Prove it.", "QED")
    joined = rows["2222-b1"]
    assert (joined["system_prompt"], joined["prompt_text"]) == ("You are a grader.", "Score: 2+2=5")
    assert (joined["response_text"], joined["finish_reason"]) == ("0/10", "stop")
    assert rows["det-1"]["prompt_text"] == "structured hi"
    assert rows["det-1"]["account_id"] == "acct-details"
    logs = report.files[1]
    assert (logs.read, logs.loaded, logs.quarantined) == (2, 1, 1)
    assert logs.reasons == {"spanId: orphan_event": 1}
    assert logs.skipped["gen_ai message event joined to its span"] == 3
    assert report.read == report.loaded + report.quarantined


def test_otel_single_pretty_printed_document(tmp_path: Path) -> None:
    document = orjson.loads((FIXTURES / "otel_current.jsonl").read_bytes())
    path = tmp_path / "trace.json"
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    con = open_store()
    report = ingest_files(con, [path], quarantine_path=tmp_path / "q.jsonl", progress=False)
    assert report.files[0].format == "otel" and report.loaded == 1


def test_otel_account_attribute_override(tmp_path: Path) -> None:
    rows, _ = ingest(tmp_path, "otel_current.jsonl", account_fields=["client.address"])
    assert rows["chatcmpl-otel-1"]["account_id"] == "203.0.113.9"


def test_litellm_standard_logging_payload(
    tmp_path: Path, canonical_exchanges: dict[str, dict[str, Any]]
) -> None:
    rows, report = ingest(tmp_path, "litellm_standard.jsonl")
    row = rows["chatcmpl-lite-1"]
    assert (row["account_id"], row["model"], row["organization_id"]) == (
        "customer-42",
        "frontier-1",
        "org-1",
    )
    assert row["api_key_id"].startswith("88dc28d0") and row["client_ip"] == "198.51.100.7"
    assert row["ts"].timestamp() == 1740830400.25
    assert (row["system_prompt"], row["prompt_text"]) == ("You are terse.", "Solve x^2=4")
    assert (row["has_tool_parts"], row["has_image"]) == (True, True)
    messages = orjson.loads(canonical_exchanges["chatcmpl-lite-1"]["messages"])
    assert messages[1]["content"][1] == {"type": "image", "source_type": "image_url"}
    assert messages[2]["content"][0]["type"] == "tool_call"
    assert messages[3]["content"][0] == {"type": "tool_result", "text": "x=2 or x=-2", "id": "c1"}
    assert (row["response_text"], row["reasoning_tokens"], row["tool_names"]) == (
        "x = ±2",
        16,
        ["calc"],
    )
    assert (row["temperature"], row["max_tokens"], row["status"]) == (0.0, 100, 200)
    failed = rows["chatcmpl-lite-2"]
    assert (failed["account_id"], failed["status"]) == ("internal-user-3", 429)
    assert report.loaded == 2


def test_litellm_spend_logs(tmp_path: Path) -> None:
    rows, report = ingest(tmp_path, "litellm_spendlogs.jsonl")
    row = rows["req-spend-1"]
    assert (row["account_id"], row["api_key_id"], row["organization_id"]) == (
        "internal-user-5",
        "hashed-key-1",
        "org-2",
    )
    assert row["ts"].isoformat() == "2025-03-01T12:00:00.500000+00:00"
    assert (row["prompt_text"], row["temperature"]) == ("List 50 reasoning puzzles.", 1.0)
    assert (row["response_text"], row["finish_reason"], row["conversation_id"]) == (
        "partial",
        "length",
        "sess-1",
    )
    assert report.reasons == {"messages: missing": 1}
    entry = orjson.loads((tmp_path / "q.jsonl").read_bytes())
    assert entry["source_line"] == 2 and "store_prompts_in_spend_logs" in entry["reason"]


def test_litellm_account_field_override(tmp_path: Path) -> None:
    rows, _ = ingest(tmp_path, "litellm_spendlogs.jsonl", account_fields=["team_id", "api_key"])
    assert rows["req-spend-1"]["account_id"] == "team-1"
