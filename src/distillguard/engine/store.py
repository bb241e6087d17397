"""The embedded store: an Ibis connection over DuckDB (a file or memory).

Every relational stage takes an Ibis backend from here, so that the same expressions run
on DuckDB by default and on PySpark or a warehouse when a user passes another backend.
"""

from __future__ import annotations

from pathlib import Path

import ibis
import pyarrow as pa
from ibis.backends.duckdb import Backend as DuckDBBackend

from distillguard.schema import ACCOUNT_SCHEMA, EXCHANGE_SCHEMA, QUARANTINE_SCHEMA

TABLE_SCHEMAS: dict[str, pa.Schema] = {
    "exchanges": EXCHANGE_SCHEMA,
    "accounts": ACCOUNT_SCHEMA,
    "quarantine": QUARANTINE_SCHEMA,
}


def open_store(path: Path | None = None, *, threads: int | None = None) -> DuckDBBackend:
    """Open (or create) the embedded store; ``None`` keeps it in memory.

    The canonical tables are created empty when missing, so readers can always append.
    """
    con = ibis.duckdb.connect(str(path) if path is not None else ":memory:")
    if threads is not None:
        con.raw_sql(f"SET threads = {int(threads)}")
    existing = set(con.list_tables())
    for name, schema in TABLE_SCHEMAS.items():
        if name not in existing:
            con.create_table(name, schema=ibis.schema(schema))
    return con


def append_arrow(con: DuckDBBackend, table: str, batch: pa.Table | pa.RecordBatch) -> None:
    """Append an Arrow batch that follows the table's canonical schema."""
    if isinstance(batch, pa.RecordBatch):
        batch = pa.Table.from_batches([batch])
    if batch.num_rows:
        con.insert(table, batch)
