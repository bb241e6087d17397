"""Nested texts remembered across Parquet batches give exactly what checking them afresh does."""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa

from distillguard.ingest.arrow_exchanges import NestedMemo, canonical_exchanges

GOOD = [{"role": "user", "content": "hi"}]
BROKEN = [{"role": "user"}]


def _batch(messages: list[Any]) -> pa.RecordBatch:
    rows = len(messages)
    return pa.RecordBatch.from_pydict(
        {
            "exchange_id": [f"ex-{i}" for i in range(rows)],
            "timestamp": pa.array([1_770_000_000_000_000] * rows, pa.timestamp("us", tz="UTC")),
            "account_id": ["acct"] * rows,
            "model": ["m"] * rows,
            "messages": [None if m is None else orjson.dumps(m).decode() for m in messages],
            "params": ['{"temperature": 0.5}', '{"stream": "yes"}'] * (rows // 2),
        }
    )


def test_a_memo_carried_over_batches_changes_nothing() -> None:
    batches = [_batch([GOOD, BROKEN, GOOD, None]), _batch([BROKEN, GOOD, [], GOOD])]
    memo = NestedMemo()
    for batch in batches:
        fresh_table, fresh_ok = canonical_exchanges(batch)
        table, ok = canonical_exchanges(batch, memo)
        assert table.equals(fresh_table)
        assert ok.tolist() == fresh_ok.tolist()
    assert set(memo.texts("messages")) == {orjson.dumps(m).decode() for m in (GOOD, BROKEN, [])}


def test_a_full_memo_starts_afresh_and_stays_exact() -> None:
    memo = NestedMemo(text_bytes=40)
    batch = _batch([GOOD, [{"role": "user", "content": "a longer prompt"}], BROKEN, GOOD])
    expected = canonical_exchanges(batch)
    for _ in range(3):
        table, ok = canonical_exchanges(batch, memo)
        assert table.equals(expected[0])
        assert ok.tolist() == expected[1].tolist()
    assert sum(len(text) for text in memo.texts("messages")) <= 40


def test_results_taken_across_many_remembered_chunks_stay_exact() -> None:
    """Each batch adds new texts beside repeats of earlier ones, so a batch's rows come from
    several remembered chunks at once; every batch still equals checking it afresh."""
    memo = NestedMemo()
    rounds = 9
    for round_ in range(rounds):
        messages: list[Any] = []
        for earlier in range(round_ + 1):
            # New texts of this round, then texts first seen in each earlier round.
            messages += [[{"role": "user", "content": f"prompt {earlier}-{k}"}] for k in range(3)]
        messages += [BROKEN, None] if round_ % 2 else [GOOD, GOOD]
        messages += [GOOD] * (len(messages) % 2)  # the helper's params come in pairs
        batch = _batch(messages[::-1])
        fresh_table, fresh_ok = canonical_exchanges(batch)
        table, ok = canonical_exchanges(batch, memo)
        assert table.equals(fresh_table)
        assert ok.tolist() == fresh_ok.tolist()
    assert len(memo.texts("messages")) == 3 * rounds + 2
