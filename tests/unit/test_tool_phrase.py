"""A stock phrase that every user of one tool sends is no tie; a wrapper around many tasks is.

An open-source coding agent sends the same follow-up turn ("Continue. Run the failing tests
after your change.") for whoever runs it: the developers who use it and the campaign that
harvests agent trajectories with it.  That text is one prompt sent again, not a wrapper
around tasks, so the wrapper and template views count a value for an account only around
``template_min_prompts`` different prompts.  Found on held-out prompt
sources (SWE-bench Lite's agent sessions), where it had put every agentic developer into
the coding campaign's cluster."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import pyarrow as pa
import pytest

from distillguard.detectors.coordination import views
from distillguard.detectors.coordination.config import CoordinationConfig
from distillguard.engine.store import append_arrow, open_store
from distillguard.schema import EXCHANGE_FEATURE_SCHEMA, EXCHANGE_SCHEMA

START = datetime(2026, 3, 2, tzinfo=UTC)
PHRASE, FLEET_WRAPPER, PHRASE_BAND, FLEET_BAND = 7, 8, 9, 10


def _rows(account: str, prompts: list[tuple[int, int, int]]) -> tuple[list[Any], list[Any]]:
    """Exchanges and their features: (text hash, wrapper id, band) per prompt sent."""
    exchanges, features = [], []
    for n, (text, wrapper, band) in enumerate(prompts):
        ts = START + timedelta(minutes=n)
        exchanges.append(
            {
                "exchange_id": f"{account}-{n}",
                "ts": ts,
                "account_id": account,
                "model": "m",
                "messages": "[]",
                "n_messages": 1,
                "prompt_text": str(text),
                "source_file": "x.jsonl",
                "source_line": n,
            }
        )
        features.append(
            {
                "exchange_id": f"{account}-{n}",
                "account_id": account,
                "ts": ts,
                "model": "m",
                "lang": "en",
                "prompt_chars": 50,
                "text_hash": text,
                "template_id": wrapper,
                "wrapper_id": wrapper,
                "lsh_bands": [band],
                "instruction_sentences": [],
                **{f"p_{s}": 0.0 for s in ("reasoning", "reconstruct", "grading", "tool")},
                "p_rewrite": 0.0,
                "capability": "coding",
                "truncated": False,
            }
        )
    return exchanges, features


@pytest.fixture(scope="module")
def con() -> Any:
    exchanges: list[Any] = []
    features: list[Any] = []
    for i in range(4):
        # A developer of the agent: its own tasks, and the tool's follow-up on a third.
        tasks = [(1000 * i + n, 1000 * i + n, 1000 * i + n) for n in range(14)]
        rows = _rows(f"dev{i}", tasks + [(PHRASE, PHRASE, PHRASE_BAND)] * 6)
        exchanges += rows[0]
        features += rows[1]
        # A fleet account: one wrapper around every task it sends.
        wrapped = [(50_000 + 100 * i + n, FLEET_WRAPPER, FLEET_BAND) for n in range(20)]
        rows = _rows(f"fleet{i}", wrapped)
        exchanges += rows[0]
        features += rows[1]
    store = open_store(None)
    append_arrow(store, "exchanges", pa.Table.from_pylist(exchanges, schema=EXCHANGE_SCHEMA))
    store.create_table("exchange_features", schema=ibis.schema(EXCHANGE_FEATURE_SCHEMA))
    append_arrow(
        store, "exchange_features", pa.Table.from_pylist(features, schema=EXCHANGE_FEATURE_SCHEMA)
    )
    return store


@pytest.mark.parametrize(
    ("view", "phrase", "wrapper"),
    [
        (views.wrapper, PHRASE, FLEET_WRAPPER),
        (views.template, PHRASE, FLEET_WRAPPER),
    ],
)
def test_one_prompt_sent_again_ties_no_one_a_wrapper_does(
    con: Any, view: Any, phrase: int, wrapper: int
) -> None:
    found = view(con, CoordinationConfig()).execute()
    values = {(str(a), str(v)) for a, v in zip(found["account_id"], found["value"], strict=True)}
    assert {(f"fleet{i}", str(wrapper)) for i in range(4)} <= values
    assert not {v for a, v in values if a.startswith("dev") and v == str(phrase)}
    # The old rule (any one prompt) would have tied the developers through the phrase.
    loose = view(con, CoordinationConfig(template_min_prompts=1)).execute()
    assert str(phrase) in set(loose["value"].astype(str))
