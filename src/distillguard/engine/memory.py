"""Give memory freed by a stage back to the system before the next stage starts.

A stage frees its large frames when it ends, but the allocators keep the pages: glibc's
heap holds freed blocks below its top for reuse, and Arrow's allocator keeps freed buffers
for a while.  The next stage then starts on top of them, and the scan's peak is the sum
of stages that never ran at once.  At 16M exchanges the scan's resident memory just
before the semantic frame was 5.2 GiB, where a process holding the same coordination
results (loaded from a file) started that frame at 1.5 GiB.  The call took 8 ms in a
fresh process; its cost and its share of the peak's fall at 16M were not measured apart
from the other changes of that round (docs/benchmarks.md, ninth round).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache
from typing import Any

import pyarrow as pa


@lru_cache(maxsize=1)
def _libc() -> Any:
    """The C library when it is glibc (``malloc_trim`` is a glibc call), else None."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):
        return None


def release_unused_memory() -> None:
    """Return freed heap pages and Arrow's cached buffers to the operating system."""
    pa.default_memory_pool().release_unused()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
