"""Every results directory we write follows CONTRACT.md's "Outputs" section exactly."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from distillguard.engine.store import append_arrow, open_store
from distillguard.evaluation.baselines import BASELINES, run_baseline
from distillguard.results import (
    AccountResult,
    ClusterResult,
    Indicator,
    Reason,
    read_results,
    write_results,
)
from distillguard.schema import EXCHANGE_SCHEMA

ACCOUNT_FIELDS = {"account_id", "score", "verdict", "cluster_id", "reasons"}
CLUSTER_FIELDS = {
    "cluster_id", "account_ids", "score", "verdict", "exchanges", "capabilities",
    "first_seen", "last_seen", "reasons", "indicators",
}  # fmt: skip
REASON_FIELDS = {"detector", "summary", "weight"}
VERDICTS = {"benign", "review", "distillation"}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
T0 = datetime(2026, 4, 1, tzinfo=UTC)


def _store() -> Any:
    rows = []
    for k in range(12):
        count = 2000 if k == 0 else 5 + k
        for i in range(count):
            rows.append(
                {
                    "exchange_id": f"{k}-{i}",
                    "ts": T0 + timedelta(seconds=(1 if k == 0 else 3000 + 97 * k) * i),
                    "account_id": f"acct-{k:02d}",
                    "model": "m",
                    "messages": '[{"role":"user","content":"q"}]',
                    "n_messages": 1 if k == 0 else 1 + i % 4,
                    "prompt_text": "q",
                    "input_tokens": 30 + k,
                    "output_tokens": 900 if k == 0 else 100 + i,
                    "source_file": "x.jsonl",
                    "source_line": i,
                }
            )
    con = open_store(None)
    append_arrow(con, "exchanges", pa.Table.from_pylist(rows, schema=EXCHANGE_SCHEMA))
    return con


def _check_reasons(reasons: list[dict[str, Any]]) -> None:
    assert isinstance(reasons, list)
    for reason in reasons:
        assert set(reason) == REASON_FIELDS
        assert isinstance(reason["detector"], str) and reason["detector"]
        assert isinstance(reason["summary"], str) and reason["summary"]
        assert isinstance(reason["weight"], int | float)
    weights = [abs(r["weight"]) for r in reasons]
    assert weights == sorted(weights, reverse=True), "reasons must be strongest first"


def check_results_directory(directory: Path) -> dict[str, Any]:
    """Assert the four contract files exist and every line has the contract's fields."""
    for name in ("accounts.jsonl", "clusters.jsonl", "summary.json", "report.html"):
        assert (directory / name).is_file(), name
    accounts = [orjson.loads(x) for x in (directory / "accounts.jsonl").read_bytes().splitlines()]
    assert [a["account_id"] for a in accounts] == sorted(a["account_id"] for a in accounts)
    for account in accounts:
        assert set(account) == ACCOUNT_FIELDS
        assert isinstance(account["account_id"], str)
        assert isinstance(account["score"], int | float) and 0 <= account["score"] <= 1
        assert account["verdict"] in VERDICTS
        assert account["cluster_id"] is None or isinstance(account["cluster_id"], str)
        _check_reasons(account["reasons"])
    for raw in (directory / "clusters.jsonl").read_bytes().splitlines():
        cluster = orjson.loads(raw)
        assert set(cluster) == CLUSTER_FIELDS
        assert 0 <= cluster["score"] <= 1 and cluster["verdict"] in VERDICTS
        assert isinstance(cluster["exchanges"], int) and cluster["exchanges"] >= 0
        assert all(isinstance(x, str) for x in cluster["account_ids"] + cluster["capabilities"])
        for key in ("first_seen", "last_seen"):
            assert cluster[key] is None or RFC3339.match(cluster[key]), cluster[key]
        _check_reasons(cluster["reasons"])
        assert all(isinstance(i, dict) for i in cluster["indicators"])
    summary: dict[str, Any] = orjson.loads((directory / "summary.json").read_bytes())
    assert summary["contract_version"] == 1
    counts = summary["counts"]
    assert counts["accounts"] == len(accounts)
    assert sum(counts["verdicts"].values()) == len(accounts)
    html = (directory / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script|<link|src=|@import|url\(", html), "report must be offline"
    read_results(directory)  # our own reader accepts it
    return summary


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_baseline_outputs_follow_the_contract(name: str, tmp_path: Path) -> None:
    con = _store()
    summary = run_baseline(name, con, tmp_path)
    assert check_results_directory(tmp_path) == summary
    assert (tmp_path / "clusters.jsonl").read_bytes() == b""  # baselines do not cluster
    assert summary["counts"]["clusters"] == 0
    assert summary["baseline"]["name"] == name
    assert isinstance(summary["baseline"]["parameters"], dict)
    assert all(v >= 0 for v in summary["wall_time_s"].values())


def test_written_clusters_follow_the_contract(tmp_path: Path) -> None:
    write_results(
        tmp_path,
        [
            AccountResult("a", 0.91, "distillation", "k1", [Reason("DG-101", "template", 0.9)]),
            AccountResult("b", 0.88, "distillation", "k1"),
            AccountResult("c", 0.0, "benign"),
        ],
        [
            ClusterResult(
                "k1", ["a", "b"], 0.9, "distillation", 4200, ["reasoning"],
                T0, T0 + timedelta(days=3, microseconds=5),
                [Reason("DG-201", "two accounts share one payment fingerprint", 0.7)],
                [Indicator("payment_fingerprint", "pf-1", 2)],
            )
        ],
        {"counts": {"exchanges_read": 4300, "quarantined": 2}},
    )  # fmt: skip
    summary = check_results_directory(tmp_path)
    assert summary["counts"]["exchanges_read"] == 4300
    assert summary["counts"]["clusters"] == 1
