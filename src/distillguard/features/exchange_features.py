"""The feature stage: every exchange's fingerprints, signals and capability.

The text work is done once per *distinct* (prompt, system prompt) pair the store holds
(its ``prompts`` table): :func:`pair_features_batch` turns a batch of pairs into their
features, in worker processes here and under Spark ``mapInArrow`` (engine/spark.py), and
the view ``exchange_features`` (:func:`exchange_features_sql`) gives every exchange its
pair's features and its capability.  Scripted traffic and popular prompts repeat a lot
(998,855 distinct pairs in 16M simulated exchanges), and the classifier and the MinHash
run once per batch of pairs.

:func:`features_for_batch` is the same definition as a pure function of a batch of
exchanges with their prompt text (:data:`INPUT_COLUMNS`); the tests hold the store's view
to it row by row.
"""

from __future__ import annotations

import os
import sys
import time

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends.duckdb import Backend as DuckDBBackend

from distillguard.engine.store import append_arrow
from distillguard.features.capability import (
    capability_sql,
    has_code_cue,
    has_math_cue,
    tag_capabilities,
)
from distillguard.features.minhash import lsh_bands_many, shingle_list
from distillguard.features.pair_cache import PairCache, PairFeatures, pair_key
from distillguard.features.parallel import MAX_WORKERS, PARALLEL_MIN_PAIRS, batches_in_processes
from distillguard.features.prompt_signals import classifier_text, prompt_signals
from distillguard.features.templates import fingerprints_and_sentences
from distillguard.features.text import guess_language, prepare
from distillguard.schema import EXCHANGE_FEATURE_SCHEMA
from distillguard.schema.prompts import PROMPTS_TABLE

TABLE = "exchange_features"
INPUT_COLUMNS = (
    "exchange_id",
    "account_id",
    "ts",
    "model",
    "prompt_text",
    "system_prompt",
    "has_image",
    "has_tool_parts",
    "tool_names",
)
INT32_MAX = 2**31 - 1
SIGNAL_COLUMNS = ("p_reasoning", "p_reconstruct", "p_grading", "p_tool", "p_rewrite")
"""The classifier's signals as feature columns, in the order of ``prompt_signals.SIGNALS``."""
PAIR_BATCH = 4_096
"""Distinct pairs per unit of work handed to a worker."""
_PAIRS = "dg_feature_pairs"


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


def _message_flags(batch: pa.RecordBatch) -> tuple[np.ndarray, np.ndarray]:
    """(image part, tool part) per row, from the stored flags."""
    return (
        np.asarray(batch.column("has_image"), dtype=bool),
        np.asarray(batch.column("has_tool_parts"), dtype=bool),
    )


def _compute_pairs(pairs: list[tuple[str, str]]) -> list[PairFeatures]:
    """The text work for distinct pairs: normal form, fingerprints, MinHash, classifier."""
    systems: dict[str, str] = {}
    partial = []
    token_lists: list[list[str]] = []
    texts: list[str] = []
    for prompt, system in pairs:
        prepared = prepare(prompt)
        normal = prepared.text
        lang = guess_language(normal)
        token_lists.append(shingle_list(normal, lang))
        if system and system not in systems:
            systems[system] = prepare(system).text
        texts.append(classifier_text(normal, systems[system] if system else ""))
        ids, sentences = fingerprints_and_sentences(normal)
        partial.append(
            (
                lang,
                min(prepared.chars, INT32_MAX),
                prepared.truncated,
                ids,
                has_code_cue(normal),
                has_math_cue(normal),
                tuple(sentences),
            )
        )
    signals = prompt_signals(texts).tolist()
    bands = lsh_bands_many(token_lists)
    return [
        PairFeatures(lang, chars, cut, ids, tuple(keys), tuple(row), code, math, sentences)
        for (lang, chars, cut, ids, code, math, sentences), keys, row in zip(
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


PAIR_FEATURE_SCHEMA = pa.schema(
    [
        *(
            EXCHANGE_FEATURE_SCHEMA.field(name)
            for name in ("lang", "prompt_chars", "text_hash", "template_id", "wrapper_id")
        ),
        *(
            EXCHANGE_FEATURE_SCHEMA.field(name)
            for name in ("lsh_bands", "instruction_sentences", *SIGNAL_COLUMNS)
        ),
        pa.field("code_cue", pa.bool_(), nullable=False),
        pa.field("math_cue", pa.bool_(), nullable=False),
        EXCHANGE_FEATURE_SCHEMA.field("truncated"),
    ]
)
"""Everything the text of a (prompt, system prompt) pair gives, one row per distinct pair."""


def pair_table(per_pair: list[PairFeatures]) -> pa.Table:
    """The :data:`PAIR_FEATURE_SCHEMA` rows of computed pairs, in their order."""
    hashes = np.asarray([item.hashes for item in per_pair], dtype=np.int64).reshape(-1, 3)
    signals = np.asarray([item.signals for item in per_pair], dtype=np.float32).reshape(-1, 5)
    columns = [
        pa.array([item.lang for item in per_pair], pa.string()),
        pa.array(np.asarray([item.chars for item in per_pair], dtype=np.int32), pa.int32()),
        pa.array(hashes[:, 0], pa.int64()),
        pa.array(hashes[:, 1], pa.int64()),
        pa.array(hashes[:, 2], pa.int64()),
        pa.array([list(item.bands) for item in per_pair], pa.list_(pa.int64())),
        pa.array([list(item.sentences) for item in per_pair], pa.list_(pa.int64())),
        *(pa.array(signals[:, i], pa.float32()) for i in range(len(SIGNAL_COLUMNS))),
        pa.array([item.code for item in per_pair], pa.bool_()),
        pa.array([item.math for item in per_pair], pa.bool_()),
        pa.array([item.truncated for item in per_pair], pa.bool_()),
    ]
    return pa.Table.from_arrays(columns, schema=PAIR_FEATURE_SCHEMA)


def assemble(rows: pa.RecordBatch | pa.Table, pairs: pa.Table) -> pa.RecordBatch:
    """Feature rows from each row's own columns (ids, time, model, ``tool_names`` and the
    message flags, see :func:`_message_flags`) and its pair's features (aligned rows)."""
    signals = np.column_stack(
        [np.asarray(pairs.column(name), dtype=np.float32) for name in SIGNAL_COLUMNS]
    ).reshape(rows.num_rows, len(SIGNAL_COLUMNS))
    image, tool_parts = _message_flags(rows)
    tool_counts = pc.fill_null(pc.list_value_length(rows.column("tool_names")), 0)
    capability = tag_capabilities(
        image=image,
        tools=tool_parts | (np.asarray(tool_counts) > 0),
        code=np.asarray(pairs.column("code_cue"), dtype=bool),
        math=np.asarray(pairs.column("math_cue"), dtype=bool),
        signals=signals,
    )
    columns = {
        **{name: rows.column(name) for name in ("exchange_id", "account_id", "ts", "model")},
        **{name: pairs.column(name) for name in PAIR_FEATURE_SCHEMA.names},
        "capability": pa.array(capability.tolist(), pa.string()),
    }
    return pa.RecordBatch.from_arrays(
        [_plain(columns[field.name]).cast(field.type) for field in EXCHANGE_FEATURE_SCHEMA],
        schema=EXCHANGE_FEATURE_SCHEMA,
    )


def _plain(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def features_for_batch(batch: pa.RecordBatch, cache: PairCache | None = None) -> pa.RecordBatch:
    """Features of one batch of stored exchanges with their prompt text (columns
    :data:`INPUT_COLUMNS`): the definition the store's view is held to.

    ``cache`` keeps pairs' features across the batches one process handles (same values,
    less work); without it every batch starts from nothing.
    """
    index, pairs = _distinct(
        batch.column("prompt_text").to_pylist(), batch.column("system_prompt").to_pylist()
    )
    per_pair = pair_table(_pair_features(pairs, cache))
    return assemble(batch, per_pair.take(pa.array(index, pa.int64())))


def pair_features_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Rows of :data:`PROMPT_FEATURES` for a batch of ``prompts`` rows (columns ``pair_id``,
    ``prompt_text``, ``system``; schema/prompts.py): a worker process's unit of work."""
    pairs = list(
        zip(
            batch.column("prompt_text").to_pylist(),
            batch.column("system").to_pylist(),
            strict=True,
        )
    )
    table = pair_table(_compute_pairs(pairs))
    return pa.RecordBatch.from_arrays(
        [batch.column("pair_id"), *(_plain(c) for c in table.columns)],
        schema=PROMPT_FEATURE_ROW,
    )


FEATURE_VERSION = 4
"""Version of the feature definitions and layout; raise it whenever a feature's value changes
for the same exchange (2: instruction sentences include runs of short ones) or the tables
change (3: features kept once per distinct pair, ``exchange_features`` a view; 4: the pairs
are the store's ``prompts``, the view joins ``exchanges`` itself), so a store written
earlier is recomputed instead of mixing old and new values."""
_VERSION_TABLE = "dg_feature_version"
_RETIRED_TABLES = ("exchange_pairs",)
"""Tables of earlier layouts, dropped with their features (3: one row per exchange)."""

PROMPT_FEATURES = "prompt_features"
"""One row per distinct (prompt, system prompt) pair ever featured: its key and features."""
PROMPT_FEATURE_ROW = pa.schema(
    [pa.field("pair_id", pa.int64(), nullable=False), *PAIR_FEATURE_SCHEMA]
)
_OWN_COLUMNS = ("exchange_id", "account_id", "ts", "model")


def exchange_features_sql(list_length: str = "len") -> str:
    """The SELECT behind ``exchange_features``: each exchange's own columns, its pair's
    features, and its capability tagged by the rules of :func:`assemble` from the pair's
    cues and signals and the exchange's message flags and tool names.  ``list_length``:
    the engine's function for the length of a list (``len`` in DuckDB, ``size`` in Spark).

    A view, not a table: copying the pair's lists (LSH bands, sentences) onto every exchange
    made the table grow with traffic instead of with distinct prompts, and at 16M exchanges
    even one narrow row per exchange (ids, time, pair, capability) cost a 16M-row insert
    and anti-join on every scan."""
    capability = capability_sql(
        image="e.has_image",
        tools=f"(e.has_tool_parts OR coalesce({list_length}(e.tool_names), 0) > 0)",
        code="q.code_cue",
        math="q.math_cue",
        signals=tuple(f"q.{name}" for name in SIGNAL_COLUMNS),
    )
    columns = [
        f"e.{name}"
        if name in _OWN_COLUMNS
        else f"{capability} AS capability"
        if name == "capability"
        else f"q.{name}"
        for name in EXCHANGE_FEATURE_SCHEMA.names
    ]
    return (
        f"SELECT {', '.join(columns)} FROM exchanges e "
        f"JOIN {PROMPT_FEATURES} q ON q.pair_id = e.pair_id"
    )


def _stored_version(con: DuckDBBackend) -> int | None:
    if _VERSION_TABLE not in con.list_tables():
        return None
    row = con.con.execute(f"SELECT max(version) FROM {_VERSION_TABLE}").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _record_version(con: DuckDBBackend, exchanges: int) -> None:
    """The feature version, and how many exchanges the store held when features were last
    brought up to date (exchanges are only ever appended)."""
    con.con.execute(
        f"CREATE OR REPLACE TABLE {_VERSION_TABLE} AS "
        f"SELECT {FEATURE_VERSION} AS version, {int(exchanges)}::BIGINT AS exchanges"
    )


def _featured_before(con: DuckDBBackend) -> int:
    row = con.con.execute(f"SELECT max(exchanges) FROM {_VERSION_TABLE}").fetchone()
    return 0 if row is None or row[0] is None else int(row[0])


def _kind_of(con: DuckDBBackend, name: str) -> str | None:
    """``BASE TABLE``, ``VIEW`` or None (absent) for a relation of the main schema."""
    row = con.con.execute(
        "SELECT table_type FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_name = ?",
        [name],
    ).fetchone()
    return None if row is None else str(row[0])


def _drop_outdated_features(con: DuckDBBackend) -> None:
    """Drop features written by an earlier version (another layout, other columns, or an
    earlier :data:`FEATURE_VERSION`).

    Features are derived from the stored exchanges alone, so they are recomputed in full
    below rather than left to fail on the first append or to mix definitions; a note says
    why it takes longer than a day's increment.
    """
    kind = _kind_of(con, TABLE)
    stored = _stored_version(con)
    if kind is None and stored is None:
        return
    current = (
        kind == "VIEW"
        and stored == FEATURE_VERSION
        and list(con.table(TABLE).columns) == EXCHANGE_FEATURE_SCHEMA.names
    )
    if current:
        return
    if kind is not None:
        why = "other columns" if stored == FEATURE_VERSION else f"feature version {stored or 1}"
        print(
            f"features: the store's {TABLE} were written by an earlier version "
            f"({why}; this is version {FEATURE_VERSION}); recomputing features for every "
            "stored exchange",
            file=sys.stderr,
        )
    con.con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} IF EXISTS {TABLE}")
    for name in (*_RETIRED_TABLES, PROMPT_FEATURES, _VERSION_TABLE):
        con.con.execute(f"DROP TABLE IF EXISTS {name}")


def _ensure_tables(con: DuckDBBackend) -> None:
    """The pair features table and the view over it, where missing."""
    if PROMPT_FEATURES not in con.list_tables():
        con.create_table(PROMPT_FEATURES, schema=ibis.schema(PROMPT_FEATURE_ROW))
    if _kind_of(con, TABLE) is None:
        con.con.execute(f"CREATE OR REPLACE VIEW {TABLE} AS {exchange_features_sql()}")
    if _stored_version(con) is None:
        _record_version(con, 0)


def compute_exchange_features(
    con: DuckDBBackend,
    *,
    progress: bool = True,
    workers: int | None = None,
) -> int:
    """Feature every stored prompt not featured yet; returns the exchanges featured since the
    last call (all of them the first time).

    The text work is done once per distinct (prompt, system prompt) pair: the store's
    ``prompts`` not yet in :data:`PROMPT_FEATURES` are listed, worker processes compute
    their features (:func:`pair_features_batch`; ``workers`` defaults to one per core, at
    most :data:`MAX_WORKERS`, when there are many pairs) and they are appended.  Every
    exchange is featured through the view ``exchange_features``
    (:func:`exchange_features_sql`) as soon as its pair is, so a rerun after new ingestion
    only features the new prompts, and a prompt seen on an earlier day is not featured
    again.
    """
    duck = con.con
    _drop_outdated_features(con)
    _ensure_tables(con)
    duck.execute(
        f"CREATE OR REPLACE TABLE {_PAIRS} AS SELECT p.* FROM {PROMPTS_TABLE} p "
        f"ANTI JOIN {PROMPT_FEATURES} q ON q.pair_id = p.pair_id"
    )
    pair_count = int(duck.execute(f"SELECT count(*) FROM {_PAIRS}").fetchone()[0])
    reader = duck.cursor().execute(f"SELECT * FROM {_PAIRS}").to_arrow_reader(PAIR_BATCH)
    if workers is None:
        workers = min(os.cpu_count() or 1, MAX_WORKERS) if pair_count >= PARALLEL_MIN_PAIRS else 1
    computed = (
        batches_in_processes(pair_features_batch, reader, workers)
        if workers > 1
        else map(pair_features_batch, reader)
    )
    started = time.perf_counter()
    done = 0
    for batch in computed:
        append_arrow(con, PROMPT_FEATURES, batch)
        done += batch.num_rows
        if progress:
            rate = done / max(time.perf_counter() - started, 1e-9)
            print(
                f"features: {done:,} of {pair_count:,} distinct prompts ({rate:,.0f}/s)",
                file=sys.stderr,
            )
    duck.execute(f"DROP TABLE IF EXISTS {_PAIRS}")
    stored = int(duck.execute("SELECT count(*) FROM exchanges").fetchone()[0])
    featured = stored - _featured_before(con)
    _record_version(con, stored)
    return featured
