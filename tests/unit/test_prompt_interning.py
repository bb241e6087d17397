"""Each distinct (prompt, system prompt) pair is kept once and named by a fixed key."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.engine.store import append_arrow, open_store
from distillguard.schema import STORED_EXCHANGE_SCHEMA
from distillguard.schema.prompts import intern_prompts, pair_id

_TEXT = st.text(max_size=12) | st.sampled_from(["", "a", "ab", "b", "bc", "解释一下"])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(_TEXT, st.none() | _TEXT), min_size=1, max_size=30))
def test_each_row_gets_its_pairs_key_and_each_pair_one_row(
    pairs: list[tuple[str, str | None]],
) -> None:
    prompts = pa.array([p for p, _ in pairs], pa.string())
    systems = pa.array([s for _, s in pairs], pa.string())
    ids, rows = intern_prompts(prompts, systems)
    assert ids.to_pylist() == [pair_id(p, s) for p, s in pairs]
    distinct = {(p, s or "") for p, s in pairs}
    assert sorted(
        zip(rows["prompt_text"].to_pylist(), rows["system"].to_pylist(), strict=False)
    ) == sorted(distinct)
    assert len(set(rows["pair_id"].to_pylist())) == len(distinct)


def test_the_key_is_fixed_and_keeps_prompt_and_system_apart() -> None:
    # Fixed: a store written today and one written next year must agree (module docstring).
    assert pair_id("Explain step by step.", None) == pair_id("Explain step by step.", "")
    assert pair_id("ab", "c") != pair_id("a", "bc")
    assert pair_id("Explain step by step.", None) == 7813888628942048106
    assert -(2**63) <= pair_id("x", "y") < 2**63


def test_the_store_keeps_each_prompt_once_across_appends() -> None:
    con = open_store(None)

    def batch(start: int) -> pa.Table:
        rows = [
            {
                "exchange_id": f"ex{start + i}",
                "ts": datetime(2026, 1, 1, tzinfo=UTC),
                "account_id": "a",
                "model": "m",
                "system_prompt": None if i % 2 else "sys",
                "n_messages": 1,
                "prompt_text": f"task {i % 3}",
                "source_file": "t.jsonl",
                "source_line": start + i,
                "has_image": False,
                "has_tool_parts": False,
                "has_system_message": False,
            }
            for i in range(6)
        ]
        return pa.Table.from_pylist(rows, schema=_schema(rows[0]))

    append_arrow(con, "exchanges", batch(0))
    append_arrow(con, "exchanges", batch(6))
    assert con.table("prompts").count().execute() == 6
    joined = con.con.execute(
        "SELECT count(*) FROM exchanges e JOIN prompts p USING (pair_id)"
    ).fetchone()
    assert joined == (12,)


def _schema(row: dict[str, object]) -> pa.Schema:
    return pa.schema([STORED_EXCHANGE_SCHEMA.field(name) for name in row])
