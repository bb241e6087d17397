"""Feature batches in worker processes, so a scan uses every core for its text work.

The text work of :func:`~distillguard.features.exchange_features.features_for_batch` is
Python and holds the GIL, so threads would not help; batches go to ``workers`` processes
instead (Arrow batches pickle as their buffers) and come back in input order.  At most
``2 × workers`` batches are in flight, which bounds memory whatever the input size.  Each
worker keeps its own :class:`~distillguard.features.pair_cache.PairCache` for the life of
the pool: per-process state, created by the pool's initialiser, never at import.

Workers are started with ``spawn``: the parent holds DuckDB's threads, and forking a
process with threads running can deadlock the child.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

import pyarrow as pa

from distillguard.features.pair_cache import PairCache

MAX_WORKERS = 4
PARALLEL_MIN_ROWS = 200_000
"""Below this many exchanges, starting processes costs more than it saves."""

_worker_cache: PairCache | None = None


def _start_worker() -> None:
    global _worker_cache
    _worker_cache = PairCache()


def _feature_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    from distillguard.features.exchange_features import features_for_batch

    return features_for_batch(batch, _worker_cache)


def featured_in_processes(
    batches: Iterable[pa.RecordBatch], workers: int
) -> Iterator[pa.RecordBatch]:
    """Feature each batch in a pool of ``workers`` processes; yields results in input order."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker) as pool:
        in_flight: deque[Future[pa.RecordBatch]] = deque()
        for batch in batches:
            in_flight.append(pool.submit(_feature_batch, batch))
            if len(in_flight) >= 2 * workers:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()
