"""Canonical rows -> Arrow tables, one batch at a time.

Rows are collected as tuples (what validation returns, plus provenance) and turned into
columns with one ``zip(*rows)``, so building a batch costs one C-level transpose and one
Arrow conversion per column instead of Python work per cell.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa


class RowBatch:
    """Rows waiting to become one Arrow table of a canonical schema."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.rows: list[tuple[Any, ...]] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, row: tuple[Any, ...]) -> None:
        """Queue one complete row in schema column order."""
        self.rows.append(row)

    def take(self) -> list[tuple[Any, ...]]:
        """Hand over the queued rows and start an empty batch."""
        rows, self.rows = self.rows, []
        return rows


def rows_to_table(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.Table:
    """Build one table from complete rows (schema column order)."""
    if not rows:
        return schema.empty_table()
    columns = list(zip(*rows, strict=True))
    arrays = [
        pa.array(column, type=field.type) for column, field in zip(columns, schema, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=schema)
