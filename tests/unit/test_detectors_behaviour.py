"""Behaviour detectors on hand-made accounts: a harvester is flagged, the hard negatives
(an enterprise app, a benchmark sweep, an agentic developer, a student) are not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pytest

from distillguard.detectors.base import FAMILIES, Evidence
from distillguard.detectors.behaviour import (
    DETECTORS,
    account_frame,
    extraction_parameters,
    harvest_volume,
    scripted_timing,
    signal_concentration,
)
from distillguard.detectors.context import ScanContext
from distillguard.engine.store import append_arrow, open_store
from distillguard.errors import UserError
from distillguard.schema import ACCOUNT_SCHEMA, EXCHANGE_SCHEMA
from distillguard.schema.tables import EXCHANGE_FEATURE_SCHEMA

T0 = datetime(2026, 3, 2, tzinfo=UTC)
HARVEST, ENTERPRISE, BENCHMARK, DEVELOPER, STUDENT = (
    "harvest",
    "enterprise",
    "benchmark",
    "developer",
    "student",
)
BENIGN = (ENTERPRISE, BENCHMARK, DEVELOPER, STUDENT)


def _exchange(account: str, index: int, ts: datetime, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "exchange_id": f"{account}-{index}",
        "ts": ts,
        "account_id": account,
        "model": "m-large",
        "messages": '[{"role":"user","content":"q"}]',
        "n_messages": 1,
        "prompt_text": "q",
        "input_tokens": 100,
        "output_tokens": 300,
        "source_file": "synthetic.jsonl",
        "source_line": index,
    }
    row.update(extra)
    return row


def _harvest(rng: np.random.Generator) -> list[dict[str, Any]]:
    """600 one-shot requests over 4 days, batches of 25 every 3 s around the clock,
    long reasoning answers, max_tokens 32k, effort high, n=4 on every third request."""
    rows: list[dict[str, Any]] = []
    start = T0 + timedelta(days=2)
    for batch in range(24):
        ts = start + timedelta(hours=4 * batch + float(rng.uniform(0, 1)))
        for _ in range(25):
            index = len(rows)
            rows.append(
                _exchange(
                    HARVEST,
                    index,
                    ts,
                    output_tokens=int(rng.integers(1200, 2000)),
                    reasoning_tokens=int(rng.integers(2500, 4000)),
                    max_tokens=32000,
                    reasoning_effort="high",
                    n=4 if index % 3 == 0 else 1,
                    temperature=0.6,
                    client_ip=f"203.0.{index % 7}.{index % 250}",
                )
            )
            ts += timedelta(seconds=3.0 * (1 + 0.02 * float(rng.normal())))
    return rows


def _enterprise(rng: np.random.Generator) -> list[dict[str, Any]]:
    """3,000 single-turn app requests over 10 days, Poisson arrivals, short answers."""
    rows: list[dict[str, Any]] = []
    for index in range(3000):
        ts = T0 + timedelta(seconds=float(rng.uniform(0, 10 * 86400)))
        rows.append(
            _exchange(
                ENTERPRISE,
                index,
                ts,
                system_prompt="You are the support bot.",
                output_tokens=int(rng.integers(150, 450)),
                max_tokens=1024,
                temperature=0.2,
                client_ip="34.1.2.3",
            )
        )
    return rows


def _benchmark(rng: np.random.Generator) -> list[dict[str, Any]]:
    """1,000 benchmark items in scripted batches of 200, 2 s apart, n=5, short answers."""
    rows: list[dict[str, Any]] = []
    for batch in range(5):
        ts = T0 + timedelta(days=1 + batch, hours=10)
        for _ in range(200):
            rows.append(
                _exchange(
                    BENCHMARK,
                    len(rows),
                    ts,
                    output_tokens=int(rng.integers(100, 300)),
                    max_tokens=4096,
                    n=5,
                    temperature=0.0,
                )
            )
            ts += timedelta(seconds=2.0)
    return rows


def _developer(rng: np.random.Generator) -> list[dict[str, Any]]:
    """60 agentic sessions of 10 turns in office hours, big budgets and high effort."""
    rows: list[dict[str, Any]] = []
    for session in range(60):
        ts = T0 + timedelta(days=session % 10, hours=9 + float(rng.uniform(0, 8)))
        for turn in range(1, 11):
            rows.append(
                _exchange(
                    DEVELOPER,
                    len(rows),
                    ts,
                    n_messages=2 * turn - 1,
                    conversation_id=f"dev-{session}",
                    output_tokens=int(rng.integers(200, 600)),
                    reasoning_tokens=int(rng.integers(400, 1000)),
                    max_tokens=32000,
                    reasoning_effort="high",
                )
            )
            ts += timedelta(seconds=float(rng.exponential(40.0)) + 5)
    return rows


def _student(rng: np.random.Generator) -> list[dict[str, Any]]:
    """A new student: 40 homework questions over 8 evenings, some 'step by step'."""
    rows: list[dict[str, Any]] = []
    for index in range(40):
        ts = T0 + timedelta(days=index // 5, hours=19 + float(rng.uniform(0, 3)))
        rows.append(_exchange(STUDENT, index, ts, output_tokens=int(rng.integers(300, 700))))
    return rows


def _accounts() -> pa.Table:
    created = {
        HARVEST: T0 + timedelta(days=1, hours=12),
        ENTERPRISE: T0 - timedelta(days=400),
        BENCHMARK: T0 - timedelta(days=300),
        DEVELOPER: T0 - timedelta(days=200),
        STUDENT: T0 - timedelta(days=1),
    }
    rows = [
        {"account_id": a, "created_at": c, "source_file": "accounts.jsonl", "source_line": i}
        for i, (a, c) in enumerate(created.items())
    ]
    return pa.Table.from_pylist(rows, schema=ACCOUNT_SCHEMA)


def _features(exchanges: pa.Table) -> pa.Table:
    """Prompt signals: the harvester's prompts ask for reasoning 90% of the time, the
    student's 30%, nobody else's."""
    rows: list[dict[str, Any]] = []
    for row in exchanges.select(["exchange_id", "account_id", "ts", "model"]).to_pylist():
        index = int(row["exchange_id"].rsplit("-", 1)[1])
        reasoning = (row["account_id"] == HARVEST and index % 10 != 0) or (
            row["account_id"] == STUDENT and index % 10 < 3
        )
        rows.append(
            {
                **row,
                "lang": "en",
                "prompt_chars": 80,
                "text_hash": index,
                "template_id": index % 3,
                "wrapper_id": 7 if row["account_id"] == HARVEST else index % 5,
                "lsh_bands": [index],
                "instruction_sentences": [],
                "p_reasoning": 0.9 if reasoning else 0.1,
                "p_reconstruct": 0.0,
                "p_grading": 0.0,
                "p_tool": 0.0,
                "p_rewrite": 0.0,
                "capability": "reasoning" if reasoning else "chat",
                "truncated": False,
            }
        )
    return pa.Table.from_pylist(rows, schema=EXCHANGE_FEATURE_SCHEMA)


def build_context(*, accounts: bool = True, features: bool = True) -> ScanContext:
    rng = np.random.default_rng(7)
    rows = [
        *_harvest(rng),
        *_enterprise(rng),
        *_benchmark(rng),
        *_developer(rng),
        *_student(rng),
    ]
    exchanges = pa.Table.from_pylist(rows, schema=EXCHANGE_SCHEMA)
    con = open_store(None)
    append_arrow(con, "exchanges", exchanges)
    if accounts:
        append_arrow(con, "accounts", _accounts())
    else:
        con.raw_sql("DROP TABLE accounts")  # ibis drop_table trips on DuckDB 1.5
    if features:
        con.create_table("exchange_features", schema=ibis.schema(EXCHANGE_FEATURE_SCHEMA))
        append_arrow(con, "exchange_features", _features(exchanges))
    return ScanContext(con)


@pytest.fixture(scope="module")
def context() -> ScanContext:
    return build_context()


def _by_subject(evidence: list[Evidence]) -> dict[str, Evidence]:
    return {item.subject: item for item in evidence}


def test_frame_has_one_row_per_account_with_exact_numbers(context: ScanContext) -> None:
    frame = account_frame(context)
    assert sorted(frame.index) == sorted([HARVEST, ENTERPRISE, BENCHMARK, DEVELOPER, STUDENT])
    harvest = frame.loc[HARVEST]
    assert harvest["exchanges"] == 600
    assert harvest["one_shot_share"] == 1.0
    assert harvest["big_max_tokens_share"] == 1.0
    assert harvest["high_effort_share"] == 1.0
    assert harvest["multi_sample_share"] == pytest.approx(200 / 600)
    assert harvest["regular_gap_share"] > 0.9
    assert harvest["quiet_share"] > 0.15
    assert harvest["account_age_days"] == pytest.approx(0.5, abs=0.05)
    assert harvest["distinct_prefixes"] == 7
    assert harvest["param_fingerprint"] == "0.6|-|32000|1|high|-"
    assert harvest["param_fingerprint_share"] == pytest.approx(400 / 600)
    assert harvest["share_p_reasoning"] == pytest.approx(0.9)
    assert harvest["top_wrapper_share"] == 1.0
    developer = frame.loc[DEVELOPER]
    assert developer["conversation_share"] == 1.0
    assert developer["one_shot_share"] == 0.0
    assert frame.loc[ENTERPRISE]["single_turn_share"] == 1.0
    assert frame.loc[STUDENT]["quiet_share"] == 0.0
    # Cached: a second call returns the same object.
    assert account_frame(context) is frame


@pytest.mark.parametrize("module", DETECTORS, ids=lambda m: m.INFO.id)
def test_each_detector_flags_the_harvester_and_no_hard_negative(
    context: ScanContext, module: Any
) -> None:
    evidence = _by_subject(module.detect(context))
    assert HARVEST in evidence, module.INFO.id
    for benign in BENIGN:
        if module is scripted_timing and benign == BENCHMARK:
            continue  # a benchmark sweep is scripted too; tested below
        assert benign not in evidence, (module.INFO.id, benign, evidence.get(benign))


@pytest.mark.parametrize("module", DETECTORS, ids=lambda m: m.INFO.id)
def test_evidence_fields_are_valid(context: ScanContext, module: Any) -> None:
    # prompt-signal concentration reads prompt content: its own, independent family
    expected = "prompt" if module is signal_concentration else "behaviour"
    assert module.INFO.family == expected and module.INFO.family in FAMILIES
    assert module.INFO.id.startswith("DG-2")
    for item in module.detect(context):
        assert item.detector == module.INFO.id
        assert item.family == expected
        assert item.subject_kind == "account"
        assert 0.0 < item.strength <= 1.0
        assert any(ch.isdigit() for ch in item.summary)
        assert item.details


def test_scripted_timing_stays_low_alone(context: ScanContext) -> None:
    """Benchmark sweeps are scripted: the evidence may fire but never above the cap."""
    evidence = _by_subject(scripted_timing.detect(context))
    cap = scripted_timing.Settings().max_strength
    assert all(item.strength <= cap for item in evidence.values())
    assert evidence[HARVEST].strength > evidence.get(BENCHMARK, evidence[HARVEST]).strength * 0.9


def test_harvest_summary_has_numbers(context: ScanContext) -> None:
    item = _by_subject(harvest_volume.detect(context))[HARVEST]
    assert item.summary.startswith("600 requests in ")
    assert "100% one-shot" in item.summary
    assert item.details["exchanges"] == 600


def test_strength_is_monotone_in_settings() -> None:
    """Raising a threshold can only lower strengths."""
    lenient = build_context(features=False)
    strict = build_context(features=False)
    strict.config = {"DG-201": {"min_exchanges": 300.0, "full_exchanges": 3000.0}}
    low = _by_subject(harvest_volume.detect(strict))[HARVEST].strength
    high = _by_subject(harvest_volume.detect(lenient))[HARVEST].strength
    assert low < high


def test_bad_settings_are_a_clear_error(context: ScanContext) -> None:
    bad = ScanContext(context.con, config={"DG-201": {"min_exchange": 5}})
    with pytest.raises(UserError, match="unknown setting"):
        harvest_volume.detect(bad)
    inverted = ScanContext(context.con, config={"DG-202": {"min_quiet_share": 0.5}})
    with pytest.raises(UserError, match="low < high"):
        scripted_timing.detect(inverted)


def test_runs_without_accounts_or_features() -> None:
    """Without the optional tables the detectors that need them return nothing, the
    others still run."""
    context = build_context(accounts=False, features=False)
    frame = account_frame(context)
    assert frame["account_age_days"].isna().all()
    assert frame["share_p_reasoning"].isna().all()
    by_id = {module.INFO.id: module.detect(context) for module in DETECTORS}
    assert by_id["DG-204"] == []
    assert by_id["DG-205"] == []
    assert HARVEST in _by_subject(by_id["DG-201"])
    assert HARVEST in _by_subject(by_id["DG-203"])


def test_empty_accounts_table_is_like_none() -> None:
    rng = np.random.default_rng(1)
    con = open_store(None)
    append_arrow(con, "exchanges", pa.Table.from_pylist(_harvest(rng), schema=EXCHANGE_SCHEMA))
    context = ScanContext(con)
    assert [m.INFO.id for m in DETECTORS if m.detect(context)] == ["DG-201", "DG-202", "DG-203"]


def test_a_new_seat_of_an_established_organisation_is_no_new_account() -> None:
    """Two accounts, each signed up a day before sending 200 requests in two days: one is a
    fresh identity, the other a new seat of an organisation whose first account signed up
    a year earlier (a labelling firm adding staff).  Only the fresh one is a new account
    at volume."""
    from distillguard.detectors.behaviour import new_account_volume

    start = T0 + timedelta(days=400)
    rows = [
        _exchange(account, i, start + timedelta(minutes=15 * i))
        for account in ("fresh", "seat")
        for i in range(200)
    ]
    signups = [
        ("fresh", None, start - timedelta(days=1)),
        ("seat", "org-firm", start - timedelta(days=1)),
        ("veteran", "org-firm", start - timedelta(days=365)),
    ]
    accounts = [
        {
            "account_id": a,
            "organization_id": org,
            "created_at": created,
            "source_file": "accounts.jsonl",
            "source_line": i,
        }
        for i, (a, org, created) in enumerate(signups)
    ]
    con = open_store(None)
    append_arrow(con, "exchanges", pa.Table.from_pylist(rows, schema=EXCHANGE_SCHEMA))
    append_arrow(con, "accounts", pa.Table.from_pylist(accounts, schema=ACCOUNT_SCHEMA))
    evidence = {e.subject: e for e in new_account_volume.detect(ScanContext(con))}
    assert set(evidence) == {"fresh"}
    assert evidence["fresh"].details["identity_age_days"] == pytest.approx(1.0)
    frame = account_frame(ScanContext(con))
    ages = new_account_volume.organisation_age(ScanContext(con), frame)
    assert np.isnan(ages[frame.index.get_loc("fresh")])
    assert ages[frame.index.get_loc("seat")] == pytest.approx(365.0)


def test_a_fleet_harvesting_single_agent_steps_reaches_the_behaviour_floor() -> None:
    """DG-203 1.1: a fleet member that sends 70% of its requests one-shot on the largest
    budget, keeping some trajectories going, shows extraction parameters above the scoring's
    family floor (under 1.0, 0.3: each member on either side of it by its sample's noise);
    a developer's agent, one request in ten one-shot, still shows none."""
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    rows = [
        _exchange(
            "fleet-1",
            i,
            t0 + timedelta(minutes=7 * i),
            max_tokens=64000,
            n_messages=1 if i % 10 < 7 else 3,
            conversation_id=None if i % 10 < 7 else f"trajectory-{i // 10}",
        )
        for i in range(120)
    ]
    con = open_store(None)
    append_arrow(con, "exchanges", pa.Table.from_pylist(rows, schema=EXCHANGE_SCHEMA))
    (fleet,) = extraction_parameters.detect(ScanContext(con))
    assert fleet.details["one_shot_share"] == 0.7
    assert fleet.strength >= 0.35
    developer = _by_subject(extraction_parameters.detect(build_context()))
    assert DEVELOPER not in developer
