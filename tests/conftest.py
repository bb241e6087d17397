"""Shared test fixtures: where ../shared lives, and a skip with a reason where it is absent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
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


@pytest.fixture
def canonical_exchanges(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """Exchange rows as ingest hands them to the store, by id: the canonical record, with the
    conversation and tool JSON that the store itself does not keep (schema/stored.py)."""
    from distillguard.ingest import appender

    captured: dict[str, dict[str, Any]] = {}
    store_append = appender.append_arrow_to

    def recording(duck: Any, table: str, batch: pa.Table | pa.RecordBatch) -> None:
        if table == "exchanges":
            rows = batch.to_pylist()
            captured.update((str(row["exchange_id"]), row) for row in rows)
        store_append(duck, table, batch)

    monkeypatch.setattr(appender, "append_arrow_to", recording)
    return captured
