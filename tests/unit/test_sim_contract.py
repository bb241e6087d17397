"""Simulated files follow the contract: they ingest with nothing quarantined."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distillguard.cli.main import main
from distillguard.engine.store import open_store
from distillguard.ingest import ingest_files
from distillguard.sim.prompts import load_datasets
from distillguard.sim.writer import simulate


@pytest.mark.parametrize("scenario", ["reported-2026", "evasive", "hydra-proxy", "benign-only"])
def test_every_scenario_ingests_cleanly(tmp_path: Path, scenario: str) -> None:
    simulate(tmp_path, seed=5, exchanges=4_000, scenario_name=scenario, progress=False)
    report = ingest_files(
        open_store(),
        [tmp_path / "exchanges.jsonl"],
        [tmp_path / "accounts.jsonl"],
        quarantine_path=tmp_path / "quarantine.jsonl",
        progress=False,
    )
    assert report.quarantined == 0, report.reasons
    assert report.loaded_into("exchanges") == sum(
        json.loads(line)["exchanges"] for line in (tmp_path / "labels.jsonl").open()
    )
    labels = [json.loads(line) for line in (tmp_path / "labels.jsonl").open()]
    has_campaigns = any(row["label"] == "distillation" for row in labels)
    assert has_campaigns == (scenario != "benign-only")


def test_cli_simulate_writes_the_four_files(tmp_path: Path) -> None:
    status = main(["simulate", "--out", str(tmp_path), "--exchanges", "2000", "--no-progress"])
    assert status == 0
    for name in ("exchanges.jsonl", "accounts.jsonl", "labels.jsonl", "simulation.json"):
        assert (tmp_path / name).stat().st_size > 0


def test_cli_rejects_unknown_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["simulate", "--out", str(tmp_path), "--scenario", "nope"])
    assert "invalid choice" in capsys.readouterr().err


def test_missing_datasets_folder_is_a_clear_error(tmp_path: Path) -> None:
    status = main(["simulate", "--out", str(tmp_path), "--datasets", str(tmp_path / "absent")])
    assert status == 2


@pytest.mark.shared
def test_full_collections_load_and_split_by_source(shared_datasets: Path) -> None:
    items = load_datasets(shared_datasets)
    kinds = {item.kind for item in items}
    assert kinds >= {"chat_en", "chat_zh", "math", "code", "agentic_code", "tool_use", "grading"}
    for kind in ("math", "tool_use", "grading", "chat_en"):
        dev = {i.source for i in items if i.kind == kind and i.split == "dev"}
        holdout = {i.source for i in items if i.kind == kind and i.split == "holdout"}
        assert dev and holdout and not dev & holdout, kind
    assert all("name" in tool for item in items for tool in item.tools or ())


@pytest.mark.shared
def test_holdout_prompt_sources_simulate_cleanly(tmp_path: Path, shared_datasets: Path) -> None:
    simulate(
        tmp_path,
        seed=9,
        exchanges=4_000,
        datasets=shared_datasets,
        prompt_split="holdout",
        progress=False,
    )
    report = ingest_files(
        open_store(),
        [tmp_path / "exchanges.jsonl"],
        [tmp_path / "accounts.jsonl"],
        quarantine_path=tmp_path / "q.jsonl",
        progress=False,
    )
    assert report.quarantined == 0, report.reasons


def test_lone_harvesters_are_small_and_unlinked(tmp_path: Path) -> None:
    simulate(tmp_path, seed=5, exchanges=20_000, scenario_name="lone-harvesters", progress=False)
    labels = [json.loads(line) for line in (tmp_path / "labels.jsonl").open()]
    harvesters = {r["account_id"]: r for r in labels if r["label"] == "distillation"}
    assert harvesters and all(r["exchanges"] < 100 for r in harvesters.values())
    cards = [
        r.get("payment_fingerprint")
        for r in map(json.loads, (tmp_path / "accounts.jsonl").open())
        if r["account_id"] in harvesters
    ]
    assert len(set(cards)) == len(cards)  # one card each: nothing ties them
