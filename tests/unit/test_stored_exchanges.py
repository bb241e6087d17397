"""The store keeps message flags instead of the conversation JSON (store schema 2) and each
prompt's text once (store schema 3)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.engine.store import append_arrow, open_store
from distillguard.schema import EXCHANGE_SCHEMA, EXCHANGE_TABLE_SCHEMA, STORED_EXCHANGE_SCHEMA
from distillguard.schema.stored import FLAG_MARKERS, message_flags, stored_exchanges

_SORTED = orjson.OPT_SORT_KEYS
_PART = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=30)}),
    st.fixed_dictionaries({"type": st.sampled_from(["image", "tool_call", "tool_result"])}),
)
_MESSAGE = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "assistant", "system", "tool"]),
        "content": st.one_of(st.text(max_size=40), st.lists(_PART, max_size=3)),
    }
)


def _canonical(messages: list[dict[str, Any]]) -> str:
    return orjson.dumps(messages, option=_SORTED).decode()


def _row(i: int, messages: str) -> dict[str, Any]:
    return {
        "exchange_id": f"ex{i}",
        "ts": datetime(2026, 1, 1, tzinfo=UTC),
        "account_id": "a",
        "model": "m",
        "messages": messages,
        "n_messages": 1,
        "prompt_text": "p",
        "tools": '[{"name":"f"}]',
        "tool_names": ["f"],
        "source_file": "t.jsonl",
        "source_line": i,
    }


def _flags_of(conversations: list[list[dict[str, Any]]]) -> dict[str, list[bool]]:
    table = pa.Table.from_pylist(
        [_row(i, _canonical(c)) for i, c in enumerate(conversations)], schema=EXCHANGE_SCHEMA
    )
    stored = stored_exchanges(table)
    names = ("has_image", "has_tool_parts", "has_system_message")
    return {name: stored.column(name).to_pylist() for name in names}


def _expected(conversation: list[dict[str, Any]]) -> dict[str, bool]:
    """The flags' meaning, read from the parsed conversation."""
    parts = [p for m in conversation if isinstance(m["content"], list) for p in m["content"]]
    kinds = {p.get("type") for p in parts}
    roles = {m["role"] for m in conversation}
    return {
        "has_image": "image" in kinds,
        "has_tool_parts": bool(kinds & {"tool_call", "tool_result"}) or "tool" in roles,
        "has_system_message": "system" in roles,
    }


def test_flags_name_what_the_conversation_holds() -> None:
    conversations = [
        [{"role": "user", "content": "hi"}],
        [{"role": "system", "content": "rules"}, {"role": "user", "content": "hi"}],
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "what"}]}],
        [
            {"role": "assistant", "content": [{"type": "tool_call"}]},
            {"role": "tool", "content": "4"},
        ],
        # The markers typed by a user sit inside an escaped JSON string and do not count.
        [{"role": "user", "content": '"type":"image" and "role":"system"'}],
    ]
    flags = _flags_of(conversations)
    assert flags["has_system_message"] == [False, True, False, False, False]
    assert flags["has_image"] == [False, False, True, False, False]
    assert flags["has_tool_parts"] == [False, False, False, True, False]


def test_stored_rows_drop_the_json_and_follow_the_stored_schema() -> None:
    table = pa.Table.from_pylist(
        [_row(0, _canonical([{"role": "user", "content": "x"}]))], schema=EXCHANGE_SCHEMA
    )
    stored = stored_exchanges(table)
    assert stored.schema.names == STORED_EXCHANGE_SCHEMA.names
    assert "messages" not in stored.column_names and "tools" not in stored.column_names
    assert stored_exchanges(stored) is stored  # already stored: unchanged
    con = open_store(None)
    append_arrow(con, "exchanges", table)
    table_names = con.con.execute("SELECT * FROM exchanges").arrow().read_all().column_names
    assert table_names == EXCHANGE_TABLE_SCHEMA.names
    assert _with_text(con).to_pylist() == stored.to_pylist()


def _with_text(con: Any) -> pa.Table:
    """The store's exchanges with their prompt text joined back, in the stored layout."""
    columns = ", ".join(
        "p.prompt_text" if name == "prompt_text" else f"e.{name}"
        for name in STORED_EXCHANGE_SCHEMA.names
    )
    return (
        con.con.execute(
            f"SELECT {columns} FROM exchanges e JOIN prompts p USING (pair_id) "
            "ORDER BY e.exchange_id"
        )
        .arrow()
        .read_all()
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_MESSAGE, min_size=1, max_size=4), min_size=1, max_size=12))
def test_the_flags_match_the_parsed_conversation(conversations: list[list[dict[str, Any]]]) -> None:
    expected = [_expected(c) for c in conversations]
    got = _flags_of(conversations)
    assert [{name: got[name][i] for name in got} for i in range(len(conversations))] == expected


def test_a_store_of_schema_1_is_upgraded_in_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "old.duckdb"
    conversations = [
        [{"role": "system", "content": "s"}, {"role": "user", "content": "x"}],
        [{"role": "user", "content": [{"type": "image"}]}],
    ]
    old = pa.Table.from_pylist(
        [_row(i, _canonical(c)) for i, c in enumerate(conversations)], schema=EXCHANGE_SCHEMA
    )
    legacy = duckdb.connect(str(path))
    legacy.register("old", old)
    legacy.execute("CREATE TABLE exchanges AS SELECT * FROM old")
    legacy.close()
    con = open_store(path)
    said = capsys.readouterr().err
    assert "upgraded to store schema 2" in said and "upgraded to store schema 3" in said
    upgraded = con.con.execute("SELECT * FROM exchanges ORDER BY exchange_id").arrow().read_all()
    assert set(upgraded.column_names) == set(EXCHANGE_TABLE_SCHEMA.names)
    assert _with_text(con).to_pylist() == stored_exchanges(old).to_pylist()
    con.disconnect()
    open_store(path).disconnect()  # already upgraded: nothing to say
    assert "upgraded" not in capsys.readouterr().err


def test_an_interrupted_upgrade_is_finished_on_the_next_open(tmp_path: Path) -> None:
    path = tmp_path / "half.duckdb"
    conversation = [{"role": "user", "content": [{"type": "image"}]}]
    old = pa.Table.from_pylist([_row(0, _canonical(conversation))], schema=EXCHANGE_SCHEMA)
    legacy = duckdb.connect(str(path))
    legacy.register("old", old)
    legacy.execute("CREATE TABLE exchanges AS SELECT * FROM old")
    # Stopped after adding a flag column and dropping the tool JSON, before filling the flag.
    legacy.execute("ALTER TABLE exchanges ADD COLUMN has_image BOOLEAN")
    legacy.execute("ALTER TABLE exchanges DROP COLUMN tools")
    legacy.close()
    con = open_store(path)
    row = con.con.execute("SELECT * FROM exchanges").arrow().read_all().to_pylist()[0]
    assert "messages" not in row and row["has_image"] is True and row["has_tool_parts"] is False


@settings(max_examples=60, deadline=None)
@given(st.lists(_MESSAGE, min_size=1, max_size=4))
def test_the_python_search_gives_the_flags_of_the_sql_search(
    conversation: list[dict[str, Any]],
) -> None:
    # The Parquet path searches each distinct conversation in Python, the record path in SQL.
    python = dict(zip(FLAG_MARKERS, message_flags(_canonical(conversation)), strict=True))
    assert python == _expected(conversation)
    assert {name: values[0] for name, values in _flags_of([conversation]).items()} == python
