"""Decode one JSON Lines record into an object, naming exactly what is wrong with it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson

from distillguard.ingest.problems import INVALID_JSON, INVALID_UTF8, NOT_AN_OBJECT, FieldError
from distillguard.ingest.source import ByteProgress, SourceRecord, iter_lines, no_progress


def decode_object(item: SourceRecord) -> SourceRecord:
    """Fill ``item.record`` from its line bytes, or ``item.problem`` with the reason."""
    if item.problem is not None:
        return item
    data = item.raw
    assert isinstance(data, bytes)
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        item.problem = _decode_problem(data, error)
        return item
    if type(value) is not dict:
        kind = "null" if value is None else type(value).__name__
        item.problem = FieldError("", NOT_AN_OBJECT, f"expected a JSON object, got {kind}")
        return item
    item.record = value
    return item


def _decode_problem(data: bytes, error: orjson.JSONDecodeError) -> FieldError:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        return FieldError(
            "",
            INVALID_UTF8,
            f"byte {bad.start} is not valid UTF-8; re-export the file as UTF-8",
        )
    return FieldError("", INVALID_JSON, f"not valid JSON: {error}")


def iter_objects(path: Path, progress: ByteProgress = no_progress) -> Iterator[SourceRecord]:
    """Every non-blank line of a JSON Lines file (plain or gzip), decoded."""
    for item in iter_lines(path, progress):
        yield decode_object(item)
