"""Fixtures for the intel tests: a sharing key and two providers hit by one campaign."""

from __future__ import annotations

from pathlib import Path

import pytest
from intel_providers import Provider, export_args, make_provider, write_verdicts

from distillguard.intel.keys import SharingKey

KEY_HEX = "6b" * 32


@pytest.fixture(scope="session")
def key() -> SharingKey:
    """The community key both providers hold."""
    return SharingKey(bytes.fromhex(KEY_HEX))


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same key as a hex file, as the CLI reads it."""
    path = tmp_path_factory.mktemp("key") / "intel.key"
    path.write_text(KEY_HEX + "\n")
    return path


@pytest.fixture(scope="session")
def provider_b(tmp_path_factory: pytest.TempPathFactory) -> Provider:
    """The provider that found the campaign first."""
    return make_provider(tmp_path_factory.mktemp("provider_b"), seed=11)


@pytest.fixture(scope="session")
def provider_a(tmp_path_factory: pytest.TempPathFactory) -> Provider:
    """The provider hit by the same campaign, with other tasks and other customers."""
    return make_provider(tmp_path_factory.mktemp("provider_a"), seed=22)


@pytest.fixture(scope="session")
def results_b(tmp_path_factory: pytest.TempPathFactory, provider_b: Provider) -> Path:
    """Provider B's verdicts: its campaign is one `distillation` cluster."""
    return write_verdicts(tmp_path_factory.mktemp("results_b"), provider_b)


@pytest.fixture(scope="session")
def bundle_b(
    tmp_path_factory: pytest.TempPathFactory,
    provider_b: Provider,
    results_b: Path,
    key_file: Path,
) -> Path:
    """Provider B's exported bundle, written by the CLI."""
    from distillguard.cli.main import main

    out = tmp_path_factory.mktemp("bundle") / "bundle.json"
    status = main([*export_args(results_b, provider_b, key_file, out), "--producer", "Provider B"])
    assert status == 0
    return out
