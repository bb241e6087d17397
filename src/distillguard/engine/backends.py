"""Pick the engine the relational stages run on, by name: ``duckdb`` or ``pyspark``.

Ingestion always writes the embedded DuckDB store (it validates and quarantines row by row).
With ``duckdb`` the detectors read that store directly.  With ``pyspark`` the store's
canonical tables are handed to a local Spark session and the features are computed there,
so every Ibis stage after ingestion runs on Spark (see engine/spark.py and
docs/scale-out.md).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING

from distillguard.errors import UserError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ibis.backends import BaseBackend
    from ibis.backends.duckdb import Backend as DuckDBBackend

ENGINES = ("duckdb", "pyspark")
"""Engine names accepted by :func:`relational_backend` (and ``scan --engine``)."""


def check_engine(name: str) -> str:
    """``name`` when it is a known engine, else a UserError listing the known ones."""
    if name not in ENGINES:
        raise UserError(f"unknown engine {name!r}; use one of {', '.join(ENGINES)}")
    return name


@dataclass(frozen=True)
class RelationalBackend:
    """Where the detectors read: the Ibis backend and how many exchanges it featured."""

    con: BaseBackend
    featured: int
    """Exchanges whose features were computed for this scan (new ones only on DuckDB)."""


@contextmanager
def relational_backend(
    engine: str, store: DuckDBBackend, *, progress: bool = False
) -> Iterator[RelationalBackend]:
    """The backend the relational stages run on, with ``exchange_features`` in place.

    ``duckdb``: the store itself, featured incrementally.  ``pyspark``: a local Spark
    session holding copies of the store's canonical tables and features computed on
    Spark; the session and its staging files are gone when the block ends.
    """
    check_engine(engine)
    if engine == "duckdb":
        from distillguard.engine.derived import create_account_prompt_uses_duckdb
        from distillguard.features.exchange_features import compute_exchange_features

        featured = compute_exchange_features(store, progress=progress)
        create_account_prompt_uses_duckdb(store.con)
        yield RelationalBackend(store, featured)
        return
    from distillguard.engine import spark

    spark.require_spark()
    with TemporaryDirectory(prefix="distillguard-spark-") as scratch:
        root = Path(scratch)
        backend = spark.connect_spark(spark.spark_session(spark.SparkSettings(), root))
        try:
            spark.load_canonical_tables(store, backend, root / "tables")
            featured = spark.compute_exchange_features_spark(backend, root / "tables")
            yield RelationalBackend(backend, featured)
        finally:
            spark.stop_spark(backend)
