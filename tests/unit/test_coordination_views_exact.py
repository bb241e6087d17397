"""Views that count before they write values as text keep every text apart, -0.0 included."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from distillguard.detectors.coordination.config import CoordinationConfig
from distillguard.detectors.coordination.views import client_fingerprint
from distillguard.engine.store import append_arrow, open_store
from distillguard.schema import EXCHANGE_SCHEMA

START = datetime(2026, 3, 1, tzinfo=UTC)


def _exchange(aid: str, n: int, temperature: float | None, agent: str | None) -> dict[str, Any]:
    return {
        "exchange_id": f"{aid}-{n}",
        "ts": START,
        "account_id": aid,
        "model": "m",
        "messages": "[]",
        "n_messages": 1,
        "prompt_text": "p",
        "user_agent": agent,
        "temperature": temperature,
        "source_file": "x.jsonl",
        "source_line": n,
    }


def test_client_fingerprint_tells_negative_zero_and_missing_agents_apart() -> None:
    rows = [_exchange("a", n, 0.0 if n % 2 else -0.0, "sdk") for n in range(8)]
    rows += [_exchange("b", 10 + n, 0.5, None if n % 2 else "-") for n in range(8)]
    con = open_store(None)
    append_arrow(con, "exchanges", pa.Table.from_pylist(rows, schema=EXCHANGE_SCHEMA))
    found = client_fingerprint(con, CoordinationConfig()).execute()
    values = sorted(zip(found["account_id"], found["value"], strict=True))
    tail = "|max=-|n=-|stream=-|effort=-"
    assert values == [
        ("a", "sdk|t=-0.0|p=-" + tail),
        ("a", "sdk|t=0.0|p=-" + tail),
        ("b", "-|t=0.5|p=-" + tail),
    ]
