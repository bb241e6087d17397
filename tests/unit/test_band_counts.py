"""The band view counted as a sparse product gives exactly the relational query's rows."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from distillguard.detectors.coordination import band_counts
from distillguard.detectors.coordination.config import CoordinationConfig
from distillguard.detectors.coordination.views import VIEWS
from distillguard.engine.store import open_store
from distillguard.features.exchange_features import compute_exchange_features
from distillguard.ingest import ingest_files
from distillguard.sim.writer import simulate

BAND_VIEW = next(view for view in VIEWS if view.name == "lsh_band")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> object:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, seed=5, exchanges=6_000, progress=False, workers=1)
    con = open_store(None)
    ingest_files(
        con,
        [out / "exchanges.jsonl"],
        [out / "accounts.jsonl"],
        quarantine_path=Path(out) / "q.jsonl",
        progress=False,
    )
    compute_exchange_features(con, progress=False, workers=1)
    return con


def _rows(frame: object) -> list[tuple[str, str]]:
    return sorted(map(tuple, frame.values.tolist()))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "settings",
    [{}, {"lsh_min_share": 0.3, "template_min_count": 2}, {"lsh_min_share": 0.07}],
)
def test_the_product_counts_what_the_query_counts(
    store: object, settings: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = CoordinationConfig.from_settings(settings)
    expected = _rows(BAND_VIEW.query(store, cfg).execute())  # type: ignore[arg-type]
    assert expected, "the simulated campaigns rely on band keys"
    assert _rows(BAND_VIEW.rows(store, cfg)) == expected  # type: ignore[arg-type]
    # Small blocks: the accounts are multiplied a few at a time, with the same result.
    monkeypatch.setattr(band_counts, "BLOCK_PRODUCTS", 50)
    assert _rows(band_counts.lsh_band_rows(store, cfg)) == expected  # type: ignore[arg-type]


def test_the_scans_uses_table_holds_what_the_query_counts(store: object) -> None:
    """engine/derived.py: the per-scan table of (account, prompt) uses and the query it
    stands for give the same rows, so every reader counts the same with or without it."""
    from distillguard.engine.derived import (
        ACCOUNT_PROMPT_USES,
        account_prompt_uses,
        create_account_prompt_uses_duckdb,
    )

    con = store
    assert ACCOUNT_PROMPT_USES not in con.list_tables()  # type: ignore[attr-defined]
    queried = (
        account_prompt_uses(con)
        .to_pyarrow()
        .sort_by(  # type: ignore[arg-type]
            [("account_id", "ascending"), ("pair_id", "ascending")]
        )
    )
    create_account_prompt_uses_duckdb(con.con)  # type: ignore[attr-defined]
    try:
        assert ACCOUNT_PROMPT_USES in con.list_tables()  # type: ignore[attr-defined]
        stored = (
            account_prompt_uses(con)
            .to_pyarrow()
            .sort_by(  # type: ignore[arg-type]
                [("account_id", "ascending"), ("pair_id", "ascending")]
            )
        )
        assert stored.num_rows == queried.num_rows > 0
        assert stored.column("uses").to_pylist() == queried.column("uses").to_pylist()
        assert stored.column("pair_id").to_pylist() == queried.column("pair_id").to_pylist()
    finally:
        con.con.execute(f"DROP TABLE {ACCOUNT_PROMPT_USES}")  # type: ignore[attr-defined]


@given(
    total=st.integers(min_value=0, max_value=10**9),
    used=st.integers(min_value=0, max_value=10**9),
    share=st.sampled_from(["0.05", "0.3", "0.07", "0.001", "1", "0.333"]),
    min_count=st.integers(min_value=1, max_value=50),
)
def test_the_bar_per_account_is_the_views_two_bars(
    total: int, used: int, share: str, min_count: int
) -> None:
    """A use count clears the per-account bar exactly when it clears both of the view's
    bars, compared as fractions (the relational query compares decimals)."""
    cfg = CoordinationConfig.from_settings(
        {"lsh_min_share": float(share), "template_min_count": min_count}
    )
    needed = band_counts._needed_uses(np.array([float(total)]), cfg)[0]
    exact = Fraction(share)
    assert (used >= needed) == (used >= min_count and used >= total * exact)
