"""The embedded store: an Ibis connection over DuckDB (a file or memory).

Every relational stage takes an Ibis backend from here, so that the same expressions run
on DuckDB by default and on PySpark or a warehouse when a user passes another backend.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import ibis
import pyarrow as pa
from ibis.backends.duckdb import Backend as DuckDBBackend

from distillguard.engine.room import StoreRoom
from distillguard.schema import ACCOUNT_SCHEMA, QUARANTINE_SCHEMA, STORED_EXCHANGE_SCHEMA
from distillguard.schema.stored import flag_sql, stored_insert
from distillguard.schema.tables import DROPPED_FROM_STORE

TABLE_SCHEMAS: dict[str, pa.Schema] = {
    "exchanges": STORED_EXCHANGE_SCHEMA,
    "accounts": ACCOUNT_SCHEMA,
    "quarantine": QUARANTINE_SCHEMA,
}


CHECKPOINT_THRESHOLD = "1GB"
"""DuckDB checkpoints whenever its write-ahead log passes 16 MB; each checkpoint of an
in-memory table re-compresses the row groups written so far, so appending a large input batch
by batch grew slower with every batch (200k-row appends went from 3 s to 11 s once the table
held 400k rows).  A larger threshold checkpoints rarely; appends then cost the same throughout."""


def open_store(
    path: Path | None = None,
    *,
    threads: int | None = None,
    room: StoreRoom | None = None,
) -> DuckDBBackend:
    """Open (or create) the embedded store; ``None`` keeps it in memory.

    ``room``: the memory cap and the spill folder and cap (engine/room.py; defaults there).
    The canonical tables are created empty when missing, so readers can always append.
    """
    room = room or StoreRoom()
    con = ibis.duckdb.connect(str(path) if path is not None else ":memory:")
    con.raw_sql(f"SET memory_limit = '{room.memory_limit}'")
    con.raw_sql(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
    # By default DuckDB would spill an in-memory store to ./.tmp of whatever directory the
    # user ran from, shared by concurrent scans: each store gets a folder of its own.
    spill = room.spill_folder(path, f"{os.getpid()}-{id(con)}")
    if spill is not None:
        con.raw_sql(f"SET temp_directory = '{spill.as_posix()}'")
    if room.temp_limit is not None:
        con.raw_sql(f"SET max_temp_directory_size = '{room.temp_limit}'")
    if threads is not None:
        con.raw_sql(f"SET threads = {int(threads)}")
    existing = set(con.list_tables())
    for name, schema in TABLE_SCHEMAS.items():
        if name not in existing:
            con.create_table(name, schema=ibis.schema(schema))
    if "exchanges" in existing:
        _upgrade_exchanges(con, path)
    return con


def _upgrade_exchanges(con: DuckDBBackend, path: Path | None) -> None:
    """A store from before schema version 2 keeps each exchange's conversation JSON; derive
    the message flags from it (the same markers as ingest) and drop the JSON columns."""
    duck = con.con
    columns = {
        str(row[0])
        for row in duck.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'exchanges'"
        ).fetchall()
    }
    if "messages" not in columns:
        return
    # Each step can be run again, and ``messages`` goes last: a run interrupted part way
    # leaves it in place, so the next open sees an old store and finishes the upgrade.
    # (DuckDB refuses to commit an ALTER, an UPDATE and a DROP of one table together.)
    for name, expression in flag_sql("messages").items():
        if name not in columns:
            duck.execute(f"ALTER TABLE exchanges ADD COLUMN {name} BOOLEAN")
        duck.execute(f"UPDATE exchanges SET {name} = {expression}")
    for name in sorted(DROPPED_FROM_STORE, key=lambda dropped: dropped == "messages"):
        if name in columns:
            duck.execute(f"ALTER TABLE exchanges DROP COLUMN {name}")
    print(
        f"store {path}: upgraded to store schema 2 (message flags kept, conversation JSON "
        "dropped; the input files keep the full requests)",
        file=sys.stderr,
    )


_STAGING = "dg_append_batch"


def append_arrow(con: DuckDBBackend, table: str, batch: pa.Table | pa.RecordBatch) -> None:
    """Append an Arrow batch that follows the table's canonical schema.

    Canonical exchanges (with ``messages``) are turned into the stored rows on the way in:
    the message flags are searched in the same INSERT (schema/stored.py).

    The batch is registered with DuckDB, copied in by one INSERT and unregistered at once:
    Ibis's ``insert`` keeps every in-memory table it was given alive for the life of the
    connection, which made memory grow with the input during a long ingest.
    """
    if isinstance(batch, pa.RecordBatch):
        batch = pa.Table.from_batches([batch])
    if not batch.num_rows:
        return
    names = list(batch.schema.names)
    selected = ", ".join(f'"{name}"' for name in names)
    if table == "exchanges" and "messages" in names:
        names, selected = stored_insert(names)
    columns = ", ".join(f'"{name}"' for name in names)
    duck = con.con
    duck.register(_STAGING, batch)
    try:
        duck.execute(f'INSERT INTO "{table}" ({columns}) SELECT {selected} FROM {_STAGING}')
    finally:
        duck.unregister(_STAGING)
