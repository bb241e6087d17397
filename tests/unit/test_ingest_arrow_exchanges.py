"""The column-at-a-time Parquet path loads and quarantines exactly what the record path does."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from distillguard.engine.store import open_store
from distillguard.ingest import ingest_files

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi 1"}]
PARTS = [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image"}]}]


def _records() -> list[dict[str, Any]]:
    """Good rows and rows that break each rule once, in one table's worth of columns."""
    good: dict[str, Any] = {
        "exchange_id": "ok-0",
        "timestamp": datetime(2026, 3, 1, 12, tzinfo=UTC),
        "account_id": "acct-1",
        "model": "m",
        "messages": MESSAGES,
        "tools": [{"name": "search"}],
        "params": {"temperature": 0.5, "max_tokens": 100, "stream": True, "top_p": 1},
        "output_tokens": 12.0,
        "status": 200,
        "client_ip": "10.0.0.1",
        "vendor_field": None,
    }
    changes: list[dict[str, Any]] = [
        {},
        {"messages": PARTS, "tools": None, "params": None},
        {"output_tokens": 12.5},
        {"output_tokens": -1.0},
        {"exchange_id": ""},
        {"exchange_id": None},
        {"account_id": None},
        {"timestamp": datetime(1960, 1, 1, tzinfo=UTC)},
        {"messages": []},
        {"messages": [{"role": "user"}]},
        {"messages": [{"role": "user", "content": [{"type": "video"}]}]},
        {"tools": [{"description": "no name"}]},
        {"params": {"temperature": "hot", "stream": "yes"}},
        {"params": {"max_tokens": -5}},
        {"status": None, "vendor_field": "kept"},
        {"exchange_id": "ok-0"},  # a duplicate of the first row
    ]
    rows = []
    for index, change in enumerate(changes):
        row = {**good, "exchange_id": f"ex-{index}", **change}
        if index == 0:
            row["exchange_id"] = "ok-0"
        rows.append(row)
    return rows


def _json_text(rows: list[dict[str, Any]]) -> pa.Table:
    table = pa.Table.from_pylist(
        [
            {
                **row,
                **{
                    name: None if row[name] is None else orjson.dumps(row[name]).decode()
                    for name in ("messages", "tools", "params")
                },
            }
            for row in rows
        ]
    )
    return table.set_column(
        table.schema.get_field_index("output_tokens"),
        "output_tokens",
        table.column("output_tokens").cast(pa.float64()),
    )


def _load(tmp_path: Path, path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    con = open_store(None)
    ingest_files(con, [path], [], quarantine_path=tmp_path / f"{path.stem}.q", progress=False)
    loaded = con.con.execute(
        "SELECT * EXCLUDE (source_file) FROM exchanges ORDER BY source_line"
    ).fetchall()
    quarantined = con.con.execute(
        'SELECT source_line, field, reason FROM quarantine ORDER BY source_line, "field"'
    ).fetchall()
    return loaded, quarantined


def test_column_path_matches_the_record_path(tmp_path: Path) -> None:
    rows = _records()
    jsonl = tmp_path / "records.jsonl"
    jsonl.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    text = tmp_path / "text.parquet"
    pq.write_table(_json_text(rows), text, row_group_size=5)
    expected = _load(tmp_path, jsonl)
    assert len(expected[0]) == 3 and len(expected[1]) == 13
    assert _load(tmp_path, text) == expected


def test_timestamp_strings_and_epoch_seconds_take_the_same_path(tmp_path: Path) -> None:
    rows = _records()[:3]
    rows[1]["timestamp"] = "2026-03-01T12:00:00Z"
    rows[2]["timestamp"] = "not a time"
    as_text = [{**row, "timestamp": str(row["timestamp"])} for row in rows]
    as_text[0]["timestamp"] = "2026-03-01 12:00:00+00:00"
    table = _json_text(as_text)
    path = tmp_path / "strings.parquet"
    pq.write_table(table, path)
    jsonl = tmp_path / "strings.jsonl"
    jsonl.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in as_text))
    assert _load(tmp_path, path) == _load(tmp_path, jsonl)
