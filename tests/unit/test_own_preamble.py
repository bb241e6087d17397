"""An application's own instruction written above every question: the share of an
account's requests whose prompt opens with its organisation's private paragraph (behaviour
frame), DG-205's discount for it, and scoring, which does not count evidence an application
mostly explains as a kind of evidence for `review`.

Half the tutoring products write "explain every step, then grade the answer out of 10"
above each student question instead of into the system prompt; some call a reasoning model
at its largest budget as well.  A fleet that hands one preamble to unrelated accounts is
not discounted, nor is a label ("Student question:") that several products write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from distillguard.detectors.base import EXPLAINED, Evidence
from distillguard.detectors.behaviour import account_frame, own_instruction
from distillguard.detectors.behaviour import signal_concentration as dg205
from distillguard.detectors.context import ScanContext
from distillguard.engine.store import append_arrow, open_store
from distillguard.features.prompt_signals import classifier_text
from distillguard.features.text import prepare
from distillguard.schema import EXCHANGE_SCHEMA
from distillguard.scoring.combine import ScoringConfig, harvest_families, score_all

T0 = datetime(2026, 3, 2, tzinfo=UTC)
TUTOR = "You are Acme Tutor. Explain every step, then grade the student's answer out of 10."
FLEET = "Think step by step and write out your complete reasoning."


def _rows(account: str, prompts: list[str], org: str | None = None) -> list[Any]:
    return [
        {
            "exchange_id": f"{account}-{index}",
            "ts": T0 + timedelta(minutes=61 * index),  # one request an hour
            "account_id": account,
            "organization_id": org,
            "model": "m-large",
            "messages": '[{"role":"user","content":"q"}]',
            "n_messages": 1,
            "prompt_text": prompt,
            "input_tokens": 100,
            "output_tokens": 300,
            "source_file": "synthetic.jsonl",
            "source_line": index,
        }
        for index, prompt in enumerate(prompts)
    ]


def _questions(count: int, above: str | None = None, label: str = "") -> list[str]:
    asked = [f"{label}How many ways can {n} people sit at a round table?" for n in range(count)]
    return [q if above is None else f"{above}\n\n{q}" for q in asked]


def _context() -> ScanContext:
    rows = [
        # one company, two accounts, its own instruction above every question
        *_rows("tutor-a", _questions(20, TUTOR), org="org-acme"),
        *_rows("tutor-b", _questions(10, TUTOR), org="org-acme"),
        # 16 of 20 prompts under its own preamble, four plain questions
        *_rows("mostly", _questions(16, "Beta Tutor: show all working.") + _questions(4), "b"),
        # three unrelated accounts (no organisation) handed one preamble
        *_rows("fleet-1", _questions(10, FLEET)),
        *_rows("fleet-2", _questions(10, FLEET)),
        *_rows("fleet-3", _questions(10, FLEET)),
        # a one-paragraph prompt has no preamble, however alike its questions are
        *_rows("plain", _questions(10, label="Student question: ")),
    ]
    con = open_store(None)
    append_arrow(con, "exchanges", pa.Table.from_pylist(rows, schema=EXCHANGE_SCHEMA))
    return ScanContext(con)


def test_share_counts_only_a_private_preamble() -> None:
    frame = account_frame(_context())
    share = frame["own_preamble_share"].fillna(0.0)
    assert share["tutor-a"] == 1.0 and share["tutor-b"] == 1.0  # one company's two accounts
    assert share["mostly"] == pytest.approx(16 / 20)
    for account in ("fleet-1", "fleet-2", "fleet-3", "plain"):
        assert share[account] == 0.0, account


def test_discount_takes_the_larger_own_share() -> None:
    settings = dg205.Settings()
    frame = account_frame(_context())
    frame["own_instruction_share"] = 0.0
    applied = dg205._own_application(frame, settings)
    assert applied[frame.index.get_loc("tutor-a")] == 1.0
    assert applied[frame.index.get_loc("fleet-1")] == 0.0
    frame.loc["fleet-1", "own_instruction_share"] = 1.0
    assert dg205._own_application(frame, settings)[frame.index.get_loc("fleet-1")] == 1.0
    assert dg205.own_share(frame.drop(columns=list(dg205.OWN_SHARES))).tolist() == [0.0] * 7


def test_reason_names_where_the_instruction_is_written() -> None:
    words = dg205._application_words(1.0, 0.4, "instruction above each question")
    assert "its organisation's own instruction above each question" in words
    assert "strength kept at 40%" in words


def _evidence(detector: str, family: str, strength: float, explained: float = 0.0) -> Evidence:
    return Evidence(
        detector=detector,
        family=family,
        subject="acct",
        strength=strength,
        summary="s",
        details={EXPLAINED: explained},
    )


def test_explained_evidence_counts_for_no_review() -> None:
    config = ScoringConfig()
    parameters = _evidence("DG-203", "behaviour", 0.8)
    harvester = [parameters, _evidence("DG-205", "prompt", 0.3, explained=0.1)]
    tutoring = [parameters, _evidence("DG-205", "prompt", 0.3, explained=0.6)]
    assert harvest_families(harvester, config) == ["behaviour", "prompt"]
    assert harvest_families(tutoring, config) == ["behaviour"]
    verdicts = {}
    for name, evidence in (("harvester", harvester), ("tutoring", tutoring)):
        found = [Evidence(**{**e.__dict__, "subject": name}) for e in evidence]
        results, _ = score_all([name], found, [], config)
        verdicts[name] = results[0].verdict
    assert verdicts == {"harvester": "review", "tutoring": "benign"}


def test_explained_setting_is_checked() -> None:
    with pytest.raises(ValueError, match="review_explained_below"):
        ScoringConfig(review_explained_below=0.0)


def test_a_fleet_keeps_what_its_members_applications_leave_them() -> None:
    """Two tutoring products pooled by a shared label: each member's prompts keep 40% (its
    own instruction); a harvester's pooled with them keep all of theirs, by prompt count."""
    kept = np.array([0.4, 0.4, 1.0])
    assert dg205.pooled_share_kept(np.array([300.0, 100.0]), kept[:2]) == pytest.approx(0.4)
    assert dg205.pooled_share_kept(np.array([100.0, 100.0, 200.0]), kept) == pytest.approx(0.7)


def test_the_reread_drops_only_the_accounts_own_instruction() -> None:
    above = own_instruction.OwnInstruction("a", TUTOR, in_system=False)
    question = "How many ways can 5 people sit at a round table?"
    assert own_instruction._reread(above, f"{TUTOR}\n\n{question}", None) == classifier_text(
        prepare(question).text
    )
    # Another opening paragraph is part of what the request asks.
    other = f"{FLEET}\n\n{question}"
    assert own_instruction._reread(above, other, None) == classifier_text(prepare(other).text)
    system = own_instruction.OwnInstruction("a", TUTOR, in_system=True)
    assert own_instruction._reread(system, question, TUTOR) == classifier_text(
        prepare(question).text
    )
    assert own_instruction._reread(system, question, FLEET) == classifier_text(
        prepare(question).text, prepare(FLEET).text
    )
