"""Choosing the engine: known names, clear errors when Spark cannot run, UTC timestamps back.

These run without Spark; tests/spark/ runs the stages on a real local session.
"""

from __future__ import annotations

import importlib.util
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from distillguard.cli.main import main
from distillguard.engine import spark
from distillguard.engine.backends import ENGINES, check_engine, relational_backend
from distillguard.engine.store import open_store
from distillguard.engine.timestamps import as_utc, utc_columns
from distillguard.errors import UserError


def test_known_engines_pass_and_others_are_named_in_the_error() -> None:
    assert [check_engine(name) for name in ENGINES] == ["duckdb", "pyspark"]
    with pytest.raises(UserError, match="unknown engine 'spork'; use one of duckdb, pyspark"):
        check_engine("spork")


def test_duckdb_backend_is_the_store_with_features(tmp_path: Path) -> None:
    store = open_store(None)
    with relational_backend("duckdb", store) as backend:
        assert backend.con is store
        assert backend.featured == 0
        assert "exchange_features" in store.list_tables()


def test_missing_spark_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "pyspark" else real(name)
    )
    with pytest.raises(UserError, match=r"pip install 'distillguard\[spark\]'"):
        spark.require_spark()


def test_missing_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(UserError, match="needs a Java runtime"):
        spark.require_spark()


def test_scan_rejects_an_unknown_engine(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["scan", "--exchanges", "x.jsonl", "--out", "out", "--engine", "spork"])
    assert "invalid choice: 'spork'" in capsys.readouterr().err


def test_timestamps_come_back_in_utc_from_either_engine() -> None:
    moment = datetime(2026, 10, 1, 7, 43, 3, 898000, tzinfo=UTC)
    assert as_utc(pd.Timestamp("2026-10-01 07:43:03.898")) == moment
    assert as_utc(pd.Timestamp("2026-10-01 09:43:03.898+02:00")) == moment
    spark_like = pd.DataFrame({"ts": pd.to_datetime(["2026-10-01 07:43:03.898"]), "n": [1]})
    duck_like = pd.DataFrame(
        {"ts": pd.to_datetime(["2026-10-01 07:43:03.898"]).tz_localize("UTC"), "n": [1]}
    )
    pd.testing.assert_frame_equal(utc_columns(spark_like), utc_columns(duck_like))
    assert str(utc_columns(spark_like)["ts"].dtype) == "datetime64[us, UTC]"
