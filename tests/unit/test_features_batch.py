"""features_for_batch matches EXCHANGE_FEATURE_SCHEMA; compute_exchange_features end to end."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.engine.store import append_arrow, open_store
from distillguard.features.capability import capability_sql, tag_capabilities
from distillguard.features.exchange_features import (
    FEATURE_VERSION,
    INPUT_COLUMNS,
    compute_exchange_features,
    features_for_batch,
)
from distillguard.schema import EXCHANGE_FEATURE_SCHEMA, EXCHANGE_SCHEMA
from distillguard.schema.stored import stored_exchanges

WRAPPER = "Think step by step and write out your complete reasoning before the final answer."
PROMPTS = [
    (f"{WRAPPER}\n\nWhat is 12 * 7?", None, '[{"content":"x","role":"user"}]', None),
    (f"{WRAPPER}\n\nWhat is 3 + 9?", None, '[{"content":"x","role":"user"}]', None),
    ("Describe this photo", None, '[{"content":[{"type":"image"}],"role":"user"}]', None),
    ("Book a table for two", "You are helpful.", '[{"content":"y","role":"user"}]', ["book"]),
    ("def add(a, b):\n    pass\nImplement this.", None, '[{"content":"z","role":"user"}]', None),
    ("", None, "[]", None),
    ("x" * 30_000, None, '[{"content":"long","role":"user"}]', None),
]


def _exchanges(offset: int = 0) -> pa.Table:
    rows = []
    for i, (prompt, system, messages, tools) in enumerate(PROMPTS * 3):
        rows.append(
            {
                "exchange_id": f"ex{offset + i}",
                "ts": datetime(2026, 1, 1, tzinfo=UTC),
                "account_id": f"acct{i % 4}",
                "model": "m1",
                "system_prompt": system,
                "messages": messages,
                "n_messages": 1,
                "prompt_text": prompt,
                "tool_names": tools,
                "source_file": "t.jsonl",
                "source_line": i,
            }
        )
    return pa.Table.from_pylist(rows, schema=EXCHANGE_SCHEMA)


def _inputs(table: pa.Table) -> pa.Table:
    """The feature function's input columns of canonical exchanges, as the store keeps them."""
    return stored_exchanges(table).select(list(INPUT_COLUMNS))


def test_batch_output_follows_the_schema_exactly() -> None:
    batch = _inputs(_exchanges()).to_batches()[0]
    out = features_for_batch(batch)
    assert out.schema.equals(EXCHANGE_FEATURE_SCHEMA, check_metadata=True)
    assert out.num_rows == batch.num_rows
    rows = out.to_pylist()
    assert rows[0]["wrapper_id"] == rows[1]["wrapper_id"] != rows[3]["wrapper_id"]
    assert rows[0]["text_hash"] == rows[7]["text_hash"]  # the same prompt, repeated
    assert [r["capability"] for r in rows[:5]] == [
        "reasoning",
        "reasoning",
        "vision",
        "tool_use",
        "coding",
    ]
    assert rows[5]["lsh_bands"] == [] and rows[5]["lang"] == "und"
    assert rows[6]["truncated"] and rows[6]["prompt_chars"] == 30_000
    assert all(0.0 <= r["p_reasoning"] <= 1.0 for r in rows)


def test_empty_batch_gives_an_empty_batch() -> None:
    empty = _inputs(_exchanges().slice(0, 0))
    out = features_for_batch(
        empty.to_batches(max_chunksize=1)[0]
        if empty.to_batches()
        else pa.RecordBatch.from_pylist([], schema=empty.schema)
    )
    assert out.num_rows == 0 and out.schema.equals(EXCHANGE_FEATURE_SCHEMA)


def test_compute_features_streams_the_store_and_only_adds_new_exchanges() -> None:
    con = open_store(None)
    append_arrow(con, "exchanges", _exchanges())
    assert compute_exchange_features(con, progress=False) == 21
    append_arrow(con, "exchanges", _exchanges(offset=100))
    assert compute_exchange_features(con, progress=False) == 21
    table = con.table("exchange_features").to_pyarrow()
    assert table.num_rows == 42
    assert len(set(table.column("exchange_id").to_pylist())) == 42


def test_a_feature_table_from_an_earlier_version_is_recomputed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    con = open_store(None)
    append_arrow(con, "exchanges", _exchanges())
    assert compute_exchange_features(con, progress=False) == 21
    # A store of version 2 kept every exchange's features in one table, without the
    # sentences in version 1.
    con.con.execute("CREATE TABLE old_features AS SELECT * FROM exchange_features")
    con.con.execute("DROP VIEW exchange_features")
    con.con.execute("ALTER TABLE old_features RENAME TO exchange_features")
    con.con.execute("ALTER TABLE exchange_features DROP COLUMN instruction_sentences")
    con.con.execute("UPDATE dg_feature_version SET version = 2")
    assert compute_exchange_features(con, progress=False) == 21
    table = con.table("exchange_features").to_pyarrow()
    assert table.schema.names == EXCHANGE_FEATURE_SCHEMA.names and table.num_rows == 21
    sentences = dict(
        zip(
            table["exchange_id"].to_pylist(),
            table["instruction_sentences"].to_pylist(),
            strict=True,
        )
    )
    assert sentences["ex0"] == sentences["ex1"] != []  # the shared wrapper's sentence
    assert "written by an earlier version" in capsys.readouterr().err


def test_the_per_exchange_table_of_version_3_is_dropped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    con = open_store(None)
    append_arrow(con, "exchanges", _exchanges())
    assert compute_exchange_features(con, progress=False) == 21
    # Version 3 kept one narrow row per exchange beside the per-prompt features.
    con.con.execute("CREATE TABLE exchange_pairs AS SELECT exchange_id FROM exchanges")
    con.con.execute("UPDATE dg_feature_version SET version = 3")
    assert compute_exchange_features(con, progress=False) == 21
    assert "exchange_pairs" not in con.list_tables()
    assert con.table("exchange_features").count().execute() == 21
    assert "feature version 3" in capsys.readouterr().err


def test_features_of_an_earlier_definition_are_recomputed_and_current_ones_kept(
    capsys: pytest.CaptureFixture[str],
) -> None:
    con = open_store(None)
    append_arrow(con, "exchanges", _exchanges())
    assert compute_exchange_features(con, progress=False) == 21
    assert compute_exchange_features(con, progress=False) == 0  # up to date
    assert "earlier version" not in capsys.readouterr().err
    con.con.execute("UPDATE dg_feature_version SET version = version - 1")
    assert compute_exchange_features(con, progress=False) == 21
    assert f"this is version {FEATURE_VERSION}" in capsys.readouterr().err
    con.con.execute("DROP TABLE dg_feature_version")  # a store from before versions
    assert compute_exchange_features(con, progress=False) == 21
    assert "feature version 1" in capsys.readouterr().err
    assert con.table("exchange_features").count().execute() == 21


def test_the_store_assembles_the_same_rows_as_the_batch_function() -> None:
    con = open_store(None)
    append_arrow(con, "exchanges", _exchanges())
    assert compute_exchange_features(con, progress=False) == 21
    stored = (
        con.con.execute("SELECT * FROM exchange_features ORDER BY exchange_id").arrow().read_all()
    )
    plain = ", ".join("p.prompt_text" if c == "prompt_text" else f"e.{c}" for c in INPUT_COLUMNS)
    rows = (
        con.con.execute(
            f"SELECT {plain} FROM exchanges e JOIN prompts p USING (pair_id) ORDER BY e.exchange_id"
        )
        .arrow()
        .read_all()
    )
    direct = features_for_batch(rows.combine_chunks().to_batches()[0])
    assert stored.column_names == direct.schema.names
    assert stored.to_pylist() == direct.to_pylist()  # the same values, row by row, in order


_SIGNAL = st.floats(0.0, 1.0, width=32) | st.sampled_from([0.0, 0.4999999, 0.5, 1.0])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans(), *[_SIGNAL] * 5),
        min_size=1,
        max_size=40,
    )
)
def test_capability_rules_in_sql_match_the_column_rules(rows: list[tuple[Any, ...]]) -> None:
    import duckdb

    table = pa.table(
        {
            **{
                name: pa.array([r[i] for r in rows], pa.bool_())
                for i, name in enumerate(("image", "tools", "code", "math"))
            },
            **{f"s{i}": pa.array([r[4 + i] for r in rows], pa.float32()) for i in range(5)},
        }
    )
    signals = np.column_stack(
        [np.asarray(table.column(f"s{i}"), dtype=np.float32) for i in range(5)]
    )
    expected = tag_capabilities(
        image=np.asarray(table.column("image")),
        tools=np.asarray(table.column("tools")),
        code=np.asarray(table.column("code")),
        math=np.asarray(table.column("math")),
        signals=signals,
    ).tolist()
    sql = capability_sql(
        image="image", tools="tools", code="code", math="math",
        signals=tuple(f"s{i}" for i in range(5)),
    )  # fmt: skip
    con = duckdb.connect()
    con.register("t", table)
    got = [r[0] for r in con.execute(f"SELECT {sql} FROM t").fetchall()]
    assert got == expected
