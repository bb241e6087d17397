"""The scale-out engine: a local Spark session behind Ibis, fed the store's canonical tables.

The relational stages are Ibis expressions, so they run on Spark unchanged once Spark holds
the tables ``exchanges``, ``prompts``, ``accounts``, ``prompt_features`` and the view
``exchange_features`` under those names.  This module starts the session (``local[2]`` by
default, small memory, UTC, no UI, bound to 127.0.0.1), copies the canonical tables in
through Parquet (DuckDB writes and Spark reads them in streams, so neither side holds a
whole table in memory), computes each distinct prompt's features on Spark with
``mapInArrow`` over the very function the embedded route uses,
:func:`~distillguard.features.exchange_features.pair_features_batch`, and defines
``exchange_features`` with the embedded route's SQL.

pyspark is an optional extra (``distillguard[spark]``) and needs a Java runtime; both are
checked before anything starts, with a clear error when one is missing.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from distillguard.engine.derived import ACCOUNT_PROMPT_USES, USES_SQL
from distillguard.engine.store import TABLE_SCHEMAS
from distillguard.errors import UserError
from distillguard.features.exchange_features import (
    PROMPT_FEATURE_ROW,
    PROMPT_FEATURES,
    exchange_features_sql,
    pair_features_batch,
)
from distillguard.features.exchange_features import TABLE as FEATURES_TABLE
from distillguard.schema.prompts import PROMPT_SCHEMA, PROMPTS_TABLE

if TYPE_CHECKING:
    from ibis.backends import BaseBackend
    from ibis.backends.duckdb import Backend as DuckDBBackend
    from ibis.backends.pyspark import Backend as PySparkBackend
    from pyspark.sql import DataFrame, SparkSession

SPARK_EXTRA_HINT = "install with pip install 'distillguard[spark]'"
CANONICAL_TABLES = ("exchanges", PROMPTS_TABLE, "accounts")
"""Tables copied from the store; the features are computed on Spark itself."""


@dataclass(frozen=True)
class SparkSettings:
    """How the local session is sized.  Small by default: CI runs it on two shared cores."""

    master: str = "local[2]"
    driver_memory: str = "1g"
    shuffle_partitions: int = 4
    """Spark's default of 200 shuffle partitions is meant for clusters; locally each one is
    a task to schedule, which dominates small inputs."""
    arrow_batch_rows: int = 10_000
    """Rows per Arrow batch handed to ``pair_features_batch`` (bounds a worker's memory)."""
    app_name: str = "distillguard"
    small_input: bool = False
    """Tune for a small input (a test, a demo): the JVM compiles with its quick compiler
    only and collects garbage on one thread, and Spark interprets plans instead of
    generating Java for them.  Start-up and per-query compilation dominate small inputs;
    on large ones leave this off."""

    def options(self, scratch: Path) -> dict[str, str]:
        """The session's configuration, ``scratch`` holding its warehouse and spill files."""
        options = {
            "spark.driver.memory": self.driver_memory,
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.driver.host": "127.0.0.1",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.shuffle.partitions": str(self.shuffle_partitions),
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            "spark.sql.execution.arrow.maxRecordsPerBatch": str(self.arrow_batch_rows),
            "spark.sql.warehouse.dir": str(scratch / "warehouse"),
            "spark.local.dir": str(scratch / "tmp"),
        }
        java = [f"-Dlog4j2.configurationFile={scratch / 'log4j2.properties'}"]
        if self.small_input:
            java += ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
            options["spark.sql.codegen.wholeStage"] = "false"
            options["spark.sql.shuffle.partitions"] = "2"
        options["spark.driver.extraJavaOptions"] = " ".join(java)
        return options


QUIET_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = stderr
appender.console.type = Console
appender.console.name = stderr
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""
"""Spark's own logging at ERROR from the first line (its default profile starts at WARN and
announces itself); written into the session's scratch folder."""


def require_spark() -> None:
    """Fail early, in words, when pyspark or a Java runtime is missing."""
    if importlib.util.find_spec("pyspark") is None:
        raise UserError(f"the pyspark engine needs the spark extra: {SPARK_EXTRA_HINT}")
    java_home = os.environ.get("JAVA_HOME")
    has_java = shutil.which("java") is not None or (
        java_home is not None and (Path(java_home) / "bin" / "java").is_file()
    )
    if not has_java:
        raise UserError(
            "the pyspark engine needs a Java runtime (17 or newer): install one "
            "(e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
        )


def spark_session(settings: SparkSettings, scratch: Path) -> SparkSession:
    """A local Spark session for one scan; ``scratch`` holds its warehouse and spill files."""
    require_spark()
    from pyspark.sql import SparkSession

    # Workers must import distillguard from the same environment as the driver.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "log4j2.properties").write_text(QUIET_LOG4J, encoding="utf-8")
    logging.getLogger("py4j").setLevel(logging.ERROR)
    builder: Any = SparkSession.builder.master(settings.master).appName(settings.app_name)
    for key, value in settings.options(scratch).items():
        builder = builder.config(key, value)
    session: SparkSession = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def connect_spark(session: SparkSession) -> PySparkBackend:
    """The Ibis backend over ``session``."""
    import ibis

    backend: PySparkBackend = ibis.pyspark.connect(session)
    return backend


def spark_schema(schema: pa.Schema) -> Any:
    """The Spark struct type of an Arrow schema (timestamps with a zone become TIMESTAMP)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


def _session_of(backend: PySparkBackend) -> SparkSession:
    session: SparkSession = backend._session
    return session


def _register(backend: PySparkBackend, name: str, path: Path, schema: pa.Schema) -> DataFrame:
    frame = _session_of(backend).read.schema(spark_schema(schema)).parquet(str(path))
    frame.createOrReplaceTempView(name)
    return frame


def load_canonical_tables(store: DuckDBBackend, backend: PySparkBackend, staging: Path) -> None:
    """Copy ``exchanges``, ``prompts`` and ``accounts`` from the store into Spark, as temp
    views.

    The store writes each table to Parquet under ``staging`` and Spark reads it with the
    canonical schema (schema/tables.py), so column types are the same on both engines.
    ``staging`` must outlive the Spark session's use of the tables.
    """
    staging.mkdir(parents=True, exist_ok=True)
    for name in CANONICAL_TABLES:
        schema = TABLE_SCHEMAS[name]
        path = staging / f"{name}.parquet"
        store.to_parquet(store.table(name).select(*schema.names), path)
        _register(backend, name, path, schema)


def _features_of_partition(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` body: the embedded route's pair feature function, batch by batch.

    Spark may hand strings as large strings; batches are cast to the store's types first
    so that the function sees exactly what the embedded route gives it.
    """
    inputs = pa.schema([field.with_nullable(True) for field in PROMPT_SCHEMA])
    for batch in batches:
        yield pair_features_batch(batch.select(PROMPT_SCHEMA.names).cast(inputs))


def compute_exchange_features_spark(backend: PySparkBackend, staging: Path) -> int:
    """Compute ``prompt_features`` on Spark, define ``exchange_features`` over it and
    return the exchanges featured (all of them: a Spark session starts from nothing).

    Features are written once to Parquet and read back, so later queries read them instead
    of running the feature function again (Spark plans are lazy).
    """
    session = _session_of(backend)
    prompts = session.table(PROMPTS_TABLE).select(*PROMPT_SCHEMA.names)
    featured = prompts.mapInArrow(_features_of_partition, spark_schema(PROMPT_FEATURE_ROW))
    path = staging / f"{PROMPT_FEATURES}.parquet"
    featured.write.mode("overwrite").parquet(str(path))
    _register(backend, PROMPT_FEATURES, path, PROMPT_FEATURE_ROW)
    view = session.sql(exchange_features_sql(list_length="size"))
    view.createOrReplaceTempView(FEATURES_TABLE)
    session.sql(USES_SQL).createOrReplaceTempView(ACCOUNT_PROMPT_USES)
    rows: int = view.count()
    return rows


def stop_spark(backend: BaseBackend) -> None:
    """Stop the session behind a Spark backend (a no-op for other backends)."""
    session = getattr(backend, "_session", None)
    if session is not None:
        session.stop()
