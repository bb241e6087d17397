"""The append-only audit log: every enforced action and every appeal, with its evidence.

One JSON object per line, appended with ``O_APPEND`` (so several gateway workers can share
one file without interleaving lines) and flushed at once (an action that was taken is on
disk even if the process dies next).  Nothing ever rewrites the file: a reversal is a new
``appeal`` entry that points at the decision it reverses.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from distillguard.errors import UserError


class AuditLog:
    """Appends entries to one JSON Lines file; safe across threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd: int | None = None

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        return self._fd

    def append(self, entry: dict[str, Any]) -> None:
        """Write one entry as one line (a single ``write`` call, so lines never interleave)."""
        line = orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_SORT_KEYS)
        with self._lock:
            os.write(self._open(), line)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def json_lines(path: Path, how_to_fix: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-blank line; a damaged line is an error naming it."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as error:
                raise UserError(
                    f"{path}, line {number}: invalid JSON ({error}); {how_to_fix}"
                ) from None
            if not isinstance(record, dict):
                raise UserError(f"{path}, line {number}: must be a JSON object; {how_to_fix}")
            yield number, record


def read_audit(path: Path) -> Iterator[dict[str, Any]]:
    """The entries of an audit log, oldest first."""
    if not path.is_file():
        raise UserError(
            f"{path}: audit log not found; pass the file given to `guard serve --audit`"
        )
    for _, entry in json_lines(path, "the audit log is append-only: restore it from backup"):
        yield entry
