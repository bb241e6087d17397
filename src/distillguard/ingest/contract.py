"""Readers for files that already follow CONTRACT.md: JSON Lines and Parquet.

Both yield contract-shaped dicts; validation is the caller's job, so every format goes
through the same checks.  Parquet is read one record batch at a time (bounded memory);
nested columns arrive from Arrow as lists of dicts, where a struct column carries every
key of its type, so keys whose value is null are dropped to give back what was written.
Parquet writers that cannot store the contract's mixed-type ``content`` often keep
``messages``, ``tools`` or ``params`` as JSON text; such text is decoded here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from distillguard.errors import UserError
from distillguard.ingest.jsonlines import iter_objects
from distillguard.ingest.source import ByteProgress, SourceRecord, no_progress, open_binary

JSON_TEXT_COLUMNS = ("messages", "tools", "params")


def read_contract_jsonl(path: Path, progress: ByteProgress = no_progress) -> Iterator[SourceRecord]:
    """Contract JSON Lines (``.jsonl``, ``.jsonl.gz``, ``.json``): one object per line."""
    return iter_objects(path, progress)


def read_contract_parquet(
    path: Path, progress: ByteProgress = no_progress, *, batch_size: int = 32_768
) -> Iterator[SourceRecord]:
    """Contract Parquet, one record batch at a time; ``line`` is the 1-based row number."""
    for first_row, batch in read_parquet_batches(path, progress, batch_size=batch_size):
        for row, record in enumerate(batch.to_pylist(), start=first_row):
            yield SourceRecord(row, normalise_record(record), record)


def read_parquet_batches(
    path: Path, progress: ByteProgress = no_progress, *, batch_size: int = 32_768
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """(1-based number of the batch's first row, batch) of a Parquet file, in file order."""
    open_binary(path).close()
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        raise UserError(f"{path}: not a readable Parquet file ({error})") from None
    total_bytes = path.stat().st_size
    groups = max(parquet.metadata.num_row_groups, 1)
    row = 0
    try:
        for group in range(parquet.metadata.num_row_groups):
            for batch in parquet.iter_batches(batch_size=batch_size, row_groups=[group]):
                yield row + 1, batch
                row += batch.num_rows
            progress(total_bytes // groups)
    except (pa.ArrowException, OSError) as error:
        raise UserError(
            f"{path}: Parquet data unreadable after row {row} ({error}); re-export the file"
        ) from None


def normalise_record(record: dict[str, Any]) -> dict[str, Any]:
    """Give nested columns back as written: JSON text decoded, struct keys with null dropped."""
    for name in JSON_TEXT_COLUMNS:
        value = record.get(name)
        if value is not None:
            record[name] = nested_value(value)
    return record


def nested_value(value: Any) -> Any:
    """One ``messages``/``tools``/``params`` value as the contract shapes it.

    JSON text that starts like an array or object is decoded (text that does not decode is
    left as text, and validation reports the wrong type); lists and dicts from Arrow lose
    the keys whose value is null.
    """
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    if isinstance(value, list | dict):
        return _drop_nulls(value)
    return value


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _drop_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_drop_nulls(item) for item in value]
    return value
