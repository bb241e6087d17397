"""Export: a valid STIX 2.1 bundle that shares the campaign's ties and nothing private."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from intel_providers import (
    CAMPAIGN_CARD,
    CAMPAIGN_DOMAIN,
    CAMPAIGN_NET,
    RARE_CARD,
    Provider,
    export_args,
)
from stix2validator import ValidationOptions, validate_file

from distillguard.cli.main import main
from distillguard.intel.keys import SharingKey
from distillguard.intel.peers import read_peer_bundles


def _objects(bundle: Path) -> list[dict[str, object]]:
    data = orjson.loads(bundle.read_bytes())
    objects: list[dict[str, object]] = data["objects"]
    return objects


def test_bundle_passes_the_oasis_validator(bundle_b: Path) -> None:
    result = validate_file(str(bundle_b), ValidationOptions(version="2.1"))
    assert result.is_valid, [str(e) for r in result.object_results for e in r.errors]


def test_bundle_has_the_objects_the_issue_asks_for(bundle_b: Path) -> None:
    types = {str(o["type"]) for o in _objects(bundle_b)}
    assert {
        "identity",
        "campaign",
        "threat-actor",
        "attack-pattern",
        "indicator",
        "observed-data",
        "sighting",
        "relationship",
    } <= types
    atlas = {
        ref["external_id"]
        for o in _objects(bundle_b)
        if o["type"] == "attack-pattern"
        for ref in o["external_references"]  # type: ignore[attr-defined]
    }
    assert {"AML.T0024.002", "AML.T0021", "AML.T0008.005"} <= atlas
    actors = [o for o in _objects(bundle_b) if o["type"] == "threat-actor"]
    assert all(str(a["name"]).startswith("Unattributed") for a in actors)
    sightings = [o for o in _objects(bundle_b) if o["type"] == "sighting"]
    assert sightings and all(int(s["count"]) >= 5 for s in sightings)  # type: ignore[call-overload]


def test_nothing_private_leaves(bundle_b: Path, provider_b: Provider) -> None:
    text = bundle_b.read_text()
    for private in (CAMPAIGN_CARD, RARE_CARD, CAMPAIGN_DOMAIN, "boxed", "step by step", "Problem"):
        assert private not in text
    for account in provider_b.campaign + provider_b.benign:
        assert account not in text
    for line in provider_b.exchanges.read_bytes().splitlines():
        assert orjson.loads(line)["client_ip"] not in text  # no single address, only ranges


def test_every_fingerprint_is_a_standard_pattern(bundle_b: Path, key: SharingKey) -> None:
    indicators = read_peer_bundles([bundle_b], key)
    kinds = {i.kind for i in indicators}
    assert kinds == {"payment_fingerprint", "email_domain", "network", "template"}
    assert [str(n) for i in indicators for n in i.networks] == [f"{CAMPAIGN_NET}.0/24"]
    payment = [i for i in indicators if i.kind == "payment_fingerprint"]
    assert [i.tokens for i in payment] == [(key.token("payment_fingerprint", CAMPAIGN_CARD),)]
    for o in _objects(bundle_b):
        if o["type"] == "indicator":
            assert o["pattern_type"] == "stix"
            assert not [k for k in o if str(k).startswith("x_")]


def test_k_floor_keeps_values_seen_in_too_few_accounts(bundle_b: Path, key: SharingKey) -> None:
    tokens = {t for i in read_peer_bundles([bundle_b], key) for t in i.tokens}
    assert key.token("payment_fingerprint", RARE_CARD) not in tokens  # 3 accounts < k = 5


def test_a_higher_k_floor_shares_nothing(
    tmp_path: Path, results_b: Path, provider_b: Provider, key_file: Path
) -> None:
    out = tmp_path / "bundle.json"
    status = main([*export_args(results_b, provider_b, key_file, out), "--min-accounts", "9"])
    assert status == 0
    assert {o["type"] for o in _objects(out)} == {"identity", "marking-definition"}


def test_export_is_deterministic(
    tmp_path: Path, results_b: Path, provider_b: Provider, key_file: Path, bundle_b: Path
) -> None:
    out = tmp_path / "again.json"
    assert (
        main([*export_args(results_b, provider_b, key_file, out), "--producer", "Provider B"]) == 0
    )
    assert out.read_bytes() == bundle_b.read_bytes()


def test_missing_key_is_a_clear_error(
    tmp_path: Path,
    results_b: Path,
    provider_b: Provider,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DISTILLGUARD_INTEL_KEY", raising=False)
    status = main(export_args(results_b, provider_b, None, tmp_path / "b.json"))
    assert status == 2
    assert "--key-file" in capsys.readouterr().err
