"""CONTRACT.md, inputs: a file that follows the page exactly loads with every field kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from distillguard.engine.store import open_store
from distillguard.engine.texts import with_prompt_text
from distillguard.ingest import ingest_files

EXCHANGE = {
    "exchange_id": "req-001",
    "timestamp": "2025-03-01T12:00:00.250Z",
    "account_id": "acct-9",
    "api_key_id": "key-hash-1",
    "organization_id": "org-1",
    "client_ip": "2001:db8::1",
    "user_agent": "openai-python/1.0",
    "model": "frontier-1",
    "system_prompt": "Be precise.",
    "messages": [
        {"role": "user", "content": "Derive the formula."},
        {"role": "assistant", "content": [{"type": "tool_call", "text": "calc(1)"}]},
        {"role": "tool", "content": [{"type": "tool_result", "text": "1"}]},
        {"role": "user", "content": [{"type": "text", "text": "Now"}, {"type": "image"}]},
    ],
    "tools": [{"name": "calc", "description": "arithmetic"}],
    "params": {
        "temperature": 0.3,
        "top_p": 1,
        "max_tokens": 4096,
        "n": 1,
        "stream": True,
        "seed": 7,
        "reasoning_effort": "high",
    },
    "input_tokens": 100,
    "output_tokens": 2000,
    "reasoning_tokens": 1500,
    "response_text": "The formula is …",
    "finish_reason": "stop",
    "conversation_id": "conv-9",
    "status": 200,
    "vendor_field": {"kept": True},
}
ACCOUNT = {
    "account_id": "acct-9",
    "created_at": 1_735_689_600,
    "organization_id": "org-1",
    "email_domain": "example.edu",
    "payment_fingerprint": "fp-1",
    "country": "NL",
    "verification": "phone",
    "program": "education",
    "signup_ip": "198.51.100.1",
}


def _load(
    tmp_path: Path, exchanges: Path, accounts: Path, canonical: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    con = open_store()
    report = ingest_files(
        con, [exchanges], [accounts], quarantine_path=tmp_path / "q.jsonl", progress=False
    )
    assert (report.read, report.loaded, report.quarantined) == (2, 2, 0)
    return {
        # The store keeps flags instead of the conversation and tool JSON: the canonical
        # record is checked as ingest hands it over, the flags as stored.
        "exchange": canonical[EXCHANGE["exchange_id"]],
        "stored": with_prompt_text(con, con.table("exchanges")).to_pyarrow().to_pylist()[0],
        "account": con.table("accounts").to_pyarrow().to_pylist()[0],
    }


def _check(rows: dict[str, Any]) -> None:
    exchange, account = rows["exchange"], rows["account"]
    for name in ("exchange_id", "account_id", "api_key_id", "organization_id", "client_ip",
                 "user_agent", "model", "system_prompt", "input_tokens", "output_tokens",
                 "reasoning_tokens", "response_text", "finish_reason", "conversation_id",
                 "status"):  # fmt: skip
        assert exchange[name] == EXCHANGE[name], name
    assert exchange["ts"].isoformat() == "2025-03-01T12:00:00.250000+00:00"
    if "messages" in exchange:  # the record path hands over the canonical JSON texts
        assert orjson.loads(exchange["messages"]) == EXCHANGE["messages"]
        assert orjson.loads(exchange["tools"]) == EXCHANGE["tools"]
    # (The Parquet path searches each distinct conversation once and hands over its flags.)
    assert (exchange["n_messages"], exchange["prompt_text"]) == (4, "Now")
    assert orjson.loads(exchange["params"]) == EXCHANGE["params"]
    assert (exchange["temperature"], exchange["top_p"], exchange["max_tokens"]) == (0.3, 1.0, 4096)
    assert (exchange["n"], exchange["stream"], exchange["seed"]) == (1, True, 7)
    assert exchange["reasoning_effort"] == "high" and exchange["tool_names"] == ["calc"]
    assert orjson.loads(exchange["extra"]) == {"vendor_field": {"kept": True}}
    stored = rows["stored"]
    flags = (stored["has_image"], stored["has_tool_parts"], stored["has_system_message"])
    assert flags == (True, True, False)
    assert {name: stored[name] for name in exchange if name not in ("messages", "tools")} == {
        name: exchange[name] for name in exchange if name not in ("messages", "tools")
    }
    for name in ("account_id", "organization_id", "email_domain", "payment_fingerprint",
                 "country", "verification", "program", "signup_ip"):  # fmt: skip
        assert account[name] == ACCOUNT[name], name
    assert account["created_at"].timestamp() == ACCOUNT["created_at"]


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_contract_jsonl_inputs_load_with_every_field(
    tmp_path: Path, suffix: str, canonical_exchanges: dict[str, dict[str, Any]]
) -> None:
    import gzip

    def write(name: str, value: dict[str, Any]) -> Path:
        data = orjson.dumps(value) + b"\n"
        path = tmp_path / (name + suffix)
        path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
        return path

    exchanges, accounts = write("exchanges", EXCHANGE), write("accounts", ACCOUNT)
    _check(_load(tmp_path, exchanges, accounts, canonical_exchanges))


def test_contract_parquet_inputs_load_with_every_field(
    tmp_path: Path, canonical_exchanges: dict[str, dict[str, Any]]
) -> None:
    exchange = dict(EXCHANGE, messages=orjson.dumps(EXCHANGE["messages"]).decode())
    pq.write_table(pa.Table.from_pylist([exchange]), tmp_path / "exchanges.parquet")
    pq.write_table(pa.Table.from_pylist([ACCOUNT]), tmp_path / "accounts.parquet")
    exchanges, accounts = tmp_path / "exchanges.parquet", tmp_path / "accounts.parquet"
    _check(_load(tmp_path, exchanges, accounts, canonical_exchanges))
