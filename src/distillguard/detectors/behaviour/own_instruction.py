"""What an account's requests ask once its own application's instruction is taken out.

A tutoring product's instruction ("walk the student through the reasoning, then mark their
attempt out of 10") rides on every request it serves, in the system prompt or above each
student question, so the prompt-signal classifier reads a reasoning and a grading request
on much of its traffic.  A harvester that hides behind a private cover prompt ("You are
Northforge's research assistant") looks the same on that count: one private instruction on
every request.  What tells them apart is where the signals come from.  Take the instruction
out and the tutoring product's requests are students' questions; the harvester's still
carry its wrappers ("show your full reasoning, then grade this answer").

So for each account that sends its own private instruction (one no other identity sends,
the behaviour frame's ``own_instruction`` and ``own_preamble``) the requests are read again
without it: a sample of the account's distinct prompts (the first :data:`SAMPLE` by pair
key, each weighted by how often the account sent it), with the system prompt dropped where
it is that instruction, or the opening paragraph dropped where it is.  The classifier is
the one the features use, on the same text it reads there (``classifier_text``), so the
only difference is the instruction.  The result is, per account and over one sample, the
share of its requests that carry each signal, and any signal, with the instruction and
without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import numpy as np
import numpy.typing as npt
import pandas as pd
from ibis import _

from distillguard.detectors.behaviour.frame import SIGNAL_THRESHOLD, SIGNALS
from distillguard.detectors.context import ScanContext
from distillguard.features.prompt_signals import classifier_text, prompt_signals
from distillguard.features.text import prepare
from distillguard.schema.prompts import PROMPTS_TABLE

SAMPLE = 64
"""Distinct prompts read again per account: a share's standard error is at most 6 points,
and the cost stays small however much an application sends (the first by pair key, which
is a hash, so an arbitrary but fixed choice).  Both readings use the same sample, so what
it happens to hold cancels out when they are compared."""

PARAGRAPH = "\n\n"
"""What sets a preamble apart from the question below it (behaviour frame)."""


@dataclass(frozen=True)
class OwnInstruction:
    """One account's private instruction and where it is written."""

    account_id: str
    text: str
    in_system: bool
    """True: the system prompt; False: the opening paragraph of the user text."""


SHARES = tuple(f"share_p_{name}" for name in (*SIGNALS, "any"))
"""The columns of each table :func:`reread` returns."""


def reread(
    context: ScanContext, owners: Sequence[OwnInstruction]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per account (index ``account_id``), over the same sample of its requests: the
    weighted share that carry each signal (``share_p_<signal>``) and any (``share_p_any``)
    as the features read them, and once the account's own instruction is taken out.  Both
    come from one sample, so what the sample happens to hold cancels out when they are
    compared.  Accounts without a sampled prompt are absent."""
    empty = pd.DataFrame(columns=list(SHARES))
    if not owners or PROMPTS_TABLE not in context.con.list_tables():
        return empty, empty
    sample = _sample(context, [owner.account_id for owner in owners])
    if sample.empty:
        return empty, empty
    by_account = {owner.account_id: owner for owner in owners}
    rows = list(
        zip(sample["account_id"], sample["prompt_text"], sample["system_prompt"], strict=True)
    )
    as_sent = [_read(str(prompt), system) for _, prompt, system in rows]
    without = [
        _reread(by_account[str(account)], str(prompt), system) for account, prompt, system in rows
    ]
    weights = sample["n"].to_numpy(dtype=np.float64)
    accounts = sample["account_id"].astype(str).to_numpy()
    return _shares(as_sent, weights, accounts), _shares(without, weights, accounts)


def _shares(
    texts: list[str], weights: npt.NDArray[np.float64], accounts: npt.NDArray[np.object_]
) -> pd.DataFrame:
    """Weighted share of each account's texts that carry each signal, and any."""
    carried = prompt_signals(texts) > SIGNAL_THRESHOLD
    frame = pd.DataFrame(carried.astype(np.float64), columns=list(SHARES[:-1]))
    frame["share_p_any"] = carried.any(axis=1).astype(np.float64)
    frame = frame.mul(weights, axis=0)
    frame["weight"] = weights
    frame["account_id"] = accounts
    sums = frame.groupby("account_id").sum()
    shares: pd.DataFrame = sums[list(SHARES)].div(sums["weight"], axis=0)
    return shares


def _sample(context: ScanContext, accounts: list[str]) -> pd.DataFrame:
    """Up to :data:`SAMPLE` distinct (prompt, system) pairs per account, with how often the
    account sent each."""
    exchanges = context.con.table("exchanges")
    used = (
        exchanges.filter(exchanges.account_id.isin(accounts))
        .group_by(["account_id", "pair_id"])
        .aggregate(n=_.count())
    )
    ranked = used.mutate(
        rank=ibis.row_number().over(ibis.window(group_by="account_id", order_by="pair_id"))
    )
    picked = ranked.filter(ranked["rank"] < SAMPLE)
    prompts = context.con.table(PROMPTS_TABLE)
    joined = picked.join(prompts, "pair_id").select(
        "account_id", "pair_id", "n", "prompt_text", system_prompt=prompts.system
    )
    found: pd.DataFrame = context.con.to_pandas(joined.order_by(["account_id", "pair_id"]))
    return found


def _read(prompt: str, system: str | None) -> str:
    """The classifier's text for one request, as the features read it."""
    return classifier_text(prepare(prompt).text, prepare(system).text if system else "")


def _reread(owner: OwnInstruction, prompt: str, system: str | None) -> str:
    """The classifier's text for one request without the account's own instruction."""
    system = system or ""
    if owner.in_system:
        if system == owner.text:
            system = ""
    elif prompt.startswith(owner.text + PARAGRAPH):
        prompt = prompt[len(owner.text) + len(PARAGRAPH) :]
    return _read(prompt, system)


def own_instructions(frame: pd.DataFrame, rows: npt.NDArray[np.bool_]) -> list[OwnInstruction]:
    """The private instruction of each selected row of the behaviour frame: the system
    prompt or the preamble, whichever carries the larger share of its requests."""
    found = []
    for row in frame[rows].itertuples(index=False):
        in_system = share_of(row, "own_instruction_share") >= share_of(row, "own_preamble_share")
        text = getattr(row, "own_instruction" if in_system else "own_preamble", None)
        if isinstance(text, str) and text:
            found.append(OwnInstruction(str(row.account_id), text, in_system))
    return found


def share_of(row: object, name: str) -> float:
    """A behaviour-frame row's share ``name``, 0 where the frame lacks it or it is null."""
    found = getattr(row, name, None)
    value = 0.0 if found is None else float(found)
    return 0.0 if np.isnan(value) else value
