"""The per-exchange feature stage: every exchange's fingerprints, signals and capability.

:func:`features_for_batch` is a pure function from an Arrow batch of ``exchanges`` columns
(:data:`INPUT_COLUMNS`) to a batch of ``EXCHANGE_FEATURE_SCHEMA``, so it runs the same in the
local loop of :func:`compute_exchange_features` and under Spark ``mapInArrow``.

Speed comes from doing text work once per *distinct* (prompt, system prompt) pair in the
batch — scripted traffic and popular prompts repeat a lot — and from batching the
classifier (one vectorisation per batch) and the MinHash (one rensa call per batch); the
per-row work left is column arithmetic in Arrow and NumPy.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends.duckdb import Backend as DuckDBBackend

from distillguard.engine.store import append_arrow
from distillguard.features.capability import has_code_cue, has_math_cue, tag_capabilities
from distillguard.features.minhash import lsh_bands_many, shingles
from distillguard.features.pair_cache import PairCache, PairFeatures, pair_key
from distillguard.features.parallel import MAX_WORKERS, PARALLEL_MIN_ROWS, featured_in_processes
from distillguard.features.prompt_signals import classifier_text, prompt_signals
from distillguard.features.templates import fingerprints
from distillguard.features.text import guess_language, prepare
from distillguard.schema import EXCHANGE_FEATURE_SCHEMA

TABLE = "exchange_features"
INPUT_COLUMNS = (
    "exchange_id",
    "account_id",
    "ts",
    "model",
    "prompt_text",
    "system_prompt",
    "messages",
    "tool_names",
)
INT32_MAX = 2**31 - 1


def _distinct(
    prompts: list[str | None], systems: list[str | None]
) -> tuple[list[int], list[tuple[str, str]]]:
    """Index of each row's distinct (prompt, system) pair, and the pairs in first-seen order."""
    seen: dict[tuple[str, str], int] = {}
    index = [
        seen.setdefault((p or "", s or ""), len(seen))
        for p, s in zip(prompts, systems, strict=True)
    ]
    return index, list(seen)


def _part_flag(messages: pa.ChunkedArray | pa.Array, *needles: str) -> np.ndarray:
    """Rows whose canonical messages JSON holds one of the given part markers."""
    flag = np.zeros(len(messages), dtype=bool)
    for needle in needles:
        found = pc.fill_null(pc.match_substring(messages, needle), False)
        flag |= np.asarray(found, dtype=bool)
    return flag


IMAGE_MARKERS = ('"type":"image"',)
TOOL_MARKERS = ('"type":"tool_call"', '"type":"tool_result"', '"role":"tool"')
"""Part markers in the canonical messages JSON (compact, so the spelling is fixed)."""
FLAG_COLUMNS = ("has_image", "has_tool_parts")
"""What :func:`flag_sql` computes in the store, so the messages need not leave it."""


def flag_sql(column: str = "messages") -> str:
    """SQL for :data:`FLAG_COLUMNS` from the messages JSON (DuckDB's ``contains``)."""

    def any_of(markers: tuple[str, ...]) -> str:
        return " OR ".join(f"contains({column}, '{marker}')" for marker in markers)

    return f"coalesce({any_of(IMAGE_MARKERS)}, false) AS has_image, " + (
        f"coalesce({any_of(TOOL_MARKERS)}, false) AS has_tool_parts"
    )


def _message_flags(batch: pa.RecordBatch) -> tuple[np.ndarray, np.ndarray]:
    """(image part, tool part) per row: computed by the store when it sent them, else from
    the messages column (the Spark path and small inputs)."""
    if "has_image" in batch.schema.names:
        return (
            np.asarray(batch.column("has_image"), dtype=bool),
            np.asarray(batch.column("has_tool_parts"), dtype=bool),
        )
    messages = batch.column("messages")
    return _part_flag(messages, *IMAGE_MARKERS), _part_flag(messages, *TOOL_MARKERS)


def _compute_pairs(pairs: list[tuple[str, str]]) -> list[PairFeatures]:
    """The text work for distinct pairs: normal form, fingerprints, MinHash, classifier."""
    systems: dict[str, str] = {}
    partial = []
    token_sets: list[set[str]] = []
    texts: list[str] = []
    for prompt, system in pairs:
        prepared = prepare(prompt)
        normal = prepared.text
        lang = guess_language(normal)
        token_sets.append(shingles(normal, lang))
        if system and system not in systems:
            systems[system] = prepare(system).text
        texts.append(classifier_text(normal, systems[system] if system else ""))
        partial.append(
            (
                lang,
                min(prepared.chars, INT32_MAX),
                prepared.truncated,
                fingerprints(normal),
                has_code_cue(normal),
                has_math_cue(normal),
            )
        )
    signals = prompt_signals(texts).tolist()
    bands = lsh_bands_many(token_sets)
    return [
        PairFeatures(lang, chars, cut, ids, tuple(keys), tuple(row), code, math)
        for (lang, chars, cut, ids, code, math), keys, row in zip(
            partial, bands, signals, strict=True
        )
    ]


def _pair_features(pairs: list[tuple[str, str]], cache: PairCache | None) -> list[PairFeatures]:
    """Features of each distinct pair, from the cache where it has them."""
    if cache is None:
        return _compute_pairs(pairs)
    keys = [pair_key(prompt, system) for prompt, system in pairs]
    found = [cache.get(key) for key in keys]
    missing = [i for i, item in enumerate(found) if item is None]
    for i, computed in zip(missing, _compute_pairs([pairs[i] for i in missing]), strict=True):
        cache.put(keys[i], computed)
        found[i] = computed
    return found  # type: ignore[return-value]


def features_for_batch(batch: pa.RecordBatch, cache: PairCache | None = None) -> pa.RecordBatch:
    """Features of one batch of exchanges (columns :data:`INPUT_COLUMNS`, or with
    :data:`FLAG_COLUMNS` from :func:`flag_sql` in place of ``messages``).

    ``cache`` keeps pairs' features across the batches one process handles (same values,
    less work); without it every batch starts from nothing, as under Spark.
    """
    rows = batch.num_rows
    index, pairs = _distinct(
        batch.column("prompt_text").to_pylist(), batch.column("system_prompt").to_pylist()
    )
    per_pair = _pair_features(pairs, cache)
    langs = [item.lang for item in per_pair]
    chars = [item.chars for item in per_pair]
    truncated = [item.truncated for item in per_pair]
    ids = [item.hashes for item in per_pair]
    code = [item.code for item in per_pair]
    math = [item.math for item in per_pair]
    signals = np.asarray([item.signals for item in per_pair], dtype=np.float32).reshape(
        len(pairs), 5
    )
    bands = [list(item.bands) for item in per_pair]

    take = np.asarray(index, dtype=np.int64)
    hashes = np.asarray(ids, dtype=np.int64).reshape(len(pairs), 3)[take]
    row_signals = signals[take] if len(pairs) else np.zeros((0, 5), dtype=np.float32)
    image, tool_parts = _message_flags(batch)
    tool_counts = pc.fill_null(pc.list_value_length(batch.column("tool_names")), 0)
    tools = tool_parts | (np.asarray(tool_counts) > 0)
    capability = tag_capabilities(
        image=image,
        tools=tools,
        code=np.asarray(code, dtype=bool)[take] if rows else np.zeros(0, dtype=bool),
        math=np.asarray(math, dtype=bool)[take] if rows else np.zeros(0, dtype=bool),
        signals=row_signals,
    )
    unique_bands = pa.array(bands, type=pa.list_(pa.int64()))
    columns = {
        "exchange_id": batch.column("exchange_id"),
        "account_id": batch.column("account_id"),
        "ts": batch.column("ts"),
        "model": batch.column("model"),
        "lang": pa.array(langs, pa.string()).take(take),
        "prompt_chars": pa.array(np.asarray(chars, dtype=np.int32)[take], pa.int32())
        if rows
        else pa.array([], pa.int32()),
        "text_hash": pa.array(hashes[:, 0], pa.int64()),
        "template_id": pa.array(hashes[:, 1], pa.int64()),
        "wrapper_id": pa.array(hashes[:, 2], pa.int64()),
        "lsh_bands": unique_bands.take(take),
        "p_reasoning": pa.array(row_signals[:, 0], pa.float32()),
        "p_reconstruct": pa.array(row_signals[:, 1], pa.float32()),
        "p_grading": pa.array(row_signals[:, 2], pa.float32()),
        "p_tool": pa.array(row_signals[:, 3], pa.float32()),
        "p_rewrite": pa.array(row_signals[:, 4], pa.float32()),
        "capability": pa.array(capability.tolist(), pa.string()),
        "truncated": pa.array(truncated, pa.bool_()).take(take),
    }
    return pa.RecordBatch.from_arrays(
        [columns[field.name] for field in EXCHANGE_FEATURE_SCHEMA], schema=EXCHANGE_FEATURE_SCHEMA
    )


def compute_exchange_features(
    con: DuckDBBackend,
    *,
    batch_rows: int = 50_000,
    progress: bool = True,
    workers: int | None = None,
) -> int:
    """Add features for every exchange not featured yet; returns the rows written.

    Streams ``exchanges`` in batches through :func:`features_for_batch` and appends to the
    ``exchange_features`` table, created from ``EXCHANGE_FEATURE_SCHEMA`` when missing.  A
    rerun after new ingestion only features the new exchanges.  Large inputs are featured
    by ``workers`` processes (default: one per core, at most :data:`MAX_WORKERS`), each
    keeping a :class:`PairCache`; small ones in this process, where start-up would cost more.
    """
    if TABLE not in con.list_tables():
        con.create_table(TABLE, schema=ibis.schema(EXCHANGE_FEATURE_SCHEMA))
    # The store turns the messages JSON into the two flags the features need, so each row
    # ships a few bytes to the workers instead of its whole conversation.
    columns = ", ".join(f"e.{name}" for name in INPUT_COLUMNS if name != "messages")
    columns += ", " + flag_sql("e.messages")
    pending = f"FROM exchanges e ANTI JOIN {TABLE} f ON f.exchange_id = e.exchange_id"
    todo = int(con.con.execute(f"SELECT count(*) {pending}").fetchone()[0])
    reader = con.con.cursor().execute(f"SELECT {columns} {pending}").to_arrow_reader(batch_rows)
    if workers is None:
        workers = min(os.cpu_count() or 1, MAX_WORKERS) if todo >= PARALLEL_MIN_ROWS else 1
    results = featured_in_processes(reader, workers) if workers > 1 else _featured_here(reader)
    written = 0
    started = time.perf_counter()
    for features in results:
        append_arrow(con, TABLE, features)
        written += features.num_rows
        if progress:
            rate = written / max(time.perf_counter() - started, 1e-9)
            print(f"features: {written:,} exchanges ({rate:,.0f}/s)", file=sys.stderr)
    return written


def _featured_here(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    cache = PairCache()
    for batch in batches:
        yield features_for_batch(batch, cache)
