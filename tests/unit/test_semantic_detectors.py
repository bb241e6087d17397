"""Semantic detectors on hand-made traffic built from the bundled public prompts.

A population of ordinary chat customers who come back to their themes, a single account
sweeping a task pool, and a fleet of eight accounts that split a task pool between them
without one repeat.  The sweep and the fleet must be flagged by DG-302 and DG-303; the chat
customers must not be; the sample must be the same in every run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from distillguard.detectors.base import Evidence
from distillguard.detectors.behaviour.common import log_ramp, ramp
from distillguard.detectors.context import ScanContext
from distillguard.detectors.coordination.findings import FRAME as COORDINATION_FRAME
from distillguard.detectors.coordination.findings import ClusterFindings
from distillguard.detectors.semantic import DETECTORS, capability_tags, distribution, sweep
from distillguard.detectors.semantic.frame import (
    SampleSettings,
    account_rows,
    prompt_key,
    semantic_frame,
    stable_rank,
)
from distillguard.detectors.semantic.subjects import ramp_product
from distillguard.engine.store import append_arrow, open_store
from distillguard.schema import EXCHANGE_SCHEMA
from distillguard.sim.prompts import load_bundled_sample

T0 = datetime(2026, 3, 2, tzinfo=UTC)
SWEEPER = "sweeper"
FLEET = [f"fleet-{i}" for i in range(8)]
CHAT = [f"chat-{i:02d}" for i in range(60)]
TASK_KINDS = ("math", "code", "tool_use", "grading")


def _text(item: Any) -> str:
    for message in item.messages:
        if message["role"] == "user":
            content = message["content"]
            return (
                content
                if isinstance(content, str)
                else " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            )
    return ""


def _row(account: str, index: int, text: str) -> dict[str, Any]:
    return {
        "exchange_id": f"{account}-{index}",
        "ts": T0 + timedelta(minutes=7 * index),
        "account_id": account,
        "model": "m-large",
        "messages": "[]",
        "n_messages": 1,
        "prompt_text": text,
        "source_file": "synthetic.jsonl",
        "source_line": index,
    }


def _traffic() -> list[dict[str, Any]]:
    items = load_bundled_sample()
    rng = np.random.default_rng(5)
    tasks = [t for t in (_text(i) for i in items if i.kind in TASK_KINDS) if len(t) > 20]
    chats = [t for t in (_text(i) for i in items if i.kind == "chat_en") if len(t) > 20]
    tasks = [tasks[i] for i in rng.permutation(len(tasks))]
    rows: list[dict[str, Any]] = []
    for index, text in enumerate(tasks[:400]):
        rows.append(_row(SWEEPER, index, text))
    pool = tasks[400:720]
    for number, account in enumerate(FLEET):
        for index, text in enumerate(pool[number * 40 : (number + 1) * 40]):
            rows.append(_row(account, index, text))
    follow_ups = ("", " Thanks! Can you say more?", " Shorter, please.", " And why is that?")
    for account in CHAT:
        themes = [chats[int(i)] for i in rng.choice(len(chats), size=10, replace=False)]
        for index in range(40):
            text = themes[int(rng.integers(10))] + follow_ups[int(rng.integers(4))]
            rows.append(_row(account, index, text))
    return rows


@pytest.fixture(scope="module")
def store() -> Any:
    con = open_store(None)
    append_arrow(con, "exchanges", pa.Table.from_pylist(_traffic(), schema=EXCHANGE_SCHEMA))
    return con


def _context(con: Any, config: dict[str, dict[str, Any]] | None = None) -> ScanContext:
    """A context whose coordination stage found one cluster: the fleet."""
    context = ScanContext(con, config=config or {})
    findings = ClusterFindings(
        clusters={"c-fleet": sorted(FLEET)},
        evidence={},
        indicators={},
        profiles={},
        exchanges={},
        capabilities={},
        first_seen={},
        last_seen={},
        config_hash="test",
    )
    members = pd.DataFrame({"account_id": FLEET, "cluster_id": "c-fleet"})
    members.attrs["findings"] = findings
    context.frames[COORDINATION_FRAME] = members
    return context


def _by_subject(evidence: list[Evidence]) -> dict[str, Evidence]:
    return {e.subject: e for e in evidence}


def test_stable_rank_is_xxh64_and_sample_is_deterministic(store: Any) -> None:
    assert stable_rank(["abc"])[0] == np.uint64(0x44BC2CF5AD770999)
    first = semantic_frame(_context(store))
    second = semantic_frame(_context(store))
    assert first["exchange_id"].tolist() == second["exchange_id"].tolist()
    assert np.array_equal(first.attrs["embeddings"], second.attrs["embeddings"])
    assert np.array_equal(first.attrs["reference"], second.attrs["reference"])


def test_sample_is_bounded_and_distinct(store: Any) -> None:
    frame = semantic_frame(_context(store))
    per_account = frame.groupby("account_id").size()
    assert per_account.max() <= SampleSettings().per_account
    assert per_account[SWEEPER] == SampleSettings().per_account
    assert not frame.duplicated(["account_id", "key"]).any()
    assert prompt_key("Hello  World 12") == prompt_key("hello world 7")
    small = semantic_frame(_context(store, {"DG-301": {"per_account": 8}}))
    assert small.groupby("account_id").size().max() <= 8


def test_account_rows_are_the_groups_of_the_frame(store: Any) -> None:
    frame = semantic_frame(_context(store))
    groups = frame.groupby("account_id", sort=True).indices
    rows = account_rows(frame)
    assert list(rows) == [str(k) for k in groups]
    assert all(np.array_equal(rows[str(k)], v) for k, v in groups.items())


def test_ramp_product_is_the_plain_product() -> None:
    for factors in ([0.5, 0.3, 0.7], [0.9, 0.0, 0.4], [1.0, 1.0, 1e-300, 1e-300]):
        plain = 0.15
        for f in factors:
            plain *= f
        assert ramp_product(0.15, *(lambda f=f: f for f in factors)) == plain
    assert ramp_product(0.0, lambda: 1 / 0) == 0.0  # later factors are not computed


def test_sweep_fires_on_sweeper_and_fleet_not_on_chat(store: Any) -> None:
    found = _by_subject(sweep.detect(_context(store)))
    assert found["c-fleet"].strength > sweep.Settings().emit_above
    assert SWEEPER not in found  # single-account sweeps are off by default (benchmark firms)
    with_accounts = _context(store, {"DG-302": {"account_cap": 0.25}})
    found = _by_subject(sweep.detect(with_accounts))
    assert found[SWEEPER].strength > sweep.Settings().emit_above
    assert found["c-fleet"].subject_kind == "cluster"
    assert not any(subject in found for subject in CHAT)


def test_distribution_test_fires_on_fleet_not_on_chat(store: Any) -> None:
    frame = semantic_frame(_context(store))
    chat_prompts = frame[frame["account_id"].isin(CHAT)].groupby("account_id").size()
    assert (chat_prompts >= distribution.Settings().min_prompts).mean() > 0.8  # all tested
    found = _by_subject(distribution.detect(_context(store)))
    # A broad single sweep is less unusual, account for account, than a customer who keeps
    # to ten themes: the per-account test calibrates against the population and stays
    # quiet; the fleet, tested as one sample with a permutation test, is flagged.
    assert found["c-fleet"].strength > distribution.Settings().emit_above
    assert found["c-fleet"].details["pvalue"] <= 0.003 + 1e-9
    assert not any(subject in found for subject in CHAT)


def test_capability_tags_describe_the_sweeper(store: Any) -> None:
    # Weak by design (cap 0.15): shown here with every strength emitted.
    found = _by_subject(capability_tags.detect(_context(store, {"DG-301": {"emit_above": 0.0}})))
    assert SWEEPER in found
    assert found[SWEEPER].details["harvestable_share"] > 0.7
    assert not any(subject in found for subject in CHAT)


def test_semantic_evidence_alone_never_reaches_the_family_floor_twice(store: Any) -> None:
    """Every semantic strength is capped below what one family needs for a verdict alone."""
    from distillguard.scoring.combine import ScoringConfig, calibrated_score, family_strengths

    context = _context(store)
    evidence = [e for detector in DETECTORS for e in detector.detect(context)]
    assert evidence
    config = ScoringConfig()
    for subject in {e.subject for e in evidence}:
        families = family_strengths([e for e in evidence if e.subject == subject])
        assert set(families) == {"semantic"}
        assert calibrated_score(families, config) < config.review_threshold


def test_unknown_setting_is_an_error(store: Any) -> None:
    from distillguard.errors import UserError

    with pytest.raises(UserError):
        sweep.detect(_context(store, {"DG-302": {"min_distinctt": 5}}))


def test_a_crowds_semantic_evidence_counts_in_the_template_family() -> None:
    """A fleet tied only by what it sends: what its pooled prompts cover is the same
    observation as the tie (a public harness's items), so one family, not two."""
    from distillguard.detectors.semantic import sweep
    from distillguard.detectors.semantic.subjects import Subject, make_evidence

    rows = np.arange(3, dtype=np.int64)
    crowd = Subject("C-1", "cluster", rows, ("a", "b"), 3, 3, family="template")
    fleet = Subject("C-2", "cluster", rows, ("a", "b"), 3, 3)
    assert make_evidence(sweep.INFO, crowd, 0.5, "s", {}).family == "template"
    assert make_evidence(sweep.INFO, fleet, 0.5, "s", {}).family == "semantic"


def test_account_table_holds_the_groups_of_account_rows(store: Any) -> None:
    from distillguard.detectors.semantic.subjects import account_table, accounts

    context = _context(store)
    frame = semantic_frame(context)
    table = account_table(frame)
    rows = account_rows(frame)
    assert table.ids == list(rows)
    assert all(np.array_equal(table.rows(i), rows[a]) for i, a in enumerate(table.ids))
    subjects = accounts(context)
    assert [s.subject for s in subjects] == table.ids
    counts = frame.attrs["accounts"]
    assert all(s.exchanges == counts.loc[s.subject, "exchanges"] for s in subjects)


def test_batched_spreads_are_those_of_sample_stats(store: Any) -> None:
    frame = semantic_frame(_context(store))
    vectors = frame.attrs["embeddings"]
    rng = np.random.default_rng(0)
    for size in (2, 16, 48, 130):
        rows = rng.integers(0, len(vectors), (4, size))
        batched = distribution.spreads(vectors[rows])
        assert [float(v) for v in batched] == [sweep.sample_stats(vectors[r], 1.0)[1] for r in rows]


def test_vectorised_strengths_are_those_of_one_subject_at_a_time(store: Any) -> None:
    context = _context(store)
    settings = distribution.Settings(emit_above=0.0)
    run = distribution._run(context, settings)
    assert run is not None
    account_tests, _ = run
    strengths = distribution.account_strengths(account_tests, settings)
    assert len(strengths) > 50
    for entry, strength in enumerate(strengths.tolist()):
        assert strength == distribution.strength_of(account_tests.tested(entry), settings)
    tags = capability_tags.Settings()
    shares = np.linspace(0.0, 1.0, 41)
    distinct = np.arange(41, dtype=np.int64) * 9
    batched, _, _ = capability_tags.judge(shares, distinct, 0.45, tags)
    values = zip(shares.tolist(), distinct.tolist(), batched.tolist(), strict=True)
    for share, prompts, strength in values:
        lift = share / 0.45
        alone = ramp_product(
            tags.cap,
            lambda share=share: float(ramp(share, tags.min_share, tags.full_share)),
            lambda lift=lift: float(ramp(lift, tags.min_lift, tags.full_lift)),
            lambda c=share * prompts: float(log_ramp(c, tags.min_count, tags.full_count)),
        )
        assert strength == alone


def test_account_codes_across_chunks_match_one_encoding() -> None:
    """The frame encodes DuckDB's chunks without combining them (engine/codes.py); codes
    and ids must be those of one encoding of the whole column."""
    import pyarrow as pa

    from distillguard.engine.codes import dictionary_codes as _account_codes

    chunks = [["b", "a", "b"], [], ["c", "a"], ["d"]]
    codes, ids = _account_codes(pa.chunked_array(chunks, pa.string()))
    flat = [value for chunk in chunks for value in chunk]
    assert [ids[int(code)].as_py() for code in codes] == flat
    assert sorted(ids.to_pylist()) == ["a", "b", "c", "d"]
    empty_codes, empty_ids = _account_codes(pa.chunked_array([], pa.string()))
    assert len(empty_codes) == 0 and len(empty_ids) == 0
