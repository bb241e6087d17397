"""Which ids of a batch were already seen, in this run or in the store.

16M exchange ids as a Python set would take gigabytes; this keeps 8 bytes per id: the
DuckDB ``hash()`` of each id, in a few sorted numpy arrays merged as they grow (a
log-structured set: lookups are a handful of ``searchsorted`` calls, inserts amortise to
O(log n) per id).  A hash hit is only a candidate: candidates are confirmed exactly
against the ids in the store with one semi-join per batch, so a 64-bit collision can
never quarantine a good record.  Kept rows held back for a larger append are written
before that semi-join (``before_lookup``), so the store then holds every id kept so far.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

Hashes = npt.NDArray[np.uint64]
_VIEW = "dg_ingest_ids"


class SeenIds:
    """Remembers the ids of one column of one store table (e.g. exchanges.exchange_id)."""

    def __init__(
        self,
        duck: Any,
        table: str,
        column: str,
        before_lookup: Callable[[], None] = lambda: None,
    ) -> None:
        """``before_lookup`` runs before ids are confirmed against the store: a caller
        that holds kept rows back to append them in larger batches writes them there."""
        self._duck = duck
        self._before_lookup = before_lookup
        self._table = table
        self._column = column
        self._levels: list[Hashes] = []
        existing = _arrow(duck.execute(f'SELECT hash("{column}") FROM "{table}"'))
        hashes = _as_uint64(existing.column(0)) if existing.num_rows else _empty()
        if hashes.size:
            self._levels.append(np.sort(hashes))

    def duplicates(self, ids: list[str]) -> list[bool]:
        """Flag ids seen before (earlier in this batch, this run or the store); the first
        occurrence is kept.  Unflagged ids are remembered as seen."""
        if not ids:
            return []
        flags = [False] * len(ids)
        first_index: dict[str, int] = {}
        for position, value in enumerate(ids):
            if value in first_index:
                flags[position] = True
            else:
                first_index[value] = position
        hashes = self._hash(ids)
        candidates = self._candidates(hashes)
        if candidates.any():
            positions: list[int] = np.flatnonzero(candidates).tolist()
            suspects = [ids[i] for i in positions if not flags[i]]
            self._before_lookup()
            confirmed = self._in_store(suspects)
            for position in positions:
                if ids[position] in confirmed:
                    flags[position] = True
        keep = np.fromiter((not flag for flag in flags), dtype=bool, count=len(flags))
        self._remember(hashes[keep])
        return flags

    def _candidates(self, hashes: Hashes) -> npt.NDArray[np.bool_]:
        """Which hashes some level holds.

        The batch's hashes are looked up in sorted order: numpy's binary search starts each
        key where the previous one ended when keys ascend, so a batch of 32k ids against 16M
        remembered hashes walks each level once instead of jumping about it (at 16M the
        unsorted lookups were a tenth of ingest)."""
        order = np.argsort(hashes, kind="stable")
        ascending = hashes[order]
        found = np.zeros(hashes.size, dtype=bool)
        for level in self._levels:
            slots = np.minimum(np.searchsorted(level, ascending), level.size - 1)
            found |= level[slots] == ascending
        candidates = np.empty(hashes.size, dtype=bool)
        candidates[order] = found
        return candidates

    def _hash(self, ids: list[str]) -> Hashes:
        self._duck.register(_VIEW, pa.table({"id": pa.array(ids, type=pa.string())}))
        try:
            result = _arrow(self._duck.execute(f"SELECT hash(id) FROM {_VIEW}"))
        finally:
            self._duck.unregister(_VIEW)
        return _as_uint64(result.column(0))

    def _in_store(self, suspects: list[str]) -> set[str]:
        if not suspects:
            return set()
        self._duck.register(_VIEW, pa.table({"id": pa.array(suspects, type=pa.string())}))
        try:
            rows = self._duck.execute(
                f'SELECT DISTINCT t."{self._column}" FROM "{self._table}" t '
                f'SEMI JOIN {_VIEW} s ON t."{self._column}" = s.id'
            ).fetchall()
        finally:
            self._duck.unregister(_VIEW)
        return {row[0] for row in rows}

    def _remember(self, hashes: Hashes) -> None:
        if not hashes.size:
            return
        self._levels.append(np.sort(hashes))
        while len(self._levels) > 1 and self._levels[-2].size <= 2 * self._levels[-1].size:
            newest = self._levels.pop()
            older = self._levels.pop()
            self._levels.append(np.sort(np.concatenate((older, newest)), kind="stable"))


def _arrow(result: Any) -> pa.Table:
    """A DuckDB result as one Arrow table (``arrow()`` streams batches in DuckDB 1.5)."""
    value = result.arrow()
    return value.read_all() if isinstance(value, pa.RecordBatchReader) else value


def _as_uint64(column: pa.ChunkedArray) -> Hashes:
    return np.asarray(column.to_numpy(), dtype=np.uint64)


def _empty() -> Hashes:
    return np.empty(0, dtype=np.uint64)
