"""Coordination stage on tiny hand-made stores: a campaign, a company team, a crowd."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from distillguard.detectors.base import Evidence
from distillguard.detectors.context import ScanContext
from distillguard.detectors.coordination import DETECTORS, ClusterFindings, find_clusters
from distillguard.detectors.coordination.rarity import rarity
from distillguard.engine.store import append_arrow, open_store
from distillguard.schema import ACCOUNT_SCHEMA, EXCHANGE_FEATURE_SCHEMA, EXCHANGE_SCHEMA

START = datetime(2026, 10, 1, tzinfo=UTC)
HARVEST = {"DG-402", "DG-403", "DG-404", "DG-405", "DG-401"}


def _account(aid: str, **kw: Any) -> dict[str, Any]:
    return {"account_id": aid, "source_file": "a.jsonl", "source_line": 1, **kw}


def _exchange(aid: str, n: int, ts: datetime, ip: str, ua: str, **kw: Any) -> dict[str, Any]:
    return {
        "exchange_id": f"{aid}-{n}",
        "ts": ts,
        "account_id": aid,
        "model": "m",
        "messages": "[]",
        "n_messages": 1,
        "prompt_text": "p",
        "client_ip": ip,
        "user_agent": ua,
        "source_file": "x.jsonl",
        "source_line": n,
        **kw,
    }


def _feature(row: dict[str, Any], wrapper: int) -> dict[str, Any]:
    return {
        "exchange_id": row["exchange_id"],
        "account_id": row["account_id"],
        "ts": row["ts"],
        "model": "m",
        "lang": "en",
        "prompt_chars": 10,
        # A different task under the wrapper on every request (a script walking a pool).
        "text_hash": wrapper * 1_000_003 + int(row["source_line"]),
        "template_id": wrapper,
        "wrapper_id": wrapper,
        "lsh_bands": [],
        "instruction_sentences": [],
        "p_reasoning": 0.0,
        "p_reconstruct": 0.0,
        "p_grading": 0.0,
        "p_tool": 0.0,
        "p_rewrite": 0.0,
        "capability": "reasoning" if wrapper == 17 else "chat",
        "truncated": False,
    }


def world(casuals: int = 200, extra: int = 0, seed: int = 1) -> tuple[list, list, list]:
    """Accounts, exchanges, features: a 10-account campaign, a 6-person team, a crowd."""
    rng = random.Random(seed)
    accounts, rows, feats = [], [], []
    n = 0
    for i in range(10):  # campaign: one card, throwaway domains, a /24, one wrapper, lockstep
        aid = f"camp{i:02d}"
        accounts.append(
            _account(
                aid,
                created_at=START - timedelta(days=9, minutes=5 * i),
                email_domain=("qwzkxv.top", "gmail.com", "plmoqa.site", "outlook.com")[i % 4],
                payment_fingerprint="pm_campaign",
                signup_ip=f"45.76.130.{10 + i}",
            )
        )
        for day in range(3):
            for slot in range(12):
                n += 1
                ts = START + timedelta(days=day, hours=2, minutes=10 * slot, seconds=i)
                row = _exchange(
                    aid,
                    n,
                    ts,
                    f"45.76.130.{rng.randrange(2, 250)}",
                    "OpenAI/Python 1.54.4",
                    temperature=0.6,
                    max_tokens=32000,
                )
                rows.append(row)
                feats.append(_feature(row, 17))
    for i in range(6):  # a company team: one NAT, one card, one org, human timing, own prompts
        aid = f"corp{i}"
        accounts.append(
            _account(
                aid,
                created_at=START - timedelta(days=300 + 20 * i),
                organization_id="org_acme",
                email_domain="acme.com",
                payment_fingerprint="pm_acme",
                signup_ip="24.30.5.7",
            )
        )
        for _k in range(20):
            n += 1
            ts = START + timedelta(days=rng.randrange(3), hours=rng.uniform(13, 22))
            row = _exchange(
                aid, n, ts, "24.30.5.7", rng.choice(["curl/8.14.1", "OpenAI/JS 5.23.1"])
            )
            rows.append(row)
            feats.append(_feature(row, 1000 + n))
    pool = [
        f"73.{rng.randrange(10, 30)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        for _ in range(300)
    ]
    uas = ["OpenAI/Python 1.99.9", "OpenAI/Python 2.3.0", "curl/8.14.1", "OpenAI/JS 4.104.0"]
    for i in range(casuals + extra):  # ordinary users on a shared residential proxy pool, gmail
        aid = f"user{i:04d}"
        accounts.append(
            _account(
                aid,
                created_at=START - timedelta(days=rng.uniform(1, 400)),
                email_domain="gmail.com",
                payment_fingerprint=f"pm_{i}" if rng.random() < 0.4 else None,
                signup_ip=rng.choice(pool),
            )
        )
        ua = rng.choice(uas)
        for _k in range(rng.randrange(2, 8)):
            n += 1
            ts = START + timedelta(days=rng.randrange(3), hours=rng.uniform(0, 24))
            row = _exchange(aid, n, ts, rng.choice(pool), ua)
            rows.append(row)
            feats.append(_feature(row, 5000 + n))
    return accounts, rows, feats


def findings(casuals: int = 200, extra: int = 0, features: bool = True) -> ClusterFindings:
    accounts, rows, feats = world(casuals, extra)
    return findings_of(accounts, rows, feats if features else None)


def findings_of(
    accounts: list[dict[str, Any]], rows: list[dict[str, Any]], feats: list[dict[str, Any]] | None
) -> ClusterFindings:
    """The coordination stage on a store of these records (features only when given)."""
    con = open_store(None)
    append_arrow(con, "accounts", pa.Table.from_pylist(accounts, schema=ACCOUNT_SCHEMA))
    append_arrow(con, "exchanges", pa.Table.from_pylist(rows, schema=EXCHANGE_SCHEMA))
    if feats is not None:
        con.create_table("exchange_features", schema=ibis.schema(EXCHANGE_FEATURE_SCHEMA))
        table = pa.Table.from_pylist(feats, schema=EXCHANGE_FEATURE_SCHEMA)
        append_arrow(con, "exchange_features", table)
    return find_clusters(ScanContext(con=con))


@pytest.fixture(scope="module")
def found() -> ClusterFindings:
    return findings()


def _cluster_with(f: ClusterFindings, prefix: str) -> tuple[str, list[str]]:
    hits = [(cid, m) for cid, m in f.clusters.items() if any(a.startswith(prefix) for a in m)]
    assert len(hits) == 1, hits
    return hits[0]


def _max(evidence: list[Evidence]) -> float:
    return max(e.strength for e in evidence if e.detector in HARVEST)


def test_campaign_is_one_cluster_with_strong_evidence(found: ClusterFindings) -> None:
    cid, members = _cluster_with(found, "camp")
    assert members == [f"camp{i:02d}" for i in range(10)]
    strengths = {e.detector: e.strength for e in found.evidence[cid]}
    assert strengths["DG-402"] > 0.5 and strengths["DG-403"] > 0.5
    assert strengths["DG-404"] > 0.5, found.evidence[cid]
    assert found.exchanges[cid] == 360
    assert found.capabilities[cid] == ["reasoning"]
    assert found.first_seen[cid] is not None and found.last_seen[cid] is not None
    kinds = {i.kind for i in found.indicators[cid]}
    assert {"payment_fingerprint", "client_subnet", "wrapper"} <= kinds


def test_company_team_is_a_cluster_with_weak_evidence(found: ClusterFindings) -> None:
    cid, members = _cluster_with(found, "corp")
    assert members == [f"corp{i}" for i in range(6)]
    assert _max(found.evidence[cid]) < 0.3
    hydra = next(e for e in found.evidence[cid] if e.detector == "DG-401")
    assert "one declared identity" in hydra.summary and "payment fingerprint" in hydra.summary
    camp, _ = _cluster_with(found, "camp")
    assert _max(found.evidence[camp]) > 2 * _max(found.evidence[cid])


def test_crowd_on_a_shared_proxy_pool_does_not_merge(found: ClusterFindings) -> None:
    clustered = [a for m in found.clusters.values() for a in m if a.startswith("user")]
    assert clustered == []
    assert len(found.clusters) == 2


def test_without_features_the_infrastructure_still_ties_them() -> None:
    f = findings(casuals=50, features=False)
    _, members = _cluster_with(f, "camp")
    assert len(members) == 10
    assert all(not caps for caps in f.capabilities.values())


def test_same_input_same_ids_and_adding_an_account_keeps_them(found: ClusterFindings) -> None:
    again = findings()
    assert again.clusters == found.clusters
    assert [e.summary for e in again.evidence[next(iter(again.evidence))]] == [
        e.summary for e in found.evidence[next(iter(found.evidence))]
    ]
    grown = findings(extra=1)
    assert grown.clusters == found.clusters


def test_detectors_report_their_own_slice(found: ClusterFindings) -> None:
    accounts, rows, _ = world(20)
    con = open_store(None)
    append_arrow(con, "accounts", pa.Table.from_pylist(accounts, schema=ACCOUNT_SCHEMA))
    append_arrow(con, "exchanges", pa.Table.from_pylist(rows, schema=EXCHANGE_SCHEMA))
    context = ScanContext(con=con)
    ids = [d.INFO.id for d in DETECTORS]
    assert ids == sorted(set(ids)) and ids[0] == "DG-401"
    for detector in DETECTORS:
        evidence = detector.detect(context)
        assert all(e.detector == detector.INFO.id for e in evidence)
        assert all(e.subject_kind == "cluster" and e.subject.startswith("C-") for e in evidence)
    assert len(context.frames) == 1  # the graph was built once for all five


@given(
    sharers=st.integers(min_value=2, max_value=10_000),
    more=st.integers(min_value=0, max_value=10_000),
    population=st.integers(min_value=1, max_value=100_000),
    cap=st.integers(min_value=2, max_value=20_000),
)
def test_more_sharers_never_weigh_more(sharers: int, more: int, population: int, cap: int) -> None:
    """From two sharers on (one account alone ties nobody and weighs 0), weight only falls."""
    w = rarity(sharers, population, cap)
    assert 0.0 <= w <= 1.0
    assert rarity(sharers + more, population, cap) <= w + 1e-12
    assert rarity(sharers, population + more, cap) >= w - 1e-12 or sharers > population


def test_rarity_extremes() -> None:
    assert rarity(2, 50_000, 1000) == pytest.approx(1.0)
    assert rarity(1, 50_000, 1000) == 0.0
    assert rarity(900, 50_000, 1000) < 0.5
    assert rarity(5000, 50_000, 1000) == 0.0


def test_an_organisation_claimed_by_unrelated_accounts_is_shared_infrastructure() -> None:
    """Six accounts declare one organisation but share nothing an organisation shares (each
    its own card, webmail, home network): the organisation is a claim, so the accounts are
    six identities tied by it, unlike the company team that pays and signs up together."""
    accounts, rows, feats = world()
    rng = random.Random(7)
    n = len(rows)
    for i in range(6):
        aid = f"claim{i}"
        accounts.append(
            _account(
                aid,
                created_at=START - timedelta(days=rng.uniform(5, 150)),
                organization_id="org_startup",
                email_domain="gmail.com",
                payment_fingerprint=f"pm_claim{i}",
                signup_ip=f"98.{rng.randrange(256)}.{rng.randrange(256)}.7",
            )
        )
        for _k in range(10):
            n += 1
            ts = START + timedelta(days=rng.randrange(3), hours=rng.uniform(0, 24))
            row = _exchange(aid, n, ts, f"98.{rng.randrange(256)}.{rng.randrange(256)}.9", "x")
            rows.append(row)
            feats.append(_feature(row, 9000 + n))
    f = findings_of(accounts, rows, feats)
    cid, members = _cluster_with(f, "claim")
    assert members == [f"claim{i}" for i in range(6)]
    assert f.profiles[cid].identities == 6
    infra = next(e for e in f.evidence[cid] if e.detector == "DG-402")
    assert infra.strength > 0.5 and "organisation" in infra.summary
    team, _ = _cluster_with(f, "corp")  # the team's organisation is corroborated by its card
    assert f.profiles[team].identities == 1
    assert _max(f.evidence[team]) < 0.3
