"""The writer thread of ingest: rows land in order, and its errors reach the caller."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from distillguard.engine.store import open_store
from distillguard.ingest.appender import BackgroundAppender


def test_appends_land_in_submission_order() -> None:
    con = open_store()
    con.con.execute("CREATE TABLE numbers (n BIGINT)")
    with BackgroundAppender(con.con) as appender:
        for start in range(0, 50_000, 5_000):
            appender.append("numbers", pa.table({"n": pa.array(range(start, start + 5_000))}))
    rows = con.con.execute("SELECT n FROM numbers").fetchall()
    assert [row[0] for row in rows] == list(range(50_000))


def test_drain_makes_rows_visible_to_the_callers_connection() -> None:
    con = open_store()
    con.con.execute("CREATE TABLE numbers (n BIGINT)")
    with BackgroundAppender(con.con) as appender:
        appender.append("numbers", pa.table({"n": [1, 2, 3]}))
        appender.drain()
        assert con.con.execute("SELECT count(*) FROM numbers").fetchone() == (3,)


def test_a_writer_error_reaches_the_caller() -> None:
    con = open_store()
    raised = pytest.raises(duckdb.CatalogException, match="no_such_table")
    with raised, BackgroundAppender(con.con) as appender:
        appender.append("no_such_table", pa.table({"n": [1]}))
    # Raised at the next append, before the second batch is handed over.
    raised = pytest.raises(duckdb.CatalogException, match="no_such_table")
    with raised, BackgroundAppender(con.con) as appender:
        appender.append("no_such_table", pa.table({"n": [1]}))
        appender.append("no_such_table", pa.table({"n": [2]}))
