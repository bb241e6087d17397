"""The embedded store: canonical tables, capped memory, appends that leave nothing behind."""

from __future__ import annotations

import pyarrow as pa

from distillguard.engine.store import append_arrow, open_store
from distillguard.schema import QUARANTINE_SCHEMA


def _quarantine_rows(n: int) -> pa.Table:
    return pa.Table.from_pydict(
        {
            "table": ["exchanges"] * n,
            "source_file": ["f.jsonl"] * n,
            "source_line": list(range(n)),
            "field": [None] * n,
            "reason": ["bad"] * n,
            "raw": ["x" * 1000] * n,
        },
        schema=QUARANTINE_SCHEMA,
    )


def test_store_has_canonical_tables_and_a_memory_cap() -> None:
    con = open_store()
    assert {"exchanges", "accounts", "quarantine"} <= set(con.list_tables())
    limit = con.con.execute("SELECT current_setting('memory_limit')").fetchone()
    assert limit is not None and "GiB" in str(limit[0])


def test_appends_accumulate_rows_and_leave_no_staging_tables_or_arrow_memory() -> None:
    con = open_store()
    before = pa.total_allocated_bytes()
    for _ in range(5):
        append_arrow(con, "quarantine", _quarantine_rows(1000))
    assert con.table("quarantine").count().execute() == 5000
    views = con.con.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone()
    assert views == (0,)
    assert pa.total_allocated_bytes() - before < 1_000_000
