"""Appends to the store on a writer thread, while the next batches are read and checked.

DuckDB releases the GIL while it inserts, so the store's work (compressing row groups,
writing the file) can run beside the Python side of ingest (reading Parquet, checking
fields, remembering ids).  At 16M exchanges into a store file the inserts had been about
half of ingest, run one after the other with everything else.

One insert runs at a time, in submission order, and :meth:`BackgroundAppender.append`
waits for the previous one before it hands over the next: rows keep their input order, at
most one batch is being written while the next is gathered, and an error in the writer
(the store out of memory or disk) reaches the caller at its next append or :meth:`drain`.

The writer uses a cursor of its own: one DuckDB connection must not run two statements at
once, and the caller keeps using its connection for lookups and the quarantine.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pyarrow as pa

from distillguard.engine.store import append_arrow_to


class BackgroundAppender:
    """One writer thread with one cursor; use as a context manager."""

    def __init__(self, duck: Any) -> None:
        self._cursor = duck.cursor()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="distillguard-append")
        self._in_flight: Future[None] | None = None

    def append(self, table: str, batch: pa.Table) -> None:
        """Queue ``batch`` for ``table`` once the previous append has finished."""
        self.drain()
        self._in_flight = self._pool.submit(append_arrow_to, self._cursor, table, batch)

    def drain(self) -> None:
        """Wait until every queued append is in the store (and raise its error, if any)."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.result()

    def __enter__(self) -> BackgroundAppender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Wait for the writer (an error already being raised wins over the writer's)."""
        try:
            if exc_info[0] is None:
                self.drain()
            elif self._in_flight is not None:
                self._in_flight.exception()
        finally:
            self._pool.shutdown(wait=True)
            self._cursor.close()
