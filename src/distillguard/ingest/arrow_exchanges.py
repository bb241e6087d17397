"""Stored exchanges from an Arrow batch (a Parquet file), validated a column at a time.

Per-record validation (:func:`~distillguard.ingest.validate.validate_exchange`) costs about
80 µs a record, mostly building and checking one dict per row; for Parquet, whose columns
already carry types, that is most of a large scan.  Here the scalar columns are checked and
converted with Arrow compute over the whole batch, and only the nested columns (``messages``,
``tools``, ``params``, which the contract lets mix types) go through the same per-value
helpers as the record path.  The rows come out as the store keeps them
(:data:`~distillguard.schema.tables.STORED_EXCHANGE_SCHEMA`): the conversation and tool JSON
are checked and searched for the message flags once per distinct text, and never copied
onto every row (at 1M simulated exchanges the conversation texts alone were 0.5 GB).

Any row this path cannot prove valid is *not* judged here: its flag in the returned mask is
false and the caller sends that row through the record path, which accepts it (e.g. an
integral float count) or quarantines it with the file, row, field and reason.  So a row is
loaded with exactly the values, or rejected with exactly the reasons, that the record path
gives; this module only makes the common case cheap.

Accepted column types: strings (also Arrow's large and view strings and the JSON extension
type DuckDB writes); ``timestamp`` as a Parquet timestamp (s, ms or µs; without a zone it is
UTC), an RFC 3339 string or epoch seconds; integer columns of any width; ``messages``,
``tools`` and ``params`` as JSON text or as nested lists and structs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.ingest.contract import nested_value
from distillguard.ingest.problems import FieldError
from distillguard.ingest.timeparse import TimeError, parse_timestamp_us
from distillguard.ingest.validate import (
    EXCHANGE_FIELDS,
    canonical_json,
    check_count,
    check_integer,
    check_messages,
    check_params,
    check_tools,
)
from distillguard.schema import STORED_EXCHANGE_SCHEMA
from distillguard.schema.stored import FLAG_MARKERS, message_flags

Mask = npt.NDArray[np.bool_]
_MAX_US = 4_102_444_800 * 1_000_000  # 2100-01-01T00:00:00Z, as in timeparse
_STRING_TYPES = (pa.string(), pa.large_string(), pa.string_view())
_TIME_UNITS = ("s", "ms", "us")
_REQUIRED_STRINGS = ("exchange_id", "account_id", "model")
_OPTIONAL_STRINGS = (
    "api_key_id", "organization_id", "client_ip", "user_agent", "system_prompt",
    "response_text", "finish_reason", "conversation_id",
)  # fmt: skip
_COUNTS = ("input_tokens", "output_tokens", "reasoning_tokens")
_NO_HINTS: dict[str, str] = {}
STORED_ROW_FIELDS: tuple[str, ...] = tuple(
    name for name in STORED_EXCHANGE_SCHEMA.names if name not in ("source_file", "source_line")
)
"""The columns :func:`canonical_exchanges` returns, in the store's order."""


def canonical_exchanges(
    batch: pa.RecordBatch, memo: NestedMemo | None = None
) -> tuple[pa.Table, Mask]:
    """Stored columns (:data:`STORED_ROW_FIELDS`) of a batch and the rows proven valid.

    Values in rows whose flag is false are placeholders; the caller drops those rows and
    validates them record by record.  ``memo`` carries the checked nested texts from one
    batch of a file to the next (see :class:`NestedMemo`); without one, each batch starts
    afresh.
    """
    rows = batch.num_rows
    ok = np.ones(rows, dtype=bool)
    columns: dict[str, pa.Array] = {}
    for name in _REQUIRED_STRINGS:
        columns[name] = _strings(batch, name, ok, required=True)
    for name in _OPTIONAL_STRINGS:
        columns[name] = _strings(batch, name, ok, required=False)
    columns["ts"] = _timestamps(batch, ok)
    for name in _COUNTS:
        columns[name] = _integers(batch, name, ok, check_count, non_negative=True)
    columns["status"] = _integers(batch, "status", ok, check_integer, non_negative=False)
    columns.update(_nested(batch, ok, memo if memo is not None else NestedMemo()))
    columns["extra"] = _extra(batch, ok)
    schema = STORED_EXCHANGE_SCHEMA
    arrays = [_typed(columns[name], schema.field(name).type) for name in STORED_ROW_FIELDS]
    names = list(STORED_ROW_FIELDS)
    fields = [schema.field(name).with_nullable(True) for name in names]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields)), ok


def _typed(values: pa.Array | list[Any], kind: pa.DataType) -> pa.Array:
    if isinstance(values, list):
        return pa.array(values, type=kind)
    return values if values.type == kind else values.cast(kind)


def _plain(batch: pa.RecordBatch, name: str) -> pa.Array | None:
    """The column, with an extension type (e.g. JSON) read as its storage; None if absent."""
    index = batch.schema.get_field_index(name)
    if index < 0:
        return None
    column = batch.column(index)
    if isinstance(column.type, pa.BaseExtensionType):
        column = column.storage
    return column


def _nulls(rows: int, kind: pa.DataType) -> pa.Array:
    return pa.nulls(rows, type=kind)


def _present(column: pa.Array) -> Mask:
    return np.asarray(column.is_valid(), dtype=bool)


def _strings(batch: pa.RecordBatch, name: str, ok: Mask, *, required: bool) -> pa.Array:
    column = _plain(batch, name)
    if column is None or pa.types.is_null(column.type):
        if required:
            ok[:] = False
        return _nulls(batch.num_rows, pa.string())
    if column.type not in _STRING_TYPES:
        ok &= ~_present(column)  # a value of another type: the record path says which
        return _nulls(batch.num_rows, pa.string())
    column = column.cast(pa.string())
    if required:
        lengths = pc.binary_length(column)
        # A zero of the lengths' own type: with a Python int, Arrow takes ~20 ms a batch
        # to settle the comparison's types (the same mask).
        ok &= np.asarray(pc.fill_null(pc.greater(lengths, pa.scalar(0, lengths.type)), False))
    return column


def _timestamps(batch: pa.RecordBatch, ok: Mask) -> pa.Array:
    column = _plain(batch, "timestamp")
    if column is None:
        ok[:] = False
        return _nulls(batch.num_rows, pa.int64())
    kind = column.type
    if pa.types.is_timestamp(kind) and kind.unit in _TIME_UNITS:
        micros = column.cast(pa.timestamp("us", tz=kind.tz)).view(pa.int64())
        values = np.asarray(micros.fill_null(-1))
        ok &= (values >= 0) & (values < _MAX_US)
        return pa.array(values, pa.int64())
    return pa.array(_per_value(column.to_pylist(), ok, _time_or_none), pa.int64())


def _time_or_none(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return parse_timestamp_us(value)
    except TimeError:
        return None


def _per_value(values: list[Any], ok: Mask, convert: Callable[[Any], Any]) -> list[Any]:
    """Convert each value; a None result fails the row (its value is then a placeholder)."""
    out = [convert(value) for value in values]
    for index, value in enumerate(out):
        if value is None:
            ok[index] = False
    return out


def _integers(
    batch: pa.RecordBatch,
    name: str,
    ok: Mask,
    check: Callable[[object, str, list[FieldError]], int | None],
    *,
    non_negative: bool,
) -> pa.Array:
    column = _plain(batch, name)
    if column is None or pa.types.is_null(column.type):
        return _nulls(batch.num_rows, pa.int64())
    if pa.types.is_integer(column.type) and not pa.types.is_uint64(column.type):
        column = column.cast(pa.int64())
        if non_negative:
            ok &= np.asarray(pc.fill_null(pc.greater_equal(column, 0), True))
        return column
    values = column.to_pylist()
    errors: list[FieldError] = []
    out = []
    for index, value in enumerate(values):
        checked = check(value, name, errors)
        if errors:
            ok[index] = False
            errors.clear()
        out.append(checked)
    return pa.array(out, pa.int64())


_PARAM_COLUMNS = (
    "params", "temperature", "top_p", "max_tokens", "n", "stream", "seed", "reasoning_effort",
)  # fmt: skip
_FLAGS = tuple(FLAG_MARKERS)
_MESSAGE_COLUMNS = ("n_messages", "prompt_text", *_FLAGS)
_Check = Callable[[Any, list[FieldError]], tuple[Any, ...]]
_TOOL_COLUMNS = ("tool_names",)


def _nested(batch: pa.RecordBatch, ok: Mask, memo: NestedMemo) -> dict[str, pa.Array | list[Any]]:
    """The columns the store keeps from ``messages``, ``tools`` and ``params``.

    Each distinct text is decoded and checked once (request logs repeat parameter sets and
    tool definitions, and scripted traffic repeats whole requests), then spread back to its
    rows with one ``take``; the JSON texts themselves are not kept (``DROPPED_FROM_STORE``).
    """
    out: dict[str, pa.Array | list[Any]] = {}
    checks: list[tuple[str, tuple[str, ...], _Check]] = [
        ("messages", _MESSAGE_COLUMNS, _check_messages),
        ("tools", _TOOL_COLUMNS, _check_tools),
        ("params", _PARAM_COLUMNS, check_params),
    ]
    for source, names, check in checks:
        values, take = _distinct_values(batch, source)
        kinds = [STORED_EXCHANGE_SCHEMA.field(name).type for name in names]
        columns, good = memo.columns(source, values, check, kinds)
        ok &= good[take]
        rows = pa.array(take)
        for name, column in zip(names, columns, strict=True):
            out[name] = column.take(rows)
    return out


MEMO_TEXT_BYTES = 64 << 20
"""Text remembered per nested column (characters), about 0.2 GB with the results at most."""


class NestedMemo:
    """Checked nested values by their text, kept from one batch of a file to the next.

    A batch already checks each of its distinct texts once; a scripted campaign also repeats
    its requests *across* batches (in a 200k-row sample, 30k distinct ``messages`` texts
    were 85k distinct texts summed over its 32k-row batches), so the result of a text is
    remembered.  The result depends on the text alone, so a remembered one is exactly what
    checking it again gives.

    Results are kept as the store's columns (Arrow arrays, one row per remembered text) and
    a batch takes its rows from them: building each batch's columns from Python tuples of
    every distinct value was a sixth of ingesting Parquet (4M simulated exchanges), most of
    it for values already checked.  Values that are not text (nested lists and structs)
    are checked every time and kept only for the batch.  Memory stays bounded: once the
    remembered texts of a column pass :data:`MEMO_TEXT_BYTES`, that column starts afresh
    after the batch.
    """

    def __init__(self, text_bytes: int | None = None) -> None:
        self._limit = MEMO_TEXT_BYTES if text_bytes is None else text_bytes
        self._memos: dict[str, _CheckedColumn] = {}

    def texts(self, source: str) -> list[str]:
        """The texts of ``source`` remembered now (for tests and diagnostics)."""
        memo = self._memos.get(source)
        return list(memo.rows) if memo is not None else []

    def columns(
        self, source: str, values: list[Any], check: _Check, kinds: list[pa.DataType]
    ) -> tuple[list[pa.Array], Mask]:
        """Per result column (typed as ``kinds``), each value's result, and whether each
        value passed its check; remembered texts are looked up, the rest checked."""
        memo = self._memos.get(source)
        if memo is None or memo.kinds != kinds:
            memo = self._memos[source] = _CheckedColumn(kinds)
        positions = np.empty(len(values), dtype=np.int64)
        fresh: list[tuple[Any, ...]] = []
        passed: list[bool] = []
        errors: list[FieldError] = []
        rows = memo.rows
        size = memo.size
        only_texts = True
        for index, value in enumerate(values):
            text = type(value) is str
            if text:
                found = rows.get(value)
                if found is not None:
                    positions[index] = found
                    continue
            result = check(nested_value(value), errors)
            passed.append(not errors)
            errors.clear()
            at = size + len(fresh)
            fresh.append(result)
            positions[index] = at
            if text:
                rows[value] = at
                memo.text_bytes += len(value)
            elif value is not None:
                only_texts = False
        memo.append(fresh, passed)
        columns = memo.take(positions)
        good = memo.passed[positions]
        if memo.text_bytes > self._limit or not only_texts:
            # Over the limit, or holding results of values that are not text (kept for
            # this batch only; a missing value's one row is kept): the next batch starts
            # afresh.
            del self._memos[source]
        return columns, good


class _CheckedColumn:
    """The remembered results of one nested column: the row of each text, and the result
    columns as a few Arrow chunks.

    A batch's rows are taken from each chunk separately and put back in order: Arrow takes
    from a chunked array by joining its chunks first, a copy of every remembered result per
    batch (at 16M exchanges that made ingest slower than building the columns afresh).
    Chunks are merged as they come, the newest into the one before while it is at least
    half that one's size, so there are few of them and each result is copied a few times.
    """

    def __init__(self, kinds: list[pa.DataType]) -> None:
        self.kinds = kinds
        self.rows: dict[str, int] = {}
        self.text_bytes = 0
        self.size = 0
        self._chunks: list[list[pa.Array]] = []
        """Chunks, oldest first; each chunk holds one array per result column."""
        self._starts: list[int] = []
        self.passed = np.zeros(0, dtype=bool)

    def append(self, results: list[tuple[Any, ...]], passed: list[bool]) -> None:
        if not results:
            return
        columns = zip(*results, strict=True)
        chunk = [
            pa.array(column, type=kind) for column, kind in zip(columns, self.kinds, strict=True)
        ]
        self._chunks.append(chunk)
        self._starts.append(self.size)
        while len(self._chunks) > 1 and 2 * len(self._chunks[-1][0]) >= len(self._chunks[-2][0]):
            newest = self._chunks.pop()
            self._starts.pop()
            self._chunks[-1] = [
                pa.concat_arrays([older, newer])
                for older, newer in zip(self._chunks[-1], newest, strict=True)
            ]
        self.passed = np.concatenate((self.passed, np.asarray(passed, dtype=bool)))
        self.size += len(results)

    def take(self, positions: npt.NDArray[np.int64]) -> list[pa.Array]:
        """Each result column at ``positions`` (rows of the remembered results)."""
        if not self._chunks:
            return [pa.array([], type=kind) for kind in self.kinds]
        if len(self._chunks) == 1:
            picked = pa.array(positions)
            return [column.take(picked) for column in self._chunks[0]]
        starts = np.asarray(self._starts, dtype=np.int64)
        chunk_of = np.searchsorted(starts, positions, side="right") - 1
        order = np.argsort(chunk_of, kind="stable")
        ends = np.searchsorted(chunk_of[order], np.arange(len(starts)), side="right")
        parts: list[list[pa.Array]] = [[] for _ in self.kinds]
        begin = 0
        for index, end in enumerate(ends.tolist()):
            if end > begin:
                local = pa.array(positions[order[begin:end]] - starts[index])
                for part, column in zip(parts, self._chunks[index], strict=True):
                    part.append(column.take(local))
            begin = end
        back = np.empty(len(order), dtype=np.int64)
        back[order] = np.arange(len(order))
        restore = pa.array(back)
        return [
            pa.concat_arrays(part).take(restore) if part else pa.array([], type=kind)
            for part, kind in zip(parts, self.kinds, strict=True)
        ]


def _check_messages(value: Any, errors: list[FieldError]) -> tuple[Any, ...]:
    """``n_messages``, ``prompt_text`` and the message flags of one messages value.

    Nearly every conversation is a plain list of role and text messages; for those the
    result is read off the list (:func:`_plain_messages`), which skips writing the canonical
    JSON and searching it for the flags, two thirds of checking a new text.  Anything else
    takes the exact path (:func:`_exact_messages`), the record path's own checks.
    """
    plain = _plain_messages(value)
    return plain if plain is not None else _exact_messages(value, errors)


def _exact_messages(value: Any, errors: list[FieldError]) -> tuple[Any, ...]:
    """The record path's check of one messages value, flags searched in its canonical JSON."""
    messages, count, prompt = check_messages(value, errors, _NO_HINTS)
    return (count, prompt, *message_flags(messages))


_PAIR_MARKER = re.compile(r'"([a-z_]+)":"[a-z_]+"')


def _markers_name_a_role() -> bool:
    """Whether every flag marker is a ``"key":"value"`` pair of plain words whose key is not
    ``content``, the condition under which :func:`_plain_messages` is exact."""
    for markers in FLAG_MARKERS.values():
        for marker in markers:
            pair = _PAIR_MARKER.fullmatch(marker)
            if pair is None or pair.group(1) == "content":
                return False
    return True


_PLAIN_EXACT = _markers_name_a_role()
_ROLE_BITS: dict[str, int] = {}
_ROLE_BITS_KEPT = 256  # distinct roles remembered; a stranger one is probed every time
_FLAGS_OF_BITS = [
    tuple(bool(bits >> index & 1) for index in range(len(FLAG_MARKERS)))
    for bits in range(1 << len(FLAG_MARKERS))
]


def _plain_messages(value: Any) -> tuple[Any, ...] | None:
    """The result of :func:`_exact_messages` for a plain conversation, else None.

    Plain: a non-empty list of dicts with exactly the keys ``role`` (a non-empty string)
    and ``content`` (a string).  The record path accepts such a list (its strings come from
    orjson or Arrow's UTF-8, so none holds the lone surrogate orjson cannot write), counts
    its messages and takes the last user message's content as the prompt.  Its flags come
    from the roles alone: in compact JSON a ``"key":"value"`` marker only matches a key and
    its whole string value (a quote inside a string is escaped), here only a role's, so the
    list's flags are those of its roles (:func:`_role_bits`).
    """
    if type(value) is not list or not value or not _PLAIN_EXACT:
        return None
    prompt = ""
    bits = 0
    for message in value:
        if type(message) is not dict or len(message) != 2:
            return None
        role = message.get("role")
        content = message.get("content")
        if type(role) is not str or not role or type(content) is not str:
            return None
        if role == "user":
            prompt = content
        known = _ROLE_BITS.get(role)
        bits |= known if known is not None else _role_bits(role)
    return (len(value), prompt, *_FLAGS_OF_BITS[bits])


def _role_bits(role: str) -> int:
    """The flags (a bit each, in :data:`FLAG_MARKERS` order) a message of this role sets,
    from the exact check of a one-message conversation of that role."""
    flags = _exact_messages([{"role": role, "content": ""}], [])[2:]
    bits = sum(1 << index for index, flag in enumerate(flags) if flag)
    if len(_ROLE_BITS) < _ROLE_BITS_KEPT:
        _ROLE_BITS[role] = bits
    return bits


def _check_tools(value: Any, errors: list[FieldError]) -> tuple[Any, ...]:
    """``tool_names`` of one tools value."""
    return check_tools(value, errors)[1:]


def _distinct_values(batch: pa.RecordBatch, name: str) -> tuple[list[Any], npt.NDArray[np.int64]]:
    """The column's distinct values as stored (text, or nested lists and structs; each goes
    through :func:`~distillguard.ingest.contract.nested_value` before its check), and each
    row's index into them."""
    rows = batch.num_rows
    column = _plain(batch, name)
    if column is None or pa.types.is_null(column.type):
        return [None], np.zeros(rows, dtype=np.int64)
    if column.type in _STRING_TYPES:
        encoded = pc.dictionary_encode(column.cast(pa.string()), null_encoding="encode")
        texts = encoded.dictionary.to_pylist()
        take = np.asarray(encoded.indices.cast(pa.int64()))
        return texts, take
    return column.to_pylist(), np.arange(rows, dtype=np.int64)


def _extra(batch: pa.RecordBatch, ok: Mask) -> list[str | None]:
    """Unknown columns with a value, as canonical JSON (the record path's ``extra``)."""
    unknown = [name for name in batch.schema.names if name not in EXCHANGE_FIELDS]
    if not unknown:
        return [None] * batch.num_rows
    values = batch.select(unknown).to_pylist()
    errors: list[FieldError] = []
    out: list[str | None] = []
    for index, record in enumerate(values):
        present = {key: value for key, value in record.items() if value is not None}
        text = canonical_json(present, "extra", errors) if present else None
        if errors:
            ok[index] = False
            errors.clear()
        out.append(text)
    return out
