"""Release detection and release pivots on hand-made traffic with exact expected numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from distillguard.detectors.context import ScanContext
from distillguard.detectors.drift import (
    DETECTORS,
    Release,
    cluster_pivot,
    detect_releases,
    release_pivot,
)
from distillguard.engine.store import append_arrow, open_store
from distillguard.schema import EXCHANGE_SCHEMA

T0 = datetime(2026, 3, 2, tzinfo=UTC)
RELEASE = T0 + timedelta(days=5)
OLD, NEW = "m-1", "m-2"
PIVOTER = "pivoter"
STEADY = ("steady-1", "steady-2", "steady-3")


def _row(account: str, index: int, ts: datetime, model: str) -> dict[str, Any]:
    return {
        "exchange_id": f"{account}-{index}",
        "ts": ts,
        "account_id": account,
        "model": model,
        "messages": '[{"role":"user","content":"q"}]',
        "n_messages": 1,
        "prompt_text": "q",
        "source_file": "synthetic.jsonl",
        "source_line": index,
    }


def _rows() -> list[dict[str, Any]]:
    """The pivoter: 20 a day on m-1 for 5 days (100), then from the very first request on
    m-2 (the release): 15 in the first 24 h (9 on m-2) and 10 in the next (8 on m-2).
    Three steady accounts: 10 a day on m-1 for 10 days, and 20 on m-2 on day 8."""
    rows: list[dict[str, Any]] = []

    def add(account: str, ts: datetime, model: str) -> None:
        rows.append(_row(account, len(rows), ts, model))

    for day in range(5):
        for i in range(20):
            add(PIVOTER, T0 + timedelta(days=day, minutes=30 * i), OLD)
    for i in range(15):
        add(PIVOTER, RELEASE + timedelta(hours=i), NEW if i < 9 else OLD)
    for i in range(10):
        add(PIVOTER, RELEASE + timedelta(hours=24 + i), NEW if i < 8 else OLD)
    for account in STEADY:
        for day in range(10):
            for i in range(10):
                add(account, T0 + timedelta(days=day, hours=1 + i, minutes=7), OLD)
        for i in range(20):
            add(account, T0 + timedelta(days=8, hours=12, minutes=i), NEW)
    return rows


@pytest.fixture(scope="module")
def context() -> ScanContext:
    con = open_store(None)
    append_arrow(con, "exchanges", pa.Table.from_pylist(_rows(), schema=EXCHANGE_SCHEMA))
    return ScanContext(con)


def test_release_is_found_at_its_first_request(context: ScanContext) -> None:
    assert detect_releases(context) == [Release(model=NEW, first_seen=RELEASE)]


def test_models_present_from_the_start_are_not_releases(context: ScanContext) -> None:
    assert OLD not in {release.model for release in detect_releases(context)}


def test_account_pivot_numbers_are_exact(context: ScanContext) -> None:
    evidence = {item.subject: item for item in release_pivot.detect(context)}
    assert set(evidence) == {PIVOTER}
    item = evidence[PIVOTER]
    assert item.family == "drift" and item.detector == "DG-501"
    assert item.details["share_24h"] == pytest.approx(9 / 15, abs=1e-4)
    assert item.details["share_48h"] == pytest.approx(17 / 25, abs=1e-4)
    assert item.details["pre_release_exchanges"] == 100
    assert item.details["pre_release_daily"] == 20
    assert item.details["hours_to_first_request"] == 0
    assert item.details["new_model_24h_vs_pre_release_day"] == pytest.approx(9 / 20)
    # share 0.6 reaches the full ramp, 100 pre-release requests too, 15 in the window too:
    assert item.strength == release_pivot.Settings().max_strength
    assert item.summary.startswith("moved 60% of its traffic to m-2 within 24 h of its release")


def test_strength_is_moderate_by_default(context: ScanContext) -> None:
    assert all(item.strength <= 0.5 for item in release_pivot.detect(context))


def test_cluster_pivot_pools_members(context: ScanContext) -> None:
    """Pivoter + steady-1: 150 before, 25 in the first 24 h of which 9 on m-2."""
    evidence = cluster_pivot(context, {"c-1": [PIVOTER, "steady-1"], "c-2": ["steady-2"]})
    by_cluster = {item.subject: item for item in evidence}
    assert set(by_cluster) == {"c-1"}
    item = by_cluster["c-1"]
    assert item.subject_kind == "cluster"
    assert item.details["share_24h"] == pytest.approx(9 / 25, abs=1e-4)
    assert item.details["pre_release_exchanges"] == 150
    assert 0.0 < item.strength < 0.5
    assert "the cluster sent 150 requests before the release" in item.summary
    assert cluster_pivot(context, {}) == []


def test_no_release_no_evidence() -> None:
    con = open_store(None)
    rows = [_row("a", i, T0 + timedelta(hours=i), OLD) for i in range(200)]
    append_arrow(con, "exchanges", pa.Table.from_pylist(rows, schema=EXCHANGE_SCHEMA))
    context = ScanContext(con)
    assert detect_releases(context) == []
    assert release_pivot.detect(context) == []


def test_empty_store() -> None:
    context = ScanContext(open_store(None))
    assert detect_releases(context) == []
    assert [module.detect(context) for module in DETECTORS] == [[] for _ in DETECTORS]
