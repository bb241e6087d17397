"""Worker processes and the pair cache give the same features as one process without them."""

from __future__ import annotations

import pyarrow as pa
from test_features_batch import _exchanges, _inputs

from distillguard.engine.store import append_arrow, open_store
from distillguard.features.exchange_features import (
    compute_exchange_features,
    features_for_batch,
)
from distillguard.features.pair_cache import PairCache
from distillguard.schema import EXCHANGE_FEATURE_SCHEMA


def _featured(workers: int) -> pa.Table:
    con = open_store(None)
    append_arrow(con, "exchanges", _exchanges())
    assert compute_exchange_features(con, progress=False, workers=workers) == 21
    # The view's capability is an expression (nullable to the engine), never null.
    table = con.table("exchange_features").to_pyarrow().sort_by("exchange_id")
    return table.cast(EXCHANGE_FEATURE_SCHEMA)


def test_two_workers_give_the_same_table_as_one_process() -> None:
    assert _featured(2).equals(_featured(1))


def test_a_warm_cache_gives_the_same_batch_as_none() -> None:
    batch = _inputs(_exchanges()).to_batches()[0]
    cache = PairCache(entries=3)  # small: entries are dropped and computed again
    first = features_for_batch(batch, cache)
    again = features_for_batch(batch, cache)
    assert first.equals(features_for_batch(batch)) and again.equals(first)
    assert cache.hits > 0 and len(cache) <= 3


def test_distinct_pairs_in_the_store_give_the_same_rows_as_the_batch_path() -> None:
    exchanges = _exchanges()
    by_batch = pa.Table.from_batches(
        [features_for_batch(_inputs(exchanges).combine_chunks().to_batches()[0])]
    ).sort_by("exchange_id")
    assert _featured(1).equals(by_batch)
    assert _featured(2).equals(by_batch)
