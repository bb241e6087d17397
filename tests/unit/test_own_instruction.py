"""An application's own instruction: the share of an account's requests under its
organisation's private system prompt (behaviour frame), and DG-205's discount for it.

A tutoring company whose system prompt says "explain every step, then grade the answer out
of 10" carries a reasoning and a grading signal on every request; that is its product, not a
harvest.  A fleet that hands one instruction to unrelated accounts is not discounted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa
import pytest

from distillguard.detectors.base import EXPLAINED
from distillguard.detectors.behaviour import account_frame
from distillguard.detectors.behaviour import signal_concentration as dg205
from distillguard.detectors.behaviour.frame import SIGNALS
from distillguard.detectors.behaviour.own_instruction import (
    own_instructions,
    reread,
)
from distillguard.detectors.context import ScanContext
from distillguard.engine.store import append_arrow, open_store
from distillguard.schema import EXCHANGE_SCHEMA
from distillguard.schema.tables import EXCHANGE_FEATURE_SCHEMA

T0 = datetime(2026, 3, 2, tzinfo=UTC)
TUTOR = (
    "You are Acme Tutor. Think step by step and show your complete reasoning before the "
    "final answer."
)
"""A tutoring company's instruction; the classifier reads a reasoning request in it."""
BETA = "You are Beta's helper. Think step by step and show all of your working first."
FLEET = "Think step by step and write out your complete reasoning."


def _rows(
    account: str, count: int, system: str | None, org: str | None = None, first: int = 0
) -> list[Any]:
    return [
        {
            "exchange_id": f"{account}-{index}",
            "ts": T0 + timedelta(minutes=61 * index),  # one request an hour
            "account_id": account,
            "organization_id": org,
            "model": "m-large",
            "system_prompt": system,
            "messages": '[{"role":"user","content":"q"}]',
            "n_messages": 1,
            "prompt_text": f"question {index}",
            "input_tokens": 100,
            "output_tokens": 300,
            "source_file": "synthetic.jsonl",
            "source_line": index,
        }
        for index in range(first, first + count)
    ]


def _context() -> ScanContext:
    rows = [
        # one company, two accounts, its own tutoring prompt on every request
        *_rows("tutor-a", 20, TUTOR, org="org-acme"),
        *_rows("tutor-b", 10, TUTOR, org="org-acme"),
        # 18 of 20 requests under its own prompt, two without any
        *_rows("mostly", 18, BETA, org="org-beta"),
        *_rows("mostly", 2, None, org="org-beta", first=18),
        # three unrelated accounts (no organisation) handed one instruction
        *_rows("fleet-1", 10, FLEET),
        *_rows("fleet-2", 10, FLEET),
        *_rows("fleet-3", 10, FLEET),
        # no system prompt at all
        *_rows("plain", 10, None),
    ]
    con = open_store(None)
    append_arrow(con, "exchanges", pa.Table.from_pylist(rows, schema=EXCHANGE_SCHEMA))
    return ScanContext(con)


def test_share_counts_only_a_private_system_prompt() -> None:
    frame = account_frame(_context())
    share = frame["own_instruction_share"]
    assert share["tutor-a"] == 1.0 and share["tutor-b"] == 1.0  # one company's two accounts
    assert share["mostly"] == pytest.approx(18 / 20)
    for account in ("fleet-1", "fleet-2", "fleet-3", "plain"):
        assert share[account] == 0.0, account


def _frame(own: list[float]) -> pd.DataFrame:
    """Accounts that ask for reasoning and grades on every one of 200 prompts."""
    rows = []
    for index, share in enumerate(own):
        row: dict[str, object] = {"account_id": f"a{index}", "featured_exchanges": 200}
        for name in SIGNALS:
            row[f"count_p_{name}"] = 200 if name in ("reasoning", "grading") else 0
            row[f"share_p_{name}"] = 1.0 if name in ("reasoning", "grading") else 0.0
        row.update(count_p_any=200, share_p_any=1.0, own_instruction_share=share)
        rows.append(row)
    return pd.DataFrame(rows)


def test_discount_follows_the_share_of_the_own_instruction() -> None:
    settings = dg205.Settings()
    frame = _frame([0.0, 0.5, 0.8, 0.875, 0.95, 1.0])
    kept = 1.0 - settings.app_discount * dg205._own_application(frame, settings)
    assert kept.tolist() == pytest.approx([1.0, 1.0, 1.0, 0.7, 0.4, 0.4])
    # Without the column (an older store), nothing is discounted.
    assert not dg205._own_application(frame.drop(columns="own_instruction_share"), settings).any()


HARVEST = (
    "Think step by step and show your complete reasoning before the final answer.",
    "Grade the following answer against the rubric and give a score out of 10.",
    "Reconstruct the full chain of reasoning that leads to this finished answer.",
)
COVER = "You are Northforge's research assistant. Give complete, well-structured answers."


def _covered_context() -> ScanContext:
    """A tutoring company whose instruction is its system prompt and whose user texts are
    students' questions, and a harvester behind a private cover prompt whose user texts
    carry its wrappers; every prompt of both reads as a reasoning request in the features."""
    rows = [*_rows("tutor-a", 30, TUTOR, org="org-acme"), *_rows("cover", 30, COVER)]
    for row in rows:
        index = int(str(row["exchange_id"]).rsplit("-", 1)[1])
        question = f"How many ways can {index + 3} people sit at a round table?"
        if row["account_id"] == "cover":
            question = f"{HARVEST[index % len(HARVEST)]}\n\n{question}"
        row["prompt_text"] = question
    con = open_store(None)
    append_arrow(con, "exchanges", pa.Table.from_pylist(rows, schema=EXCHANGE_SCHEMA))
    context = ScanContext(con)
    _features(context)
    context.config = {"DG-205": {"min_count": 2.0, "full_count": 5.0}}
    return context


def test_what_the_requests_ask_without_the_instruction_decides_the_discount() -> None:
    """Read again without its system prompt, the tutoring company's requests ask nothing,
    so the instruction explains all of its strength and it keeps 40%; the harvester's still
    ask for reasoning, grades and reconstructions, so its cover explains none of it."""
    context = _covered_context()
    frame = account_frame(context)
    owners = own_instructions(frame, frame["own_instruction_share"].to_numpy() > 0)
    assert {(o.account_id, o.in_system) for o in owners} == {("tutor-a", True), ("cover", True)}
    as_sent, without = reread(context, owners)
    assert without.loc["tutor-a", "share_p_any"] == 0.0
    assert without.loc["cover", "share_p_any"] == 1.0
    assert as_sent.loc["cover", "share_p_reasoning"] == pytest.approx(
        without.loc["cover", "share_p_reasoning"]
    )
    evidence = {e.subject: e for e in dg205.detect(context) if e.subject_kind == "account"}
    assert evidence["tutor-a"].strength == pytest.approx(0.4)
    assert evidence["tutor-a"].details["explained"] == pytest.approx(0.6)
    assert evidence["cover"].strength == pytest.approx(1.0)
    assert evidence["cover"].details["explained"] == 0.0
    assert "own system prompt" not in evidence["cover"].summary


def test_discounted_reason_says_why() -> None:
    settings = dg205.Settings()
    half, whole = 1.0 - settings.app_discount * dg205._own_application(_frame([0.5, 1.0]), settings)
    assert dg205._application_words(0.5, float(half)) == ""
    words = dg205._application_words(1.0, float(whole))
    assert "100% of its requests carry its organisation's own system prompt" in words
    assert "strength kept at 40%" in words


def test_discount_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="app_share"):
        dg205.Settings(app_min_share=0.9, app_full_share=0.8)
    with pytest.raises(ValueError, match="app_discount"):
        dg205.Settings(app_discount=1.5)


def _features(context: ScanContext) -> None:
    """Every prompt asks for reasoning (probability 0.9)."""
    exchanges = context.con.table("exchanges").to_pyarrow()
    rows = [
        {
            **row,
            "lang": "en",
            "prompt_chars": 80,
            "text_hash": index,
            "template_id": 1,
            "wrapper_id": 7,
            "lsh_bands": [index],
            "instruction_sentences": [],
            "p_reasoning": 0.9,
            "p_reconstruct": 0.0,
            "p_grading": 0.0,
            "p_tool": 0.0,
            "p_rewrite": 0.0,
            "capability": "reasoning",
            "truncated": False,
        }
        for index, row in enumerate(
            exchanges.select(["exchange_id", "account_id", "ts", "model"]).to_pylist()
        )
    ]
    context.con.create_table("exchange_features", schema=ibis.schema(EXCHANGE_FEATURE_SCHEMA))
    append_arrow(
        context.con, "exchange_features", pa.Table.from_pylist(rows, schema=EXCHANGE_FEATURE_SCHEMA)
    )


def test_tutoring_company_is_discounted_in_detect() -> None:
    """Through ``detect``: every account asks for reasoning on every prompt (full strength
    with small counts allowed); the company's own prompt keeps 40%, the fleet's all of it."""
    context = _context()
    _features(context)
    context.config = {"DG-205": {"min_count": 2.0, "full_count": 5.0}}
    evidence = {e.subject: e for e in dg205.detect(context) if e.subject_kind == "account"}
    assert evidence["tutor-a"].strength == pytest.approx(0.4)
    assert evidence["tutor-b"].strength == pytest.approx(0.4)
    assert evidence["mostly"].strength == pytest.approx(1.0 - 0.6 * (0.9 - 0.8) / 0.15, abs=1e-3)
    assert evidence["fleet-1"].strength == pytest.approx(1.0)
    assert evidence["plain"].strength == pytest.approx(1.0)
    assert "own system prompt" in evidence["tutor-a"].summary
    assert "own system prompt" not in evidence["fleet-1"].summary
    assert evidence["tutor-a"].details["own_instruction_share"] == 1.0


def test_a_job_sent_within_an_hour_is_no_application_s_traffic() -> None:
    """The same tutoring company's requests, all sent within one hour (a harvesting job
    behind a cover prompt that asks for every step), keep all their strength: the discount
    needs traffic spread over hours, as an application serving its users has."""
    burst = [
        {**row, "ts": T0 + timedelta(seconds=50 * index)}
        for index, row in enumerate(
            _rows("job", 30, TUTOR.replace("Acme", "Northforge"), "org-job")
        )
    ]
    served = _rows("tutor-a", 30, TUTOR, org="org-acme")
    con = open_store(None)
    append_arrow(con, "exchanges", pa.Table.from_pylist([*burst, *served], schema=EXCHANGE_SCHEMA))
    context = ScanContext(con)
    _features(context)
    context.config = {"DG-205": {"min_count": 2.0, "full_count": 5.0}}
    evidence = {e.subject: e for e in dg205.detect(context) if e.subject_kind == "account"}
    assert evidence["tutor-a"].strength == pytest.approx(0.4)
    assert evidence["job"].strength == pytest.approx(1.0)
    assert evidence["job"].details[EXPLAINED] == 0.0
    frame = account_frame(context)
    hours = dg205._own_application(frame, dg205.Settings())
    assert hours[frame.index.get_loc("job")] == 0.0
    with pytest.raises(ValueError, match="app_hours"):
        dg205.Settings(app_min_hours=8.0, app_full_hours=2.0)
