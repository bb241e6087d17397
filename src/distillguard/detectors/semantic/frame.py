"""The semantic frame: a bounded, deterministic sample of each account's prompts, embedded once.

Embedding every prompt of 16M exchanges is not needed to describe what an account asks
for, so each account contributes at most ``per_account`` *distinct* prompts:

1. every exchange gets a stable rank, ``xxh64(exchange_id)`` (the same on any machine and in
   any process, unlike Python's ``hash``);
2. per account, the ``oversample × per_account`` exchanges of lowest rank are read from the
   store with their ``prompt_text`` (the last user message, joined from ``prompts``) — a
   uniform sample of the account's traffic, the same in every run;
3. prompts are de-duplicated on a light normal form (case, spacing, digits), keeping the
   lowest-ranked copy, and the first ``per_account`` are embedded with the shipped static
   model (:mod:`distillguard.features.embeddings`).

Counts the sample cannot give (exchanges, distinct prompts over *all* of an account's
traffic) come from one relational aggregate; a distinct prompt there is a distinct
(prompt, system prompt) pair, the store's ``pair_id``.  The frame is built once per scan and
shared by DG-301, DG-302 and DG-303 through :meth:`ScanContext.frame`; its ``attrs`` carry
the embedding matrix (rows aligned with the frame), the per-account table and the reference
sample.

The system prompt is not embedded: an application's fixed system prompt would make all its
requests look alike and hide what is asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import xxhash
from ibis import _

from distillguard.detectors.behaviour.common import check_unit, load_settings
from distillguard.engine.codes import dictionary_codes
from distillguard.engine.derived import account_prompt_uses
from distillguard.features.embeddings import embed
from distillguard.schema.prompts import PROMPTS_TABLE

if TYPE_CHECKING:
    from distillguard.detectors.context import ScanContext

FRAME_NAME = "semantic.prompts"
SETTINGS_ID = "DG-301"
"""The sampling settings are read from DG-301's configuration section (shared by all three)."""
HARVESTABLE = ("reasoning", "coding", "tool_use", "grading", "chinese_exam")
"""Capability tags whose answers a distiller trains on (reasoning traces, code, trajectories,
grades, exam answers); ``chat``, ``chinese_chat`` and ``complex_instruction`` are the rest."""
TEXT_CHARS = 1_000
"""Characters of each prompt read from the store (the embedder reads at most 256 tokens)."""

_DIGITS = re.compile(r"\d+")
_ASCII_DIGITS = b"0123456789"

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SampleSettings:
    """How many prompts per account are embedded (bounded cost: accounts × per_account)."""

    per_account: int = 48
    oversample: int = 3
    reference_per_account: int = 4
    """Prompts each account gives to the scan's own reference sample (so no account, however
    large, dominates it)."""
    reference_size: int = 600
    """Prompts drawn from the scan's traffic for the reference (plus the bundled sample)."""
    bundled_share: float = 0.5
    """Share of the reference taken from the bundled benign collections."""

    def __post_init__(self) -> None:
        if self.per_account < 4 or self.oversample < 1:
            raise ValueError("per_account must be at least 4 and oversample at least 1")
        if self.reference_per_account < 1 or self.reference_size < 50:
            raise ValueError("reference_per_account >= 1 and reference_size >= 50 needed")
        check_unit(SETTINGS_ID, "bundled_share", self.bundled_share)


def sample_settings(context: ScanContext) -> SampleSettings:
    """The sampling part of DG-301's settings (the other keys belong to the detector)."""
    values = {
        k: v
        for k, v in context.settings(SETTINGS_ID).items()
        if k in SampleSettings.__dataclass_fields__
    }
    return load_settings(SampleSettings, SETTINGS_ID, values)


RANK_CHUNK = 1 << 20
"""Ids turned into Python strings at a time for :func:`stable_rank` (16M exchange ids as
Python strings at once would hold about a gigabyte)."""


def stable_rank(ids: pa.Array | pa.ChunkedArray | list[str]) -> npt.NDArray[np.uint64]:
    """``xxh64`` of each id: a rank that is the same on every machine and run."""
    if isinstance(ids, list):
        ids = pa.array(ids, pa.string())
    ranks = np.empty(len(ids), dtype=np.uint64)
    for start in range(0, len(ids), RANK_CHUNK):
        chunk = ids.slice(start, RANK_CHUNK).to_pylist()
        ranks[start : start + len(chunk)] = np.fromiter(
            map(xxhash.xxh64_intdigest, map(str.encode, chunk)), dtype=np.uint64, count=len(chunk)
        )
    return ranks


def prompt_key(text: str) -> int:
    """Hash of a light normal form: repeats differing only in case, spacing or numbers match.

    The form is the casefolded text without its digits, words joined by one space; ASCII
    text (most prompts) goes through ``bytes`` methods, many times faster than a regex pass.
    """
    folded = text.casefold()
    if folded.isascii():
        light = b" ".join(folded.encode("ascii").translate(None, _ASCII_DIGITS).split())
    else:
        light = " ".join(_DIGITS.sub("", folded).split()).encode("utf-8")
    return int(xxhash.xxh64_intdigest(light))


def _pick(
    accounts: npt.NDArray[Any], ranks: npt.NDArray[np.uint64], per_account: int
) -> npt.NDArray[np.int64]:
    """Positions of the ``per_account`` lowest ranks of each account."""
    order = np.lexsort((ranks, accounts))
    sorted_accounts = accounts[order]
    starts = np.r_[0, np.flatnonzero(sorted_accounts[1:] != sorted_accounts[:-1]) + 1]
    position = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    chosen: npt.NDArray[np.int64] = order[position < per_account]
    return chosen


def _account_counts(context: ScanContext) -> pd.DataFrame:
    uses = account_prompt_uses(context.con)
    table = uses.group_by("account_id").aggregate(
        exchanges=_.uses.sum(), distinct_prompts=_.pair_id.count()
    )
    frame = context.con.to_pandas(table.order_by("account_id"))
    return frame.set_index("account_id", drop=False)


def _build(context: ScanContext) -> pd.DataFrame:
    from distillguard.features.embeddings import semantic_reference

    settings = sample_settings(context)
    con = context.con
    chosen = _oversample(con, settings)
    pairs = np.asarray(chosen.column("pair_id"), dtype=np.int64)
    # Texts are read and keyed once per distinct prompt of the sample, not once per sampled
    # request: at 16M exchanges the oversampled requests' texts took gigabytes.
    pair_ids, pair_texts, pair_keys = _prompt_texts(con, pairs)
    where = np.searchsorted(pair_ids, pairs)
    row_keys = pair_keys[where]
    sample = pd.DataFrame({"account": np.asarray(chosen.column("account")), "key": row_keys})
    sample = sample.drop_duplicates(["account", "key"], keep="first")
    kept = sample.groupby("account", sort=True).head(settings.per_account).index.to_numpy()
    rows = pa.array(kept, pa.int64())
    # The key column's type is what pandas gives all the sample's keys as Python integers.
    big = bool(len(row_keys)) and int(row_keys.max()) > np.iinfo(np.int64).max
    texts = pd.DataFrame(
        {
            "account_id": chosen.column("account_id").take(rows).to_pandas(),
            "exchange_id": chosen.column("exchange_id").take(rows).to_pandas(),
            "rank": np.asarray(chosen.column("rank"), dtype=np.uint64)[kept],
            "key": row_keys[kept].astype(np.uint64 if big else np.int64),
        }
    )
    del chosen, sample
    vectors = _embedded(pair_texts, where[kept])
    reference = semantic_reference()
    if len(texts):
        similarity = vectors @ reference.centroids.T
        best = similarity.argmax(axis=1)
        texts["tag"] = [reference.labels[i] for i in best]
        texts["tag_similarity"] = similarity[np.arange(len(texts)), best]
    else:
        texts["tag"] = pd.Series(dtype=object)
        texts["tag_similarity"] = pd.Series(dtype=float)
    texts["harvestable"] = texts["tag"].isin(HARVESTABLE)
    # The reference is drawn before the attrs are attached: pandas copies a frame's attrs
    # into every frame derived from it, and the embeddings there took 1.4 GB at 16M.
    drawn = _reference(texts, vectors, reference.benign, settings)
    texts.attrs["embeddings"] = vectors
    texts.attrs["accounts"] = _account_counts(context)
    texts.attrs["reference"] = drawn
    return texts


def _embedded(pair_texts: list[str], rows: npt.NDArray[np.int64]) -> FloatArray:
    """The embedding of each sampled row's prompt, ``rows`` giving its position in
    ``pair_texts``; each distinct prompt is embedded once.

    The texts never pass through a pandas column: pandas stores strings as Arrow strings,
    and a test column of 6M 300-character texts held 2.0 GB (3.7 GB while it was built);
    at 16M exchanges the sample is 6M rows of 147k distinct prompts, and the column was
    read once."""
    if not len(rows):
        return np.zeros((0, 1), np.float32)
    needed, position = np.unique(rows, return_inverse=True)
    vectors: FloatArray = embed([pair_texts[i] for i in needed.tolist()])
    return vectors[position.reshape(-1)]


def _oversample(con: Any, settings: SampleSettings) -> pa.Table:
    """Each account's ``oversample × per_account`` lowest-ranked exchanges in the frame's
    order (account id, rank, exchange id): ``account_id``, ``exchange_id``, ``rank``,
    ``pair_id`` and ``account`` (an integer code of the account).  Every exchange's ids are
    held only in here: at 16M they are about a gigabyte, freed before the embedding."""
    ids = con.to_pyarrow(con.table("exchanges").select("account_id", "exchange_id", "pair_id"))
    # The columns stay in DuckDB's chunks: combining them into one array each would hold
    # every exchange's ids twice (at 16M, 1 GB more at the frame's peak).
    accounts = ids.column("account_id")
    # Integer codes group the rows as the ids would, and sort far faster than strings.
    account_codes, dictionary = dictionary_codes(accounts)
    exchange_ids = ids.column("exchange_id")
    ranks = stable_rank(exchange_ids)
    chosen = _pick(account_codes, ranks, settings.per_account * settings.oversample)
    chosen = _in_frame_order(chosen, account_codes, dictionary, ranks, exchange_ids)
    taken = pa.array(chosen, pa.int64())
    return pa.table(
        {
            "account_id": accounts.take(taken).combine_chunks(),
            "exchange_id": exchange_ids.take(taken).combine_chunks(),
            "rank": pa.array(ranks[chosen], pa.uint64()),
            "pair_id": ids.column("pair_id").take(taken).combine_chunks(),
            "account": pa.array(account_codes[chosen], pa.int64()),
        }
    )


def _in_frame_order(
    chosen: npt.NDArray[np.int64],
    account_codes: npt.NDArray[np.int64],
    accounts: pa.Array,
    ranks: npt.NDArray[np.uint64],
    exchange_ids: pa.Array | pa.ChunkedArray,
) -> npt.NDArray[np.int64]:
    """``chosen`` sorted by account id (as text), rank, then exchange id: the frame's order."""
    account_order = np.empty(len(accounts), dtype=np.int64)
    account_order[np.asarray(pc.sort_indices(accounts), dtype=np.int64)] = np.arange(len(accounts))
    by_account = account_order[account_codes[chosen]]
    by_rank = ranks[chosen]
    ordered = chosen[np.lexsort((by_rank, by_account))]
    same = (np.diff(account_order[account_codes[ordered]]) == 0) & (np.diff(ranks[ordered]) == 0)
    if same.any():  # two ids of one account with one rank: the id decides, as text
        keys = exchange_ids.take(pa.array(ordered, pa.int64())).to_pylist()
        final = sorted(
            range(len(ordered)),
            key=lambda i: (
                int(account_order[account_codes[ordered[i]]]),
                int(ranks[ordered[i]]),
                keys[i],
            ),
        )
        ordered = ordered[np.asarray(final, dtype=np.int64)]
    return ordered


def _prompt_texts(
    con: Any, pairs: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], list[str], npt.NDArray[np.uint64]]:
    """The sampled prompts, once each: sorted pair ids, their texts (the first
    :data:`TEXT_CHARS` characters) and :func:`prompt_key` of each text."""
    wanted = ibis.memtable(pa.table({"pair_id": pa.array(np.unique(pairs), pa.int64())}))
    prompts = con.table(PROMPTS_TABLE)
    chosen = prompts.semi_join(wanted, "pair_id")
    table = con.to_pyarrow(
        chosen.select("pair_id", text=chosen.prompt_text.substr(0, TEXT_CHARS))
    ).sort_by("pair_id")
    texts = [str(text) for text in table.column("text").to_pylist()]
    keys = np.fromiter(map(prompt_key, texts), dtype=np.uint64, count=len(texts))
    return np.asarray(table.column("pair_id"), dtype=np.int64), texts, keys


def _reference(
    texts: pd.DataFrame, vectors: FloatArray, bundled: FloatArray, settings: SampleSettings
) -> FloatArray:
    """Benign reference: a trimmed sample of the scan's own prompts plus the bundled one.

    Each account gives at most ``reference_per_account`` prompts (its lowest-ranked ones), so
    the scan part is account-weighted: the bulk of accounts are ordinary customers, and a
    campaign of many accounts still holds a minority share of it.  Selection is by the
    stable rank, so the reference is the same in every run.
    """
    own_size = round(settings.reference_size * (1.0 - settings.bundled_share))
    if len(texts):
        trimmed = texts.groupby("account_id", sort=True).head(settings.reference_per_account)
        order = trimmed.sort_values(["rank", "exchange_id"]).index.to_numpy()[:own_size]
        own = vectors[order]
    else:
        own = np.zeros((0, bundled.shape[1]), np.float32)
    bundled_size = settings.reference_size - len(own)
    step = max(1, len(bundled) // max(bundled_size, 1))
    chosen = bundled[::step][:bundled_size]
    return np.vstack([own, chosen]).astype(np.float32)


def semantic_frame(context: ScanContext) -> pd.DataFrame:
    """One row per sampled distinct prompt: ``account_id``, ``exchange_id``, ``rank``,
    ``key`` (hash of the light normal form), ``tag`` (nearest capability centroid),
    ``tag_similarity``, ``harvestable``.  ``attrs``: ``embeddings`` (unit rows aligned with
    the frame), ``accounts`` (per account ``exchanges`` and ``distinct_prompts`` over all of
    its traffic) and ``reference`` (the benign reference sample)."""
    return context.frame(FRAME_NAME, _build)


def bare(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame's columns without its ``attrs`` (the data is shared, not copied).

    pandas deep-copies a frame's ``attrs`` into every Series taken from it, and the semantic
    frame's attrs hold the embedding of every sampled prompt: at 1M exchanges each
    ``frame[column]`` copied 95 MB (0.1 s), and the copy grows with the log.
    """
    return pd.DataFrame(frame, copy=False)


def account_rows(frame: pd.DataFrame) -> dict[str, npt.NDArray[np.int64]]:
    """Row positions of each account's sampled prompts (ascending), accounts in id order."""
    codes, ids = pd.factorize(bare(frame)["account_id"], sort=True)
    order = np.argsort(codes, kind="stable").astype(np.int64)
    sizes = np.bincount(codes, minlength=len(ids))
    ends = np.cumsum(sizes)
    starts = ends - sizes
    return {str(k): order[start:end] for k, start, end in zip(ids, starts, ends, strict=True)}
