"""The embedded store: an Ibis connection over DuckDB (a file or memory).

Every relational stage takes an Ibis backend from here, so that the same expressions run
on DuckDB by default and on PySpark or a warehouse when a user passes another backend.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
from ibis.backends.duckdb import Backend as DuckDBBackend

from distillguard.engine.room import StoreRoom
from distillguard.schema import ACCOUNT_SCHEMA, EXCHANGE_TABLE_SCHEMA, QUARANTINE_SCHEMA
from distillguard.schema.prompts import PROMPT_SCHEMA, PROMPTS_TABLE, intern_prompts
from distillguard.schema.stored import flag_sql, stored_insert
from distillguard.schema.tables import DROPPED_FROM_STORE

TABLE_SCHEMAS: dict[str, pa.Schema] = {
    "exchanges": EXCHANGE_TABLE_SCHEMA,
    PROMPTS_TABLE: PROMPT_SCHEMA,
    "accounts": ACCOUNT_SCHEMA,
    "quarantine": QUARANTINE_SCHEMA,
}
_STAGING = "dg_append_batch"


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
        _upgrade_prompts(con, path)
    return con


def _exchange_columns(con: DuckDBBackend) -> set[str]:
    return {
        str(row[0])
        for row in con.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'exchanges'"
        ).fetchall()
    }


def _upgrade_exchanges(con: DuckDBBackend, path: Path | None) -> None:
    """A store from before schema version 2 keeps each exchange's conversation JSON; derive
    the message flags from it (the same markers as ingest) and drop the JSON columns."""
    duck = con.con
    columns = _exchange_columns(con)
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


def _upgrade_prompts(con: DuckDBBackend, path: Path | None) -> None:
    """A store from before schema version 3 keeps each exchange's prompt text; keep each
    distinct (prompt, system prompt) pair once in ``prompts`` and give every exchange its
    ``pair_id`` (schema/prompts.py), then drop the per-exchange text."""
    duck = con.con
    columns = _exchange_columns(con)
    if "prompt_text" not in columns:
        return
    # As above, each step can be run again and the text column goes last.
    pairs = (
        duck.execute(
            "SELECT DISTINCT prompt_text, coalesce(system_prompt, '') AS system FROM exchanges"
        )
        .arrow()
        .read_all()
    )
    _, rows = intern_prompts(pairs.column("prompt_text"), pairs.column("system"))
    _store_new_prompts(duck, rows)
    if "pair_id" not in columns:
        duck.execute("ALTER TABLE exchanges ADD COLUMN pair_id BIGINT")
    duck.execute(
        f"UPDATE exchanges SET pair_id = p.pair_id FROM {PROMPTS_TABLE} p "
        "WHERE p.prompt_text = exchanges.prompt_text "
        "AND p.system = coalesce(exchanges.system_prompt, '')"
    )
    duck.execute("ALTER TABLE exchanges DROP COLUMN prompt_text")
    print(
        f"store {path}: upgraded to store schema 3 (each distinct prompt's text kept once, "
        "in the prompts table)",
        file=sys.stderr,
    )


def append_arrow(con: DuckDBBackend, table: str, batch: pa.Table | pa.RecordBatch) -> None:
    """Append an Arrow batch that follows the table's canonical schema.

    Canonical exchanges (with ``messages``) are turned into the stored rows on the way in:
    the message flags are searched in the same INSERT (schema/stored.py).

    Exchanges with ``prompt_text`` keep it once per distinct (prompt, system prompt) pair:
    the batch's new pairs go to ``prompts`` and each row gets its ``pair_id`` instead
    (schema/prompts.py).

    The batch is registered with DuckDB, copied in by one INSERT and unregistered at once:
    Ibis's ``insert`` keeps every in-memory table it was given alive for the life of the
    connection, which made memory grow with the input during a long ingest.
    """
    append_arrow_to(con.con, table, batch)


def append_arrow_to(duck: Any, table: str, batch: pa.Table | pa.RecordBatch) -> None:
    """:func:`append_arrow` on a DuckDB connection (or a cursor of one, which a writer
    thread needs: one DuckDB connection must not run two statements at once)."""
    if isinstance(batch, pa.RecordBatch):
        batch = pa.Table.from_batches([batch])
    if not batch.num_rows:
        return
    if table == "exchanges" and "prompt_text" in batch.schema.names:
        batch = _with_pair_ids(duck, batch)
    names = list(batch.schema.names)
    selected = ", ".join(f'"{name}"' for name in names)
    if table == "exchanges" and "messages" in names:
        names, selected = stored_insert(names)
    columns = ", ".join(f'"{name}"' for name in names)
    duck.register(_STAGING, batch)
    try:
        duck.execute(f'INSERT INTO "{table}" ({columns}) SELECT {selected} FROM {_STAGING}')
    finally:
        duck.unregister(_STAGING)


def _with_pair_ids(duck: Any, batch: pa.Table) -> pa.Table:
    """The batch with ``pair_id`` in place of ``prompt_text``; its new pairs stored."""
    system = (
        batch.column("system_prompt")
        if "system_prompt" in batch.schema.names
        else pa.nulls(batch.num_rows, pa.string())
    )
    ids, pairs = intern_prompts(batch.column("prompt_text"), system)
    _store_new_prompts(duck, pairs)
    position = batch.schema.get_field_index("prompt_text")
    return batch.set_column(position, "pair_id", ids)


def _store_new_prompts(duck: Any, rows: pa.Table) -> None:
    """Add the :data:`PROMPT_SCHEMA` rows whose ``pair_id`` the store does not hold yet."""
    duck.register(_STAGING, rows)
    try:
        duck.execute(
            f"INSERT INTO {PROMPTS_TABLE} SELECT s.* FROM {_STAGING} s "
            f"ANTI JOIN {PROMPTS_TABLE} p ON p.pair_id = s.pair_id"
        )
    finally:
        duck.unregister(_STAGING)
