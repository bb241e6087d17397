"""Shared test fixtures: where ../shared lives, and a skip with a reason where it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The shared prompt collections; tests that need them skip where they are absent."""
    if not (SHARED_DATASETS / "MANIFEST.md").is_file():
        pytest.skip(
            f"needs the shared prompt datasets at {SHARED_DATASETS} (present in CI, "
            "absent in a fresh clone)"
        )
    return SHARED_DATASETS
