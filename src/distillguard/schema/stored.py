"""Canonical exchanges → the rows the store keeps (:data:`STORED_EXCHANGE_SCHEMA`).

The store drops the conversation JSON and the tool definitions (see
:data:`~distillguard.schema.tables.DROPPED_FROM_STORE`) and keeps three flags derived from
the conversation instead.  The flags are found by searching the canonical JSON that ingest
writes (orjson, compact, sorted keys), so each marker has exactly one spelling; a user's
text that contains a marker is escaped inside its JSON string and cannot match.

The same rules exist twice, as Arrow compute (for batches on their way in) and as SQL (to
upgrade a store written before the flags existed); a test holds the two together.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.schema.tables import DROPPED_FROM_STORE, STORED_EXCHANGE_SCHEMA

IMAGE_MARKERS = ('"type":"image"',)
TOOL_MARKERS = ('"type":"tool_call"', '"type":"tool_result"', '"role":"tool"')
SYSTEM_MARKERS = ('"role":"system"',)
FLAG_MARKERS: dict[str, tuple[str, ...]] = {
    "has_image": IMAGE_MARKERS,
    "has_tool_parts": TOOL_MARKERS,
    "has_system_message": SYSTEM_MARKERS,
}
"""Each stored flag and the markers of the canonical messages JSON that set it."""


def _any_marker(messages: pa.Array | pa.ChunkedArray, markers: tuple[str, ...]) -> pa.Array:
    found = np.zeros(len(messages), dtype=bool)
    for marker in markers:
        found |= np.asarray(pc.fill_null(pc.match_substring(messages, marker), False), bool)
    return pa.array(found, pa.bool_())


def message_flags(messages: pa.Array | pa.ChunkedArray) -> dict[str, pa.Array]:
    """The stored flags of each row of a canonical ``messages`` column."""
    return {name: _any_marker(messages, markers) for name, markers in FLAG_MARKERS.items()}


def stored_exchanges(table: pa.Table) -> pa.Table:
    """A table of canonical exchanges (``EXCHANGE_SCHEMA``, or any subset of its columns
    that includes ``messages``) as the store keeps it: the flags added, the JSON dropped.
    A table that has no ``messages`` column is returned as it is."""
    if "messages" not in table.column_names:
        return table
    flags = message_flags(table.column("messages"))
    kept = [name for name in table.column_names if name not in DROPPED_FROM_STORE]
    columns = {**{name: table.column(name) for name in kept}, **flags}
    order = [name for name in STORED_EXCHANGE_SCHEMA.names if name in columns]
    return pa.table([columns[name] for name in order], names=order)


def flag_sql(column: str = "messages") -> dict[str, str]:
    """SQL (DuckDB) for each stored flag over a canonical messages JSON column."""

    def any_of(markers: tuple[str, ...]) -> str:
        found = " OR ".join(f"contains({column}, '{marker}')" for marker in markers)
        return f"coalesce({found}, false)"

    return {name: any_of(markers) for name, markers in FLAG_MARKERS.items()}
