"""Baselines on a small synthetic store: a hammering account is caught, quiet ones are not."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest

from distillguard.cli import baseline as baseline_cli
from distillguard.engine.store import append_arrow, open_store
from distillguard.errors import UserError
from distillguard.evaluation.baselines import BASELINES, parse_params, run_baseline
from distillguard.evaluation.isolation_forest import rank_normalise, robust_z
from distillguard.evaluation.rate_limit import RateLimitParams, judge
from distillguard.schema import ACCOUNT_SCHEMA, EXCHANGE_SCHEMA

T0 = datetime(2026, 3, 2, tzinfo=UTC)
HAMMER = "hammer"
QUIET = 30


def _exchange(account: str, index: int, ts: datetime, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "exchange_id": f"{account}-{index}",
        "ts": ts,
        "account_id": account,
        "model": "m-large",
        "messages": '[{"role":"user","content":"hello"}]',
        "n_messages": 1,
        "prompt_text": "hello",
        "source_file": "synthetic.jsonl",
        "source_line": index,
    }
    row.update(extra)
    return row


def build_exchanges(seed: int = 0) -> pa.Table:
    """30 quiet accounts (10–40 requests over a week, office hours) and one hammer
    (1,500 single-turn requests, one every 2 s, rotating 20 IPs, max_tokens always set)."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(QUIET):
        account = f"quiet-{k:02d}"
        for i in range(int(rng.integers(10, 40))):
            ts = T0 + timedelta(
                days=int(rng.integers(0, 7)),
                hours=int(rng.integers(8, 18)),
                seconds=int(rng.integers(0, 3600)),
            )
            turns = int(rng.integers(1, 8))
            rows.append(
                _exchange(
                    account,
                    i,
                    ts,
                    n_messages=turns,
                    model=str(rng.choice(["m-large", "m-small"])),
                    input_tokens=int(rng.integers(50, 2000)),
                    output_tokens=int(rng.integers(50, 800)),
                    client_ip=f"198.51.100.{k}",
                    user_agent="Mozilla/5.0",
                )
            )
    for i in range(1500):
        rows.append(
            _exchange(
                HAMMER,
                i,
                T0 + timedelta(hours=2, seconds=2 * i),
                input_tokens=40,
                output_tokens=3000,
                max_tokens=4096,
                client_ip=f"203.0.113.{i % 20}",
                user_agent="python-httpx/0.27",
            )
        )
    return pa.Table.from_pylist(rows, schema=EXCHANGE_SCHEMA)


def build_store(path: Path | None = None) -> Any:
    con = open_store(path)
    append_arrow(con, "exchanges", build_exchanges())
    signups = [
        {"account_id": f"quiet-{k:02d}", "created_at": T0 - timedelta(days=200 + k),
         "source_file": "accounts.jsonl", "source_line": k + 1}
        for k in range(QUIET)
    ] + [{"account_id": HAMMER, "created_at": T0 + timedelta(hours=1),
          "source_file": "accounts.jsonl", "source_line": QUIET + 1}]  # fmt: skip
    append_arrow(con, "accounts", pa.Table.from_pylist(signups, schema=ACCOUNT_SCHEMA))
    return con


@pytest.fixture(scope="module")
def store() -> Any:
    con = build_store()
    yield con
    con.disconnect()


def _accounts(out: Path) -> dict[str, dict[str, Any]]:
    lines = (out / "accounts.jsonl").read_bytes().splitlines()
    return {row["account_id"]: row for row in map(orjson.loads, lines)}


def test_rate_limit_catches_the_hammer_only(store: Any, tmp_path: Path) -> None:
    summary = run_baseline("rate-limit", store, tmp_path)
    accounts = _accounts(tmp_path)
    hammer = accounts.pop(HAMMER)
    assert hammer["verdict"] == "distillation"
    summaries = [r["summary"] for r in hammer["reasons"]]
    assert "peak 1,500 requests in one hour, above the 600/h limit" in summaries
    assert any("above the 1,000/day review threshold" in s for s in summaries)
    assert hammer["score"] > 0.9
    assert len(accounts) == QUIET
    assert all(a["verdict"] == "benign" and a["reasons"] == [] for a in accounts.values())
    assert all(a["score"] < hammer["score"] for a in accounts.values())
    assert (tmp_path / "clusters.jsonl").read_bytes() == b""
    assert summary["baseline"]["name"] == "rate-limit"
    assert summary["baseline"]["parameters"]["hour_hard"] == 600
    assert summary["counts"]["exchanges"] == build_exchanges().num_rows
    assert {"features", "scoring", "total"} <= set(summary["wall_time_s"])


def test_rate_limit_parameters_change_the_verdict(store: Any, tmp_path: Path) -> None:
    relaxed = ["hour_soft=1000", "hour_hard=2000", "day_hard=5000", "mean_day_hard=5000"]
    run_baseline("rate-limit", store, tmp_path, relaxed)
    hammer = _accounts(tmp_path)[HAMMER]
    assert hammer["verdict"] == "review"


def test_rate_limit_score_is_a_monotone_squash() -> None:
    params = RateLimitParams()
    quiet = {"peak_hour": 0, "peak_day": 0, "mean_per_active_day": 0, "exchanges": 0}
    at_limit = {**quiet, "peak_hour": 600}
    assert judge(quiet, params)[:2] == (0.0, "benign")
    score, verdict, reasons = judge(at_limit, params)
    assert score == pytest.approx(0.8)
    assert verdict == "review"  # at the limit is not above it, but above the 300/h threshold
    assert reasons[0].summary.startswith("peak 600 requests in one hour, above the 300/h review")
    assert judge({**quiet, "peak_hour": 601}, params)[1] == "distillation"


def test_isolation_forest_ranks_the_hammer_first(store: Any, tmp_path: Path) -> None:
    summary = run_baseline("isolation-forest", store, tmp_path / "default")
    accounts = _accounts(tmp_path / "default")
    hammer = accounts[HAMMER]
    assert hammer["score"] == 1.0
    # 31 accounts: 1% rounds down to no distillation verdict, 5% to one review
    assert hammer["verdict"] == "review"
    assert sum(a["verdict"] != "benign" for a in accounts.values()) == 1
    assert hammer["reasons"] and all(r["weight"] > 0 for r in hammer["reasons"])
    assert all(0.0 <= a["score"] <= 1.0 for a in accounts.values())
    assert summary["baseline"]["parameters"]["random_state"] == 0

    run_baseline("isolation-forest", store, tmp_path / "strict", ["contamination=0.04"])
    strict = _accounts(tmp_path / "strict")
    assert strict[HAMMER]["verdict"] == "distillation"
    assert [a for a, r in strict.items() if r["verdict"] == "distillation"] == [HAMMER]


def test_isolation_forest_is_deterministic(store: Any, tmp_path: Path) -> None:
    run_baseline("isolation-forest", store, tmp_path / "one")
    run_baseline("isolation-forest", store, tmp_path / "two")
    one = (tmp_path / "one" / "accounts.jsonl").read_bytes()
    assert one == (tmp_path / "two" / "accounts.jsonl").read_bytes()


def test_rank_normalise_and_robust_z() -> None:
    assert rank_normalise(np.array([3.0, 1.0, 2.0, 2.0])).tolist() == [1.0, 0.0, 0.5, 0.5]
    assert rank_normalise(np.array([5.0])).tolist() == [0.0]
    z = robust_z(np.array([[1.0, 7.0], [2.0, 7.0], [3.0, 7.0], [10.0, 7.0]]))
    assert z[:, 1].tolist() == [0.0] * 4  # a constant column deviates nowhere
    assert z[3, 0] > 2 > abs(z[0, 0])


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["hour_hard"], "expected NAME=VALUE"),
        (["bogus=1"], "expected NAME=VALUE"),
        (["hour_hard=lots"], "not a valid float"),
        (["hour_soft=900"], "hour_soft .* must not exceed hour_hard"),
        (["day_hard=-1"], "day_hard must be > 0"),
    ],
)
def test_parameter_errors(pairs: list[str], message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_params(BASELINES["rate-limit"].defaults, pairs)


def test_isolation_forest_parameter_errors() -> None:
    with pytest.raises(UserError, match="contamination must be in"):
        parse_params(BASELINES["isolation-forest"].defaults, ["contamination=0.9"])
    with pytest.raises(UserError, match="not a valid int"):
        parse_params(BASELINES["isolation-forest"].defaults, ["n_estimators=1.5"])


def test_unknown_baseline_and_empty_store(tmp_path: Path) -> None:
    con = open_store(None)
    with pytest.raises(UserError, match="unknown baseline"):
        run_baseline("magic", con, tmp_path)
    with pytest.raises(UserError, match="holds no exchanges"):
        run_baseline("rate-limit", con, tmp_path)


def test_baseline_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "store.duckdb"
    build_store(path).disconnect()
    parser = argparse.ArgumentParser()
    baseline_cli.register(parser)
    out = tmp_path / "out"
    args = parser.parse_args(
        ["rate-limit", "--store", str(path), "--out", str(out), "--param", "hour_hard=700"]
    )
    assert baseline_cli.run(args) == 0
    assert "verdict distillation" in capsys.readouterr().err
    summary = orjson.loads((out / "summary.json").read_bytes())
    assert summary["baseline"]["parameters"]["hour_hard"] == 700
    assert summary["counts"]["verdicts"]["distillation"] == 1
    missing = parser.parse_args(["rate-limit", "--store", str(tmp_path / "no.duckdb"),
                                 "--out", str(out)])  # fmt: skip
    with pytest.raises(UserError, match="not found"):
        baseline_cli.run(missing)


def test_peak_hour_is_a_sliding_window() -> None:
    from distillguard.evaluation.account_features import volume_features

    con = open_store(None)
    start = T0 + timedelta(minutes=30)  # 700 requests straddling the top of the hour
    rows = [_exchange("burst", i, start + timedelta(seconds=5 * i)) for i in range(700)]
    append_arrow(con, "exchanges", pa.Table.from_pylist(rows, schema=EXCHANGE_SCHEMA))
    (row,) = volume_features(con.table("exchanges")).to_pyarrow().to_pylist()
    assert row["peak_hour"] == 700
    assert (row["peak_day"], row["active_days"], row["exchanges"]) == (700, 1, 700)
    assert judge(row, RateLimitParams())[1] == "distillation"
