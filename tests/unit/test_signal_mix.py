"""DG-205's mix test: an account that asks for several kinds of harvestable output is judged
on the mix even when no single kind reaches the per-signal count (a lone harvester of a few
dozen requests); one kind, however common (a labeling firm's grades, a student's steps), and
a mix that is a small share of a large product's traffic, say nothing."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from distillguard.detectors.behaviour import signal_concentration as dg205
from distillguard.detectors.behaviour.frame import SIGNALS

COUNTS = ("reasoning", "reconstruct", "grading", "tool", "rewrite")


def _frame(rows: dict[str, tuple[int, dict[str, int]]]) -> pd.DataFrame:
    """One row per account: (featured prompts, per-signal counts); ``any`` is the sum capped
    at the total (a prompt carrying two signals counts once in ``any``)."""
    records = []
    for account, (total, counts) in rows.items():
        record: dict[str, object] = {"account_id": account, "featured_exchanges": total}
        for name in SIGNALS:
            record[f"count_p_{name}"] = counts.get(name, 0)
            record[f"share_p_{name}"] = counts.get(name, 0) / total
        signalled = min(total, sum(counts.values()))
        record["count_p_any"] = signalled
        record["share_p_any"] = signalled / total
        records.append(record)
    return pd.DataFrame(records)


ACCOUNTS = {
    # 24 requests, 30% ordinary chat: 10 step-by-step, 5 grades, 2 reconstructions, 2 rewrites
    "lone": (24, {"reasoning": 10, "grading": 5, "reconstruct": 2, "rewrite": 2}),
    # a labeling firm: grades in bulk, now and then a step-by-step question
    "labeling": (200, {"grading": 108, "reasoning": 2}),
    # a student: "explain step by step" on 30% of homework questions
    "student": (40, {"reasoning": 12}),
    # a tutoring product: every kind, but a small share of a large volume
    "product": (1000, {"reasoning": 40, "grading": 30, "rewrite": 30, "tool": 20}),
    # too few prompts to say anything
    "few": (6, {"reasoning": 2, "grading": 1, "rewrite": 1}),
}


def test_the_mix_speaks_for_a_lone_harvester_and_for_no_one_else() -> None:
    frame = _frame(ACCOUNTS)
    strength, strongest = dg205._strongest(frame, dg205.Settings())
    by_account = dict(zip(frame["account_id"], zip(strength, strongest, strict=True), strict=True))
    lone_strength, lone_top = by_account["lone"]
    assert dg205.JUDGED[lone_top] == "mix"
    assert lone_strength >= 0.5
    # Without the mix, the per-signal test barely sees it (19 prompts < min_count 20).
    off = dg205.Settings(mix_min_intents=5.0, mix_full_intents=6.0)
    assert dg205._strongest(frame, off)[0][0] < 0.05
    # One kind of output (grades, steps) is judged as before; the mix adds nothing to it.
    without_mix = dict(zip(frame["account_id"], dg205._strongest(frame, off)[0], strict=True))
    for account in ("labeling", "student"):
        assert by_account[account][0] == pytest.approx(without_mix[account])
    assert by_account["product"][0] == 0.0
    assert by_account["few"][0] < 0.05


def test_intents_counts_the_effective_number_of_kinds() -> None:
    frame = _frame(
        {
            "one": (10, {"grading": 7}),
            "four": (40, {"reasoning": 8, "grading": 8, "reconstruct": 8, "rewrite": 8}),
            "none": (10, {}),
            "lopsided": (100, {"grading": 90, "reasoning": 10}),
        }
    )
    mixed = dg205.intents(frame)
    assert mixed.tolist()[:3] == [1.0, 4.0, 0.0]
    assert mixed[3] == pytest.approx(100**2 / (90**2 + 10**2))


@given(st.lists(st.integers(min_value=0, max_value=500), min_size=5, max_size=5))
def test_intents_is_between_one_and_five_and_ignores_order(counts: list[int]) -> None:
    rows = {
        "a": (max(1, sum(counts)), dict(zip(COUNTS, counts, strict=True))),
        "b": (max(1, sum(counts)), dict(zip(COUNTS, reversed(counts), strict=True))),
    }
    forward, backward = dg205.intents(_frame(rows))
    assert forward == pytest.approx(backward)
    if sum(counts) == 0:
        assert forward == 0.0
    else:
        assert 1.0 - 1e-9 <= forward <= 5.0 + 1e-9


def test_the_mix_reason_names_every_kind_with_its_count() -> None:
    frame = _frame({"lone": ACCOUNTS["lone"]})
    row = next(frame.itertuples(index=False))
    words, share, counted = dg205._what_is_asked(row, "mix", 24.0)
    assert words.startswith("79% of 24 prompts ask for harvestable outputs of several kinds")
    assert "10 reasoning, 5 grading, 2 reconstruct, 2 rewrite" in words
    assert (share, counted) == (pytest.approx(19 / 24), 19.0)


def test_mix_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="mix_intents"):
        dg205.Settings(mix_min_intents=3.0, mix_full_intents=2.0)
    with pytest.raises(ValueError, match="at least 1"):
        dg205.Settings(mix_min_intents=0.5, mix_full_intents=2.0)
    with pytest.raises(ValueError, match="positive"):
        dg205.Settings(mix_min_count=0.0)


def test_pooled_rows_are_described_like_account_rows() -> None:
    """Fleets are described from a namedtuple of pooled counts; the words are the same."""
    Row = namedtuple("Row", [f"count_p_{n}" for n in (*SIGNALS, "any")] + ["share_p_any"])
    pooled = Row(10, 2, 5, 0, 2, 19, 19 / 24)
    words, _, _ = dg205._what_is_asked(pooled, "mix", 24.0)
    frame_words, _, _ = dg205._what_is_asked(
        next(_frame({"lone": ACCOUNTS["lone"]}).itertuples(index=False)), "mix", 24.0
    )
    assert words == frame_words
    assert np.isfinite(dg205.intents(_frame({"lone": ACCOUNTS["lone"]}))[0])
