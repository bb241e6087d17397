"""`simulate --campaign-seed`: two providers simulated with different seeds, one campaign."""

from __future__ import annotations

from pathlib import Path

import orjson

from distillguard.sim.writer import simulate


def _campaign_cards(directory: Path) -> set[str]:
    labels = {
        r["account_id"]: r for r in map(orjson.loads, (directory / "labels.jsonl").open("rb"))
    }
    return {
        r["payment_fingerprint"]
        for r in map(orjson.loads, (directory / "accounts.jsonl").open("rb"))
        if labels[r["account_id"]]["campaign"] == "agentic_coding_pivot"
    }


def test_one_campaign_seed_gives_both_providers_the_same_campaign(tmp_path: Path) -> None:
    runs = {}
    for name, seed, campaign_seed in (("a", 1, 5), ("b", 2, 5), ("c", 3, None), ("d", 4, None)):
        out = tmp_path / name
        simulate(out, seed=seed, exchanges=3000, campaign_seed=campaign_seed, progress=False,
                 workers=1)  # fmt: skip
        runs[name] = _campaign_cards(out)
    assert runs["a"] == runs["b"] and runs["a"]  # same cards at both providers
    assert not runs["c"] & runs["d"]  # without it, campaigns are drawn from each seed
    meta = orjson.loads((tmp_path / "a" / "simulation.json").read_bytes())
    assert meta["campaign_seed"] == 5
    assert "campaign_seed" not in orjson.loads((tmp_path / "c" / "simulation.json").read_bytes())
