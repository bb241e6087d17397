"""Import and retro-hunt: provider B's indicators find the campaign at provider A, only it."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from intel_providers import Provider, hunt_args

from distillguard.cli.main import main
from distillguard.intel.keys import SharingKey
from distillguard.results import read_results


@pytest.fixture(scope="module")
def hunt_a(
    tmp_path_factory: pytest.TempPathFactory, provider_a: Provider, bundle_b: Path, key_file: Path
) -> Path:
    out = tmp_path_factory.mktemp("hunt_a")
    status = main(hunt_args(bundle_b, provider_a, key_file, out))
    assert status == 0
    return out


def test_hunt_flags_the_campaign_and_no_one_else(hunt_a: Path, provider_a: Provider) -> None:
    results = read_results(hunt_a)  # a contract results directory, as the guard loads
    flagged = {a.account_id for a in results.accounts if a.verdict != "benign"}
    assert flagged == set(provider_a.campaign)
    assert {a.verdict for a in results.accounts if a.account_id in flagged} == {"review"}
    for account in results.accounts:
        if account.account_id in flagged:
            assert account.reasons[0].detector == "DG-601"
            assert "Provider B" in account.reasons[0].summary
    assert len(results.clusters) == 1
    assert sorted(results.clusters[0].account_ids) == sorted(provider_a.campaign)


def test_matches_name_every_kind_of_tie(hunt_a: Path, provider_a: Provider) -> None:
    lines = [orjson.loads(x) for x in (hunt_a / "matches.jsonl").read_bytes().splitlines()]
    assert {m["account_id"] for m in lines} == set(provider_a.campaign)
    kinds = {h["kind"] for m in lines for h in m["hits"]}
    assert kinds == {"payment_fingerprint", "email_domain", "network", "template"}
    # The template matched although provider A's tasks differ from B's.
    assert all(any(h["kind"] == "template" for h in m["hits"]) for m in lines)


def test_a_bundle_keyed_with_another_key_is_refused(
    tmp_path: Path, provider_a: Provider, bundle_b: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.key"
    other.write_text("11" * 32)
    status = main(hunt_args(bundle_b, provider_a, other, tmp_path / "out"))
    assert status == 2
    assert "agree on one sharing key" in " ".join(capsys.readouterr().err.split())


def test_scan_takes_peer_intel_as_evidence(
    tmp_path: Path, provider_a: Provider, bundle_b: Path, key_file: Path, key: SharingKey
) -> None:
    out = tmp_path / "scan"
    status = main(
        [
            "scan",
            "--exchanges",
            str(provider_a.exchanges),
            "--accounts",
            str(provider_a.accounts),
            "--out",
            str(out),
            "--intel",
            str(bundle_b),
            "--intel-key",
            str(key_file),
            "--no-progress",
        ]
    )
    assert status == 0
    results = read_results(out)
    by_id = {a.account_id: a for a in results.accounts}
    for account in provider_a.campaign:
        assert "DG-601" in {r.detector for r in by_id[account].reasons}
        assert by_id[account].verdict in ("review", "distillation")
    for account in provider_a.benign:
        assert "DG-601" not in {r.detector for r in by_id[account].reasons}
    assert "DG-601" in {d["id"] for d in results.summary["detectors"]}
