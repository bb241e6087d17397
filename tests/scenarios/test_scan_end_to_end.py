"""`distillguard scan` end to end: contract outputs, determinism, awkward inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distillguard.cli.main import main
from distillguard.engine.config import ScanConfig
from distillguard.engine.scan import run_scan
from distillguard.results import read_results
from distillguard.sim.writer import simulate


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scan-sim")
    simulate(out, seed=21, exchanges=15_000, progress=False)
    return out


def _scan(sim: Path, out: Path) -> Path:
    run_scan(
        [sim / "exchanges.jsonl"],
        [sim / "accounts.jsonl"],
        out,
        config=ScanConfig(),
        progress=False,
    )
    return out


def test_scan_writes_the_contract_outputs_and_is_deterministic(sim: Path, tmp_path: Path) -> None:
    first = _scan(sim, tmp_path / "a")
    results = read_results(first)  # validates every field of every line
    seen = {json.loads(line)["account_id"] for line in (sim / "exchanges.jsonl").open()}
    assert {a.account_id for a in results.accounts} == seen
    assert (first / "report.html").read_text().startswith("<!DOCTYPE html>")
    summary = json.loads((first / "summary.json").read_text())
    assert summary["configuration"]["hash"] and summary["detectors"]
    assert all(d["id"].startswith("DG-") and d["version"] for d in summary["detectors"])
    second = _scan(sim, tmp_path / "b")
    assert (first / "accounts.jsonl").read_bytes() == (second / "accounts.jsonl").read_bytes()
    assert (first / "clusters.jsonl").read_bytes() == (second / "clusters.jsonl").read_bytes()


def test_distillation_verdicts_rest_on_two_families(sim: Path, tmp_path: Path) -> None:
    results = read_results(_scan(sim, tmp_path))
    for account in results.accounts:
        if account.verdict == "distillation":
            assert account.reasons and all(r.summary for r in account.reasons)


def _write(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _exchange(index: int, account: str, text: str) -> dict[str, object]:
    return {
        "exchange_id": f"e{index}",
        "timestamp": 1_790_000_000 + index * 60,
        "account_id": account,
        "model": "m",
        "messages": [{"role": "user", "content": text}],
    }


def test_awkward_inputs_scan_without_error(tmp_path: Path) -> None:
    huge = "x" * 1_000_000
    records = [
        _exchange(0, "solo", "héllo 你好 привет مرحبا 👋"),
        _exchange(1, "solo", huge),
        _exchange(2, "solo", "plain question?"),
    ]
    path = _write(tmp_path / "ex.jsonl", records)
    with path.open("a") as handle:
        handle.write("{not json\n")
        handle.write(json.dumps({"exchange_id": "e9", "account_id": "solo"}) + "\n")
    out = tmp_path / "out"
    assert main(["scan", "--exchanges", str(path), "--out", str(out), "--no-progress"]) == 0
    results = read_results(out)
    assert [a.account_id for a in results.accounts] == ["solo"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["quarantined"] == 2


def test_empty_input_gives_empty_results(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    out = tmp_path / "out"
    assert main(["scan", "--exchanges", str(path), "--out", str(out), "--no-progress"]) == 0
    assert read_results(out).accounts == []


def test_missing_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["scan", "--exchanges", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path)])
    assert status == 2
    assert "nope.jsonl" in capsys.readouterr().err


def test_bad_config_is_a_clear_error(
    tmp_path: Path, sim: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "dg.toml"
    config.write_text("[detectors.DG-999]\nenabled = false\n")
    status = main(
        [
            "scan",
            "--exchanges",
            str(sim / "exchanges.jsonl"),
            "--out",
            str(tmp_path / "o"),
            "--config",
            str(config),
        ]
    )
    assert status == 2
    assert "DG-999" in capsys.readouterr().err


def _split_by_day(sim: Path, out: Path) -> tuple[Path, Path]:
    """The simulated window cut in two at its middle timestamp: yesterday and today."""
    lines = [line + b"\n" for line in (sim / "exchanges.jsonl").read_bytes().split(b"\n") if line]
    stamps = sorted(json.loads(line)["timestamp"] for line in lines)
    middle = stamps[len(stamps) // 2]
    first = [line for line in lines if json.loads(line)["timestamp"] < middle]
    second = [line for line in lines if json.loads(line)["timestamp"] >= middle]
    (out / "day1.jsonl").write_bytes(b"".join(first))
    (out / "day2.jsonl").write_bytes(b"".join(second))
    return out / "day1.jsonl", out / "day2.jsonl"


def test_daily_scans_with_a_store_read_only_new_data_and_keep_ids(
    sim: Path, tmp_path: Path
) -> None:
    day1, day2 = _split_by_day(sim, tmp_path)
    store = tmp_path / "store.duckdb"
    accounts = [sim / "accounts.jsonl"]
    config = ScanConfig()
    run_scan([day1], accounts, tmp_path / "out1", config=config, store_path=store, progress=False)
    second = run_scan(
        [day2], accounts, tmp_path / "out2", config=config, store_path=store, progress=False
    )
    day2_rows = day2.read_bytes().count(b"\n")
    assert second.summary["counts"]["exchanges_loaded"] == day2_rows
    assert second.summary["counts"]["exchanges_featured"] == day2_rows
    # Feeding yesterday's file again adds nothing: the store already has those ids.
    again = run_scan(
        [day1], accounts, tmp_path / "out3", config=config, store_path=store, progress=False
    )
    assert again.summary["counts"]["exchanges_loaded"] == 0
    before = read_results(tmp_path / "out1")
    after = read_results(tmp_path / "out2")
    condemned_before = {c.cluster_id for c in before.clusters if c.verdict == "distillation"}
    ids_after = {c.cluster_id for c in after.clusters}
    assert condemned_before, "the first day should already show a campaign"
    assert condemned_before <= ids_after, "a campaign keeps its cluster id the next day"
    verdict_after = {a.account_id: a.verdict for a in after.accounts}
    for account in before.accounts:
        if account.verdict == "distillation":
            assert verdict_after[account.account_id] in ("distillation", "review")


def test_an_earlier_distillation_verdict_is_carried_forward(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from distillguard.engine import history
    from distillguard.engine.store import open_store
    from distillguard.results.model import AccountResult

    con = open_store(tmp_path / "store.duckdb")
    yesterday = datetime(2026, 10, 1, tzinfo=UTC)
    today = datetime(2026, 10, 2, tzinfo=UTC)
    judged = AccountResult("acct_a", 0.91, "distillation", "C-1", [])
    history.record(con, [judged, AccountResult("acct_b", 0.1, "benign", None, [])], yesterday)
    prior = history.prior_distillation(con, today)
    assert set(prior) == {"acct_a"} and prior["acct_a"].cluster_id == "C-1"
    quiet_today = [
        AccountResult("acct_a", 0.05, "benign", None, []),
        AccountResult("acct_b", 0.05, "benign", None, []),
    ]
    carried = {r.account_id: r for r in history.carry_forward(quiet_today, prior)}
    assert carried["acct_a"].verdict == "review" and carried["acct_b"].verdict == "benign"
    assert carried["acct_a"].reasons[0].detector == "DG-503"
    assert "judged distillation in cluster C-1" in carried["acct_a"].reasons[0].summary
    # Recording the same data again replaces, never duplicates, that day's verdicts.
    history.record(con, [judged], yesterday)
    count = con.con.execute("SELECT count(*) FROM verdict_history").fetchone()
    assert count is not None and count[0] == 1
