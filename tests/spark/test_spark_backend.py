"""The relational stages give the same per-account results on DuckDB and on local Spark.

One small simulated input is ingested into the embedded store as usual; the same canonical
rows are loaded into a local Spark session (one per module: starting Spark dominates), the
features are computed both ways (the same ``features_for_batch``, under ``mapInArrow`` on
Spark), and every Ibis stage the detectors build is run on both and compared, sorted by
key, floats within a tolerance.

The one engine difference left is in how results come back: Spark's TIMESTAMP has no zone
(it is UTC, the session's zone), DuckDB's has one; engine/timestamps.py makes both UTC.
"""

from __future__ import annotations

import importlib.util
import math
import shutil
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import pandas as pd
import pytest

from distillguard.detectors.behaviour import DETECTORS as BEHAVIOUR
from distillguard.detectors.behaviour.frame import account_frame
from distillguard.detectors.context import ScanContext
from distillguard.detectors.coordination import DETECTORS as COORDINATION
from distillguard.detectors.coordination import CoordinationConfig, find_clusters
from distillguard.detectors.coordination.edges import account_universe, activity_buckets
from distillguard.detectors.coordination.views import VIEWS
from distillguard.detectors.drift import DETECTORS as DRIFT
from distillguard.detectors.drift import cluster_pivot, detect_releases
from distillguard.engine.store import open_store
from distillguard.engine.timestamps import utc_columns
from distillguard.features.exchange_features import compute_exchange_features
from distillguard.ingest import ingest_files
from distillguard.sim.writer import simulate

pytestmark = [
    pytest.mark.slow,
    # pyspark 4.0 calls pandas' astype(copy=False), deprecated in pandas 3: noise, not ours.
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

RELATIVE = 1e-9
ABSOLUTE = 1e-9
FEATURE_TOLERANCE = 1e-6
"""Prompt-signal probabilities are float32; Spark hands them back as float32 too, but the
classifier runs on batches cut differently, so allow float32 rounding."""


def _spark_or_skip() -> None:
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed (pip install 'distillguard[spark]')")
    if shutil.which("java") is None:
        pytest.skip("no Java runtime on PATH (Spark needs Java 17 or newer)")


@pytest.fixture(scope="module")
def contexts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ScanContext, ScanContext]]:
    """(DuckDB context, Spark context) over the same ingested rows and features."""
    _spark_or_skip()
    from distillguard.engine import spark

    root = tmp_path_factory.mktemp("spark")
    sim = root / "sim"
    simulate(sim, seed=3, exchanges=3000, scenario_name="reported-2026", progress=False)
    store = open_store(None)
    ingest_files(
        store,
        [sim / "exchanges.jsonl"],
        [sim / "accounts.jsonl"],
        quarantine_path=root / "quarantine.jsonl",
        progress=False,
    )
    compute_exchange_features(store, progress=False)
    backend = spark.connect_spark(
        spark.spark_session(spark.SparkSettings(small_input=True), root / "scratch")
    )
    try:
        spark.load_canonical_tables(store, backend, root / "tables")
        spark.compute_exchange_features_spark(backend, root / "tables")
        yield ScanContext(store), ScanContext(backend)
    finally:
        spark.stop_spark(backend)


def _assert_frames_equal(duck: pd.DataFrame, spark: pd.DataFrame, keys: list[str]) -> None:
    assert list(duck.columns) == list(spark.columns)
    assert len(duck) == len(spark) > 0
    duck = utc_columns(duck.copy()).sort_values(keys, ignore_index=True)
    spark = utc_columns(spark.copy()).sort_values(keys, ignore_index=True)
    for name in duck.columns:
        left, right = duck[name], spark[name]
        if pd.api.types.is_float_dtype(left) or pd.api.types.is_float_dtype(right):
            pd.testing.assert_series_equal(
                left.astype("float64"),
                right.astype("float64"),
                check_exact=False,
                rtol=RELATIVE,
                atol=ABSOLUTE,
                check_names=False,
            )
        else:
            assert left.astype(object).tolist() == right.astype(object).tolist(), name


def _difference(left: Any, right: Any, where: str = "") -> str | None:
    """Where two nested results differ (floats within a tolerance), or None when equal."""
    if isinstance(left, float) or isinstance(right, float):
        if (
            left is None
            or right is None
            or not math.isclose(float(left), float(right), rel_tol=RELATIVE, abs_tol=ABSOLUTE)
        ):
            return f"{where}: {left!r} != {right!r}"
        return None
    if isinstance(left, dict) and isinstance(right, dict):
        if left.keys() != right.keys():
            return f"{where}: keys {sorted(left)} != {sorted(right)}"
        found = (_difference(left[k], right[k], f"{where}.{k}") for k in left)
        return next((d for d in found if d is not None), None)
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        if len(left) != len(right):
            return f"{where}: {len(left)} items != {len(right)}"
        pairs = enumerate(zip(left, right, strict=True))
        found = (_difference(a, b, f"{where}[{i}]") for i, (a, b) in pairs)
        return next((d for d in found if d is not None), None)
    return None if left == right else f"{where}: {left!r} != {right!r}"


def test_features_are_the_same_computed_on_spark(
    contexts: tuple[ScanContext, ScanContext],
) -> None:
    duck, spark = (c.con.to_pandas(c.con.table("exchange_features")) for c in contexts)
    duck = utc_columns(duck.copy()).sort_values("exchange_id", ignore_index=True)
    spark = utc_columns(spark.copy()).sort_values("exchange_id", ignore_index=True)
    assert len(duck) == len(spark) > 2000
    for name in duck.columns:
        if name.startswith("p_"):
            assert (duck[name] - spark[name]).abs().max() <= FEATURE_TOLERANCE, name
        elif name in ("lsh_bands", "instruction_sentences"):
            assert [list(v) for v in duck[name]] == [list(v) for v in spark[name]]
        else:
            assert duck[name].tolist() == spark[name].tolist(), name


def test_account_frame_is_the_same_on_spark(contexts: tuple[ScanContext, ScanContext]) -> None:
    duck, spark = (account_frame(c).reset_index(drop=True) for c in contexts)
    assert len(duck) > 100
    _assert_frames_equal(duck, spark, ["account_id"])


def test_coordination_views_are_the_same_on_spark(
    contexts: tuple[ScanContext, ScanContext],
) -> None:
    cfg = CoordinationConfig()
    duck, spark = contexts
    for view in VIEWS:
        rows = [view.query(c.con, cfg).execute() for c in contexts]
        assert list(rows[0].columns) == ["account_id", "value"], view.name
        assert sorted(rows[0].itertuples(index=False)) == sorted(rows[1].itertuples(index=False)), (
            view.name
        )
    assert account_universe(duck.con) == account_universe(spark.con)
    index = {a: i for i, a in enumerate(account_universe(duck.con))}
    (duck_buckets, duck_span), (spark_buckets, spark_span) = (
        activity_buckets(c.con, cfg, index) for c in contexts
    )
    assert duck_span == spark_span
    assert duck_buckets.keys() == spark_buckets.keys()
    assert all((duck_buckets[k] == spark_buckets[k]).all() for k in duck_buckets)


def _profiles(context: ScanContext) -> dict[str, dict[str, Any]]:
    findings = find_clusters(context)
    return {cid: asdict(profile) for cid, profile in findings.profiles.items()}


def test_clusters_and_their_profiles_are_the_same_on_spark(
    contexts: tuple[ScanContext, ScanContext],
) -> None:
    duck, spark = (find_clusters(c) for c in contexts)
    assert duck.clusters == spark.clusters
    assert len(duck.clusters) > 0
    assert duck.first_seen == spark.first_seen
    assert duck.last_seen == spark.last_seen
    assert _difference(_profiles(contexts[0]), _profiles(contexts[1])) is None


def _evidence(context: ScanContext) -> list[dict[str, Any]]:
    detectors: list[Any] = [*BEHAVIOUR, *DRIFT, *COORDINATION]
    found = [asdict(item) for detector in detectors for item in detector.detect(context)]
    clusters = find_clusters(context).clusters
    found.extend(asdict(item) for item in cluster_pivot(context, clusters))
    return sorted(found, key=lambda e: (e["detector"], e["subject"]))


def test_detector_evidence_is_the_same_on_spark(
    contexts: tuple[ScanContext, ScanContext],
) -> None:
    duck, spark = contexts
    assert detect_releases(duck) == detect_releases(spark)
    duck_evidence, spark_evidence = _evidence(duck), _evidence(spark)
    assert len(duck_evidence) > 10
    assert {e["detector"] for e in duck_evidence} >= {"DG-401", "DG-501"}
    assert [(e["detector"], e["subject"]) for e in duck_evidence] == [
        (e["detector"], e["subject"]) for e in spark_evidence
    ]
    assert _difference(duck_evidence, spark_evidence) is None
