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
