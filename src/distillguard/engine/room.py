"""How much memory and spill space the store may use, and a clear message when that runs out.

DuckDB keeps at most ``memory_limit`` in memory and spills the rest to a temporary
directory; by default it lets that directory grow to 90% of the disk's free space.  A large
scan can need far more than memory: a 16M-exchange simulated log had spilled 25 GB, and
was still spilling, when it was stopped on the development machine.  A user must be able to
say where the spill goes and how large it may grow (a shared machine's disk is not the
scan's alone), and when the room runs out the scan must say so, with the way forward,
instead of a traceback.
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from distillguard.errors import UserError

DEFAULT_MEMORY_LIMIT = "2GB"
"""DuckDB's own default is 80% of the machine's memory; a scan should leave room for the
rest of the process and for other jobs, so the store's buffer pool is capped (DuckDB spills
to disk beyond it)."""

_SIZE = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", re.IGNORECASE)
_UNITS = "B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"


@dataclass(frozen=True)
class StoreRoom:
    """The store's memory cap and where, and how much, it may spill."""

    memory_limit: str = DEFAULT_MEMORY_LIMIT
    temp_dir: Path | None = None
    """Parent folder of the spill (default: the system's temporary folder for an in-memory
    store, ``<store>.tmp`` beside a store file)."""
    temp_limit: str | None = None
    """Cap on the spill (default: DuckDB's, 90% of the free space where it spills)."""

    def __post_init__(self) -> None:
        for option, value in (
            ("--memory-limit", self.memory_limit),
            ("--temp-limit", self.temp_limit),
        ):
            if value is not None and not _SIZE.match(value):
                raise UserError(
                    f"{option} {value!r} is not a size; write a number and a unit ({_UNITS}), "
                    "e.g. 6GB"
                )

    def spill_folder(self, store: Path | None, tag: str) -> Path | None:
        """Where this store spills: a folder of its own under ``temp_dir`` (concurrent scans
        must not share one), the system temporary folder for an in-memory store, or
        ``None`` for DuckDB's default beside a store file (``<store>.tmp``)."""
        if self.temp_dir is not None:
            try:
                self.temp_dir.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise UserError(
                    f"--temp-dir {self.temp_dir} cannot be created ({error.strerror}); give a "
                    "folder you can write to, on a disk with room for the spill"
                ) from None
            return self.temp_dir / f"distillguard-duckdb-{tag}"
        if store is None:
            return Path(tempfile.gettempdir()) / f"distillguard-duckdb-{tag}"
        return None

    def spill_parent(self, store: Path | None) -> Path:
        """The folder the spill goes into (whose disk must have the room)."""
        if self.temp_dir is not None:
            return self.temp_dir
        return store.parent if store is not None else Path(tempfile.gettempdir())


def add_room_options(parser: argparse.ArgumentParser) -> None:
    """``--memory-limit``, ``--temp-dir`` and ``--temp-limit`` for commands that fill a store."""
    parser.add_argument(
        "--memory-limit",
        default=DEFAULT_MEMORY_LIMIT,
        metavar="SIZE",
        help=f"memory the store may hold before it spills to disk (default {DEFAULT_MEMORY_LIMIT})",
    )
    parser.add_argument(
        "--temp-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the store spills beyond --memory-limit (default: the system temporary "
        "folder, or <store>.tmp beside a --store file); pick a disk with room",
    )
    parser.add_argument(
        "--temp-limit",
        default=None,
        metavar="SIZE",
        help="most the spill may grow to (default: 90%% of the free space where it spills)",
    )


def room_from(args: argparse.Namespace) -> StoreRoom:
    """The :class:`StoreRoom` of parsed ``--memory-limit/--temp-dir/--temp-limit`` options."""
    return StoreRoom(args.memory_limit, args.temp_dir, args.temp_limit)


def is_out_of_room(error: BaseException) -> bool:
    """DuckDB ran out of memory, of spill allowance or of disk space."""
    if isinstance(error, duckdb.OutOfMemoryException):
        return True
    return isinstance(error, duckdb.IOException) and "No space left" in str(error)


@contextmanager
def stopping_clearly(room: StoreRoom, store: Path | None) -> Iterator[None]:
    """Turn DuckDB running out of room inside the block into :func:`out_of_room`'s
    :class:`UserError`; every other error passes unchanged."""
    try:
        yield
    except (duckdb.OutOfMemoryException, duckdb.IOException) as error:
        if is_out_of_room(error):
            raise out_of_room(error, room, store) from None
        raise


def out_of_room(error: BaseException, room: StoreRoom, store: Path | None) -> UserError:
    """The message for DuckDB running out of room: what ran out, where, and what to do."""
    place = room.spill_parent(store)
    try:
        free = f"{shutil.disk_usage(place).free / 2**30:.1f} GiB free there now"
    except OSError:
        free = "free space unknown"
    cap = f", spill capped at {room.temp_limit}" if room.temp_limit else ""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return UserError(
        f"the store ran out of room ({first}). It holds at most {room.memory_limit} in memory "
        f"and spills the rest to {place} ({free}{cap}). Give it more room: --temp-dir on a "
        "disk with more free space, a larger --temp-limit or --memory-limit, or scan a day "
        "of logs at a time into one --store (each run reads only the new exchanges)"
    )
