"""The ingest driver: files -> validated canonical batches in the store + a quarantine.

Each input record is read by the reader of its format, mapped to the contract, validated,
checked for a duplicate id, and then either appended to ``exchanges``/``accounts`` in
batches or written to the quarantine with its reason.  Per file, loaded + quarantined
must equal records read; the run stops with AccountingError if it does not.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from distillguard.engine.store import append_arrow
from distillguard.errors import UserError
from distillguard.ingest import litellm, otel
from distillguard.ingest.appender import BackgroundAppender
from distillguard.ingest.arrow_exchanges import NestedMemo, canonical_exchanges
from distillguard.ingest.batches import rows_to_table
from distillguard.ingest.contract import (
    normalise_record,
    read_contract_jsonl,
    read_contract_parquet,
    read_parquet_batches,
)
from distillguard.ingest.dedupe import SeenIds
from distillguard.ingest.problems import DUPLICATE, FieldError, RecordInvalid
from distillguard.ingest.quarantine import QuarantineWriter
from distillguard.ingest.report import FileReport, IngestReport
from distillguard.ingest.sniff import CONTRACT, FORMATS, LITELLM, OTEL, sniff_format
from distillguard.ingest.source import (
    PARQUET_MAGIC,
    ByteProgress,
    SourceRecord,
    no_progress,
    open_binary,
    read_head,
)
from distillguard.ingest.validate import Hints, validate_account, validate_exchange
from distillguard.schema import ACCOUNT_SCHEMA, EXCHANGE_SCHEMA, STORED_EXCHANGE_SCHEMA
from distillguard.schema.stored import stored_exchanges

AUTO = "auto"
DEFAULT_BATCH_ROWS = 32_768
APPEND_ROWS = 245_760
"""Kept rows are appended to the store in batches of about this many (two of DuckDB's
row groups): one 200k-row append costs a third of six 33k-row ones."""
APPEND_BYTES = 256 << 20
"""…or sooner, once the held rows take this much memory (huge prompts)."""
_INDEX = re.compile(r"\[\d+\]")

Validator = Callable[[dict[str, Any], Hints | None], tuple[Any, ...]]


@dataclass(frozen=True)
class _Table:
    name: str
    schema: Any
    validate: Validator
    id_field: str


_EXCHANGES = _Table("exchanges", EXCHANGE_SCHEMA, validate_exchange, "exchange_id")
_ACCOUNTS = _Table("accounts", ACCOUNT_SCHEMA, validate_account, "account_id")


def ingest_files(
    con: Any,
    exchange_paths: Sequence[Path],
    account_paths: Sequence[Path] = (),
    *,
    fmt: str = AUTO,
    quarantine_path: Path,
    progress: bool = True,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    account_fields: Sequence[str] | None = None,
    console: Console | None = None,
) -> IngestReport:
    """Load exchange and account files into the store opened as ``con``.

    ``fmt`` applies to the exchange files (``auto`` sniffs each one); account files are
    always contract JSON Lines or Parquet.  ``account_fields`` overrides which OTel
    attributes or LiteLLM fields name the account (see the otel and litellm modules).
    Raises UserError for missing or unreadable files, before anything is loaded.
    """
    if fmt != AUTO and fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r}; use one of auto, {', '.join(FORMATS)}")
    paths = [Path(path) for path in exchange_paths]
    accounts = [Path(path) for path in account_paths]
    for path in (*paths, *accounts):
        open_binary(path).close()
    started = time.perf_counter()
    formats = {path: sniff_format(path) if fmt == AUTO else fmt for path in paths}
    index = otel.OtelEventIndex()
    for path, path_format in formats.items():
        if path_format == OTEL:
            index.add_file(path)
    appender = BackgroundAppender(con.con)
    run = _Run(con, QuarantineWriter(quarantine_path), batch_rows, index, account_fields, appender)
    total_bytes = sum(path.stat().st_size for path in (*paths, *accounts))
    try:
        with appender, _progress_bar(progress, console) as bar:
            task = bar.add_task("ingest", total=total_bytes) if bar is not None else None

            def advance(size: int) -> None:
                if bar is not None and task is not None:
                    bar.advance(task, size)

            for path in paths:
                run.ingest(path, _EXCHANGES, formats[path], advance)
            for path in accounts:
                run.ingest(path, _ACCOUNTS, CONTRACT, advance)
        run.finish_otel()
    finally:
        run.quarantine.close()
    for report in run.reports:
        report.check()
    return IngestReport(run.reports, quarantine_path, time.perf_counter() - started)


def _progress_bar(
    enabled: bool, console: Console | None
) -> AbstractContextManager[Progress | None]:
    if not enabled:
        return nullcontext()
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        transient=True,
    )


class _Run:
    """State shared by the files of one run: store, quarantine, seen ids, OTel events."""

    def __init__(
        self,
        con: Any,
        quarantine: QuarantineWriter,
        batch_rows: int,
        index: otel.OtelEventIndex,
        account_fields: Sequence[str] | None,
        appender: BackgroundAppender,
    ) -> None:
        self.con = con
        self.appender = appender
        self.quarantine = quarantine
        self.batch_rows = batch_rows
        self.index = index
        self.account_fields = account_fields
        self.reports: list[FileReport] = []
        self._seen: dict[str, SeenIds] = {}
        self._pending: dict[str, list[pa.Table]] = {}
        self._pending_rows = 0
        self._pending_bytes = 0
        self._nested = NestedMemo()

    def write_pending(self) -> None:
        """Hand the kept rows held back so far (see :data:`APPEND_ROWS`) to the writer
        thread (ingest/appender.py).

        The batches are combined into one chunk first: DuckDB inserted 250k stored
        exchanges from one chunk in 0.34 s (0.09 s to combine) and from eight 32k-row chunks
        in 0.93 s (in memory; 1.17 s against 1.42 s into a store file)."""
        for name, tables in self._pending.items():
            if tables:
                self.appender.append(name, pa.concat_tables(tables).combine_chunks())
        self._pending = {}
        self._pending_rows = 0
        self._pending_bytes = 0

    def write_all(self) -> None:
        """Every kept row so far in the store, before ids are confirmed against it."""
        self.write_pending()
        self.appender.drain()

    def seen(self, table: _Table) -> SeenIds:
        if table.name not in self._seen:
            self.write_all()
            self._seen[table.name] = SeenIds(
                self.con.con, table.name, table.id_field, before_lookup=self.write_all
            )
        return self._seen[table.name]

    def ingest(self, path: Path, table: _Table, path_format: str, advance: ByteProgress) -> None:
        report = FileReport(str(path), table.name, path_format)
        self.reports.append(report)
        if table is _EXCHANGES and path_format == CONTRACT and read_head(path, 4) == PARQUET_MAGIC:
            self._ingest_parquet_exchanges(path, advance, report)
        else:
            self._ingest_records(path, table, path_format, advance, report)
        self.write_pending()

    def _ingest_records(
        self, path: Path, table: _Table, path_format: str, advance: ByteProgress, report: FileReport
    ) -> None:
        records, hints = self._reader(path, path_format, advance, report)
        source = str(path)
        validate = table.validate
        rows: list[tuple[Any, ...]] = []
        raws: list[object] = []
        for item in records:
            report.read += 1
            if item.problem is None and item.record is not None:
                try:
                    row = validate(item.record, hints)
                except RecordInvalid as invalid:
                    self._reject(report, item, invalid.errors)
                    continue
                rows.append((*row, source, item.line))
                raws.append(item.raw)
                if len(rows) >= self.batch_rows:
                    self._flush(report, table, rows, raws)
                    rows, raws = [], []
            else:
                problem = item.problem or FieldError("", "invalid_json", "no record")
                self._reject(report, item, [problem])
        self._flush(report, table, rows, raws)

    def _reader(
        self, path: Path, path_format: str, advance: ByteProgress, report: FileReport
    ) -> tuple[Iterator[SourceRecord], Hints | None]:
        if path_format == OTEL:
            attributes = self.account_fields or otel.DEFAULT_ACCOUNT_ATTRIBUTES
            reader = otel.read_otel(
                path,
                advance,
                index=self.index,
                skipped=report.skipped,
                account_attributes=attributes,
            )
            return reader, otel.missing_hints(attributes)
        if path_format == LITELLM:
            fields = self.account_fields or litellm.DEFAULT_ACCOUNT_FIELDS
            return litellm.read_litellm(path, advance, account_fields=fields), (
                litellm.missing_hints(fields)
            )
        if read_head(path, 4) == PARQUET_MAGIC:
            return read_contract_parquet(path, advance, batch_size=self.batch_rows), None
        return read_contract_jsonl(path, advance), None

    def _reject(self, report: FileReport, item: SourceRecord, errors: list[FieldError]) -> None:
        fields = ",".join(dict.fromkeys(error.field for error in errors if error.field))
        reason = "; ".join(str(error) if error.field else error.reason for error in errors)
        self.quarantine.write(report.table, report.path, item.line, fields, reason, item.raw)
        report.quarantined += 1
        for error in errors:
            field = _INDEX.sub("[]", error.field)
            report.reasons[f"{field}: {error.kind}" if field else error.kind] += 1

    def _ingest_parquet_exchanges(
        self, path: Path, advance: ByteProgress, report: FileReport
    ) -> None:
        """Parquet exchanges a batch at a time: columns checked with Arrow compute, and only
        the rows that path cannot prove valid validated record by record (see
        arrow_exchanges), so every row is loaded or quarantined as the record path would."""
        source = str(path)
        for first_line, batch in read_parquet_batches(path, advance, batch_size=self.batch_rows):
            report.read += batch.num_rows
            canonical, ok = canonical_exchanges(batch, self._nested)
            lines = pa.array(np.arange(first_line, first_line + batch.num_rows), pa.int64())
            valid = pa.Table.from_arrays(
                [*canonical.columns, pa.repeat(source, batch.num_rows), lines],
                names=[*canonical.column_names, "source_file", "source_line"],
            )
            if not ok.all():  # filtering copies every column, long texts included
                valid = valid.filter(pa.array(ok))
            rows, raws = self._validate_records(report, batch, first_line, np.flatnonzero(~ok))
            # The rows the record path loaded are turned into stored rows the same way.
            checked = stored_exchanges(rows_to_table(rows, EXCHANGE_SCHEMA))
            merged = pa.concat_tables(
                [
                    table.select(STORED_EXCHANGE_SCHEMA.names).cast(STORED_EXCHANGE_SCHEMA)
                    for table in (valid, checked)
                ]
            )
            if rows:
                merged = merged.sort_by("source_line")
            self._flush_table(report, _EXCHANGES, merged, _raw_lookup(batch, first_line, raws))

    def _validate_records(
        self, report: FileReport, batch: pa.RecordBatch, first_line: int, positions: Any
    ) -> tuple[list[tuple[Any, ...]], dict[int, object]]:
        """The record path for the given rows of a batch: rows loaded, raws by line."""
        source = report.path
        rows: list[tuple[Any, ...]] = []
        raws: dict[int, object] = {}
        records = batch.take(positions).to_pylist()
        for position, record in zip(positions.tolist(), records, strict=True):
            item = SourceRecord(first_line + position, normalise_record(record), record)
            try:
                row = validate_exchange(record, None)
            except RecordInvalid as invalid:
                self._reject(report, item, invalid.errors)
                continue
            rows.append((*row, source, item.line))
            raws[item.line] = record
        return rows, raws

    def _flush(
        self, report: FileReport, table: _Table, rows: list[tuple[Any, ...]], raws: list[object]
    ) -> None:
        if not rows:
            return
        by_line = {row[-1]: raw for row, raw in zip(rows, raws, strict=True)}
        self._flush_table(report, table, rows_to_table(rows, table.schema), by_line.__getitem__)

    def _flush_table(
        self, report: FileReport, table: _Table, loaded: pa.Table, raw_of: Callable[[int], object]
    ) -> None:
        """Append the valid rows of a batch, quarantining ids seen before (first one wins)."""
        if not loaded.num_rows:
            return
        ids = loaded.column(table.id_field).to_pylist()
        duplicates = self.seen(table).duplicates(ids)
        if any(duplicates):
            lines = loaded.column("source_line").to_pylist()
            for position in np.flatnonzero(duplicates).tolist():
                error = FieldError(
                    table.id_field,
                    DUPLICATE,
                    f"duplicate {table.id_field} {ids[position]!r}: an earlier record with this "
                    "id was already loaded (the first occurrence is kept)",
                )
                line = lines[position]
                self._reject(report, SourceRecord(line, None, raw_of(line)), [error])
            loaded = loaded.filter(pa.array(np.logical_not(duplicates)))
        self._pending.setdefault(table.name, []).append(loaded)
        self._pending_rows += loaded.num_rows
        self._pending_bytes += loaded.nbytes
        if self._pending_rows >= APPEND_ROWS or self._pending_bytes >= APPEND_BYTES:
            self.write_pending()
        report.loaded += loaded.num_rows
        append_arrow(self.con, "quarantine", self.quarantine.take_table())

    def finish_otel(self) -> None:
        """Quarantine message events no span claimed; count the joined ones as skipped."""
        by_path = {report.path: report for report in self.reports if report.format == OTEL}
        for event in self.index.orphans():
            report = by_path[event.source_file]
            report.read += 1
            self._reject(
                report, SourceRecord(event.line, None, event.raw), [otel.orphan_problem(event)]
            )
        for path, count in self.index.joined.items():
            if path in by_path:
                by_path[path].skipped[otel.SKIPPED_JOINED] += count
        append_arrow(self.con, "quarantine", self.quarantine.take_table())


def _raw_lookup(
    batch: pa.RecordBatch, first_line: int, raws: dict[int, object]
) -> Callable[[int], object]:
    """What the quarantine shows for a row of a Parquet batch, found by its line number."""

    def raw_of(line: int) -> object:
        if line in raws:
            return raws[line]
        return normalise_record(batch.slice(line - first_line, 1).to_pylist()[0])

    return raw_of


__all__ = ["AUTO", "DEFAULT_BATCH_ROWS", "ingest_files", "no_progress"]
