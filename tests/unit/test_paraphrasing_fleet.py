"""A paraphrasing fleet: small unrelated accounts whose only common trait is a house rule.

Each account sends too few prompts to judge alone and paraphrases every wrapper, but all of
them keep one standing instruction sentence word for word.  The instruction-sentence view
must tie them (and not a crowd using a stock phrase now and then, nor accounts resending one
prompt), and DG-205 must judge the fleet's pooled prompts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from distillguard.detectors.behaviour import signal_concentration
from distillguard.detectors.context import ScanContext
from distillguard.detectors.coordination import find_clusters, house_rule
from distillguard.engine.store import append_arrow, open_store
from distillguard.features.templates import fingerprints_and_sentences, stable_hash
from distillguard.features.text import normalize
from distillguard.schema import ACCOUNT_SCHEMA, EXCHANGE_FEATURE_SCHEMA, EXCHANGE_SCHEMA

START = datetime(2026, 10, 1, tzinfo=UTC)
HOUSE = "always give your output in a formal tone."
STOCK = "explain your reasoning step by step before answering."
PARAPHRASES = (
    "Think step by step and show every intermediate step.",
    "Lay out your full chain of thought explicitly, with checks.",
    "Work through this carefully and write out the complete reasoning.",
    "Reason it through in detail before you give the final answer.",
)


def sentences(text: str) -> list[int]:
    return fingerprints_and_sentences(normalize(text))[1]


# --- the feature --------------------------------------------------------------------------


def test_paraphrased_wrappers_keep_the_house_sentence() -> None:
    ids = set()
    shared = None
    for n, phrase in enumerate(PARAPHRASES):
        text = f"{phrase} Always give your output in a formal tone.\n\nWhat is {n} + {n * 7}?"
        (_, _, wrapper_id), found = fingerprints_and_sentences(normalize(text))
        ids.add(wrapper_id)
        shared = set(found) if shared is None else shared & set(found)
    assert len(ids) == len(PARAPHRASES)  # every wrapper differs
    assert shared == {stable_hash(HOUSE)}


def test_stock_short_sentences_and_plain_chat_have_none() -> None:
    assert sentences("Be thorough. No disclaimers.\n\nWhat is the capital of France?") == []
    assert sentences("My boyfriend and I want to plan a date in NYC this Sunday.") == []


def test_a_run_of_short_stock_sentences_is_one_house_rule_wherever_it_stands() -> None:
    rule = "you must respond completely. no disclaimers."
    after_long = (
        "Reason through it thoroughly, then state the answer. "
        "You must respond completely. No disclaimers.\n\nWhat is 2 + 2?"
    )
    after_short = "Answer briefly. You must respond completely. No disclaimers.\n\nWhat is 3 + 5?"
    assert stable_hash(rule) in sentences(after_long)
    assert stable_hash(rule) in sentences(after_short)
    assert sentences("No disclaimers.\n\nWhat is the capital of France?") == []


def test_chinese_sentences_count_by_han_characters() -> None:
    text = "请展示你全部的推理步骤，不要省略任何中间过程。\n\n甲乙两人相距六十千米，几小时相遇？"
    assert stable_hash("请展示你全部的推理步骤,不要省略任何中间过程。") in sentences(text)


@given(st.text(max_size=300), st.integers(min_value=0, max_value=10**6))
def test_sentences_are_sorted_distinct_and_ignore_numbers(text: str, number: int) -> None:
    found = sentences(text)
    assert found == sorted(set(found))
    wrapped = f"Explain every step of your reasoning in full detail, please.\n\n{text}"
    assert sentences(wrapped.replace("0", str(number))) == sentences(wrapped)


# --- the view and the fleet's pooled prompts ----------------------------------------------


def _world() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Six fleet accounts (20 prompts, 12 with the house rule, 60% reasoning), six users of
    an extension adding a fixed rule to chat, a crowd of
    six hundred using a stock phrase in 1 prompt of 10, and three accounts each resending
    one prompt that carries the same sentence."""
    accounts: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    feats: list[dict[str, Any]] = []

    def add(
        aid: str, n: int, text_hash: int, found: list[int], reasoning: bool, text: str = "p"
    ) -> None:
        ts = START + timedelta(days=len(accounts) % 7, minutes=n * 3)
        rows.append(
            {
                "exchange_id": f"{aid}-{n}",
                "ts": ts,
                "account_id": aid,
                "model": "m",
                "messages": "[]",
                "n_messages": 1,
                "prompt_text": text,
                "client_ip": f"10.{len(accounts)}.{n % 5}.1",
                "user_agent": f"ua-{aid}",
                "source_file": "x.jsonl",
                "source_line": n,
            }
        )
        feats.append(
            {
                "exchange_id": f"{aid}-{n}",
                "account_id": aid,
                "ts": ts,
                "model": "m",
                "lang": "en",
                "prompt_chars": 100,
                "text_hash": text_hash,
                "template_id": text_hash,
                "wrapper_id": text_hash,
                "lsh_bands": [],
                "instruction_sentences": found,
                "p_reasoning": 0.9 if reasoning else 0.05,
                "p_reconstruct": 0.0,
                "p_grading": 0.0,
                "p_tool": 0.0,
                "p_rewrite": 0.0,
                "capability": "reasoning" if reasoning else "chat",
                "truncated": False,
            }
        )

    def account(aid: str) -> None:
        accounts.append(
            {
                "account_id": aid,
                "source_file": "a.jsonl",
                "source_line": len(accounts) + 1,
                "created_at": START - timedelta(days=30 + len(accounts)),
                "email_domain": "gmail.com",
                "payment_fingerprint": f"pm-{aid}",
                "organization_id": f"org-{aid}",
                "signup_ip": f"172.{len(accounts)}.0.9",
            }
        )

    house, stock = stable_hash(HOUSE), stable_hash(STOCK)
    for i in range(6):
        aid = f"fleet{i}"
        account(aid)
        for n in range(20):
            harvest = n % 5 < 3
            text = f"{PARAPHRASES[n % 4]} Always give your output in a formal tone.\n\n{n}+{i}?"
            add(aid, n, 1000 * i + n, [house] if harvest else [], harvest, text)
    # Users of one browser extension that adds a fixed rule to ordinary chat.
    extension = stable_hash("please keep every answer short and friendly.")
    for i in range(6):
        aid = f"extension{i}"
        account(aid)
        for n in range(20):
            add(aid, n, 50_000 + 100 * i + n, [extension], False)
    for i in range(600):
        aid = f"crowd{i:02d}"
        account(aid)
        for n in range(10):
            add(aid, n, 90_000 + 10 * i + n, [stock] if n == 0 else [], False)
    for i in range(3):
        aid = f"resend{i}"
        account(aid)
        for n in range(10):
            add(
                aid,
                n,
                77 + i,
                [stable_hash("please summarise the paper below in five bullets.")],
                False,
            )
    return accounts, rows, feats


@pytest.fixture(scope="module")
def context() -> ScanContext:
    accounts, rows, feats = _world()
    con = open_store(None)
    append_arrow(con, "accounts", pa.Table.from_pylist(accounts, schema=ACCOUNT_SCHEMA))
    append_arrow(con, "exchanges", pa.Table.from_pylist(rows, schema=EXCHANGE_SCHEMA))
    con.create_table("exchange_features", schema=ibis.schema(EXCHANGE_FEATURE_SCHEMA))
    append_arrow(
        con, "exchange_features", pa.Table.from_pylist(feats, schema=EXCHANGE_FEATURE_SCHEMA)
    )
    return ScanContext(con=con)


def test_the_house_rule_ties_the_fleet_and_nothing_else(context: ScanContext) -> None:
    clusters = find_clusters(context).clusters
    fleet = sorted(f"fleet{i}" for i in range(6))
    assert fleet in list(clusters.values())
    tied = {m for members in clusters.values() for m in members}
    assert not any(m.startswith(("crowd", "resend")) for m in tied)
    assert sorted(f"extension{i}" for i in range(6)) in list(clusters.values())


def test_the_house_rule_wrapping_harvest_requests_is_template_evidence(
    context: ScanContext,
) -> None:
    clusters = find_clusters(context).clusters
    by_members = {tuple(members): cid for cid, members in clusters.items()}
    fleet = by_members[tuple(f"fleet{i}" for i in range(6))]
    extension = by_members[tuple(f"extension{i}" for i in range(6))]
    found = {e.subject: e for e in house_rule.detect(context)}
    assert found[fleet].family == "template" and found[fleet].strength > 0.4
    assert found[fleet].details["carried"] == 0.6 and found[fleet].details["harvest"] == 1.0
    assert '"always give your output in a formal tone."' in found[fleet].summary
    assert found[extension].strength == 0.0  # a fixed rule around ordinary chat


def test_the_hydra_reason_quotes_the_house_rule_instead_of_its_hash(
    context: ScanContext,
) -> None:
    findings = find_clusters(context)
    by_members = {tuple(members): cid for cid, members in findings.clusters.items()}
    fleet = by_members[tuple(f"fleet{i}" for i in range(6))]
    (hydra,) = [e for e in findings.evidence[fleet] if e.detector == "DG-401"]
    assert 'share a standing instruction sentence "always give your output in a formal tone."' in (
        hydra.summary
    )


def test_fleet_prompts_are_judged_pooled(context: ScanContext) -> None:
    evidence = signal_concentration.detect(context)
    assert not [e for e in evidence if e.subject_kind == "account"]  # each too small alone
    (fleet,) = [e for e in evidence if e.subject_kind == "cluster" and e.strength > 0.1]
    assert fleet.details["members"] == 6 and fleet.details["count"] == 72
    assert fleet.strength > 0.2
    assert "pooled over the fleet's 6 accounts, 60% of 120 prompts" in fleet.summary
    # Tied only by its house rule: the pooled signals and the tie are one (template) family.
    assert fleet.family == "template"
