"""Lines of a JSON Lines file, plain or gzip, read in large chunks with byte progress.

Reading in 1 MiB chunks and splitting ourselves (instead of iterating a text file) keeps
the per-line cost to a slice, lets the caller decode and parse bytes directly with
orjson, and lets a truncated or corrupt gzip stream end the file with an explicit record
instead of an exception that would lose the lines already decoded.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from distillguard.errors import UserError
from distillguard.ingest.problems import GZIP_TRUNCATED, FieldError

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
_CHUNK = 1 << 20
_BOM = b"\xef\xbb\xbf"

ByteProgress = Callable[[int], None]
"""Called with the number of (compressed) bytes consumed since the last call."""


def no_progress(_: int) -> None:
    """A ByteProgress that ignores progress."""


@dataclass(slots=True)
class SourceRecord:
    """One input record as a reader found it, before validation.

    ``record`` is a contract-shaped dict when the reader could build one; otherwise
    ``problem`` says why not.  ``raw`` is what goes to quarantine: the line's bytes, or the
    object (span, log row) the record was built from.
    """

    line: int
    record: dict[str, Any] | None
    raw: object
    problem: FieldError | None = None


def open_binary(path: Path) -> IO[bytes]:
    """Open a file for reading or raise a UserError that names it and the way forward."""
    try:
        if path.is_dir():
            raise UserError(f"{path} is a directory; pass the data files inside it")
        return path.open("rb")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file; check the path passed to ingest") from None
    except PermissionError:
        raise UserError(f"{path}: permission denied; make the file readable") from None
    except OSError as error:
        raise UserError(f"{path}: cannot be opened ({error.strerror or error})") from None


def read_head(path: Path, size: int = 4) -> bytes:
    """First bytes of a file, for sniffing its container (gzip, Parquet, text)."""
    with open_binary(path) as handle:
        return handle.read(size)


def iter_lines(
    path: Path, progress: ByteProgress = no_progress
) -> Generator[SourceRecord, None, None]:
    """Yield each non-blank line as a SourceRecord whose ``raw`` is the line's bytes.

    Line numbers count every line, blank ones included, so they match an editor's.  A gzip
    stream that ends early or is corrupt yields one final record with a GZIP_TRUNCATED
    problem: the cut-off line when there is one, else an empty marker for the lost tail.
    """
    with open_binary(path) as raw_handle:
        compressed = raw_handle.read(2) == GZIP_MAGIC
        raw_handle.seek(0)
        stream: io.BufferedIOBase = raw_handle  # type: ignore[assignment]
        if compressed:
            stream = gzip.GzipFile(fileobj=raw_handle)
        yield from _split(stream, raw_handle, path, progress)


def _split(
    stream: io.BufferedIOBase, raw_handle: IO[bytes], path: Path, progress: ByteProgress
) -> Iterator[SourceRecord]:
    number = 0
    pending = b""
    position = 0
    first = True
    while True:
        try:
            # read1: a truncated gzip must not discard what was decoded before the cut.
            chunk = stream.read1(_CHUNK)
        except (EOFError, gzip.BadGzipFile, zlib.error) as error:
            yield _truncated(number, pending, str(error))
            return
        except OSError as error:
            raise UserError(f"{path}: read failed ({error}); check the file or disk") from None
        now = raw_handle.tell()
        progress(now - position)
        position = now
        if not chunk:
            break
        if first:
            first = False
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        for line in lines:
            number += 1
            if line and not line.isspace():
                yield SourceRecord(number, None, line.rstrip(b"\r"))
    if pending and not pending.isspace():
        yield SourceRecord(number + 1, None, pending.rstrip(b"\r"))


def _truncated(number: int, pending: bytes, detail: str) -> SourceRecord:
    if pending and not pending.isspace():
        reason = f"line cut off where the gzip stream ends early ({detail})"
        return SourceRecord(number + 1, None, pending, FieldError("", GZIP_TRUNCATED, reason))
    reason = (
        f"gzip stream ends early or is corrupt after line {number} ({detail}); "
        "any records after it are lost: re-export or re-copy the file"
    )
    return SourceRecord(number + 1, None, b"", FieldError("", GZIP_TRUNCATED, reason))
