"""The quarantine file: every record that could not be loaded, with the reason.

One JSON object per line with the columns of QUARANTINE_SCHEMA (table, source_file,
source_line, field, reason, raw).  ``raw`` is the input as read, cut to 4 KiB with a note
saying so, so a quarantine of a multi-gigabyte file stays readable.  The same rows are
appended to the store's ``quarantine`` table, so later stages can count them.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import orjson

from distillguard.errors import UserError
from distillguard.ingest.batches import rows_to_table
from distillguard.schema import QUARANTINE_SCHEMA

RAW_LIMIT = 4096


def raw_text(raw: object) -> str:
    """What the quarantine shows of a record: the line's text, or its object as JSON."""
    if isinstance(raw, bytes):
        text = raw.decode("utf-8", errors="backslashreplace")
    elif isinstance(raw, str):
        text = raw
    else:
        text = orjson.dumps(raw, default=str).decode()
    if len(text) > RAW_LIMIT:
        return f"{text[:RAW_LIMIT]}… [truncated: {len(text)} characters in all]"
    return text


class QuarantineWriter:
    """Appends quarantined records to a JSON Lines file and buffers them for the store."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handle: IO[bytes] = path.open("wb")
        except OSError as error:
            raise UserError(
                f"{path}: cannot write the quarantine file ({error.strerror or error}); "
                "pass --quarantine with a writable path"
            ) from None
        self.pending: list[tuple[Any, ...]] = []
        self.count = 0

    def write(
        self,
        table: str,
        source_file: str,
        source_line: int,
        field: str | None,
        reason: str,
        raw: object,
    ) -> None:
        """Record one rejected input record."""
        row = (table, source_file, source_line, field or None, reason, raw_text(raw))
        self._handle.write(orjson.dumps(dict(zip(QUARANTINE_SCHEMA.names, row, strict=True))))
        self._handle.write(b"\n")
        self.pending.append(row)
        self.count += 1

    def take_table(self) -> Any:
        """The rows written since the last call, as an Arrow table for the store."""
        rows, self.pending = self.pending, []
        return rows_to_table(rows, QUARANTINE_SCHEMA)

    def close(self) -> None:
        """Flush and close the file."""
        self._handle.close()
