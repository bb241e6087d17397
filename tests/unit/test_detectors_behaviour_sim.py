"""Behaviour and drift detectors on simulator output: evidence comes out, and it is
stronger, on average, on the distillation accounts than on the benign ones."""

from __future__ import annotations

import orjson
import pytest

from distillguard.detectors.behaviour import DETECTORS as BEHAVIOUR
from distillguard.detectors.context import ScanContext
from distillguard.detectors.drift import DETECTORS as DRIFT
from distillguard.engine.store import open_store
from distillguard.ingest import ingest_files
from distillguard.sim.writer import simulate


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[ScanContext, dict[str, str]]:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, seed=3, exchanges=20_000, progress=False)
    con = open_store(None)
    ingest_files(
        con,
        [out / "exchanges.jsonl"],
        [out / "accounts.jsonl"],
        quarantine_path=out / "quarantine.jsonl",
        progress=False,
    )
    labels = {
        record["account_id"]: record["label"]
        for record in map(orjson.loads, (out / "labels.jsonl").read_bytes().splitlines())
        if record["exchanges"] > 0
    }
    return ScanContext(con), labels


def test_distillation_accounts_get_stronger_evidence(
    simulated: tuple[ScanContext, dict[str, str]],
) -> None:
    context, labels = simulated
    strength: dict[tuple[str, str], float] = {}
    fired = {}
    for module in (*BEHAVIOUR, *DRIFT):
        evidence = module.detect(context)
        fired[module.INFO.id] = len(evidence)
        for item in evidence:
            assert item.subject in labels
            strength[(module.INFO.id, item.subject)] = item.strength
    for detector_id in ("DG-202", "DG-203", "DG-204"):
        assert fired[detector_id] > 0, fired
    modules = len(BEHAVIOUR) + len(DRIFT)

    def mean_for(label: str) -> float:
        accounts = [account for account, value in labels.items() if value == label]
        totals = [
            sum(strength.get((m.INFO.id, a), 0.0) for m in (*BEHAVIOUR, *DRIFT)) / modules
            for a in accounts
        ]
        return sum(totals) / len(totals)

    assert mean_for("distillation") > 5 * mean_for("benign")
