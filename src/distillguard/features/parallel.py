"""Batches through worker processes, so the text work of a scan uses every core.

The text work of the feature stage is Python and holds the GIL, so threads would not help;
batches go to ``workers`` processes instead (Arrow batches pickle as their buffers) and
come back in input order.  At most ``2 × workers`` batches are in flight, which bounds
memory whatever the input size.

Workers are started with ``spawn``: the parent holds DuckDB's threads, and forking a
process with threads running can deadlock the child.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

import pyarrow as pa

MAX_WORKERS = 4
PARALLEL_MIN_PAIRS = 20_000
"""Below this many distinct prompts, starting processes costs more than it saves."""


def batches_in_processes(
    function: Callable[[pa.RecordBatch], pa.RecordBatch],
    batches: Iterable[pa.RecordBatch],
    workers: int,
) -> Iterator[pa.RecordBatch]:
    """``function`` (a module-level function) of each batch in a pool of ``workers``
    processes; yields the results in input order."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        in_flight: deque[Future[pa.RecordBatch]] = deque()
        for batch in batches:
            in_flight.append(pool.submit(function, batch))
            if len(in_flight) >= 2 * workers:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()
