"""Properties of the shared fingerprints, keyed hashes, k-floor and pattern parsing."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.intel.fingerprint import agreeing_bands, prompt_fingerprint
from distillguard.intel.keys import SharingKey
from distillguard.intel.observe import Observations
from distillguard.intel.peers import _parse_pattern
from distillguard.intel.selection import (
    PAYMENT,
    Population,
    SharedValue,
    SharingRules,
    shared_values,
)
from distillguard.intel.stix import pattern_for

KEY = SharingKey(b"\x42" * 32)
word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10)
words = st.lists(word, min_size=1, max_size=40)
gap = st.sampled_from([" ", "  ", "\t", " \t "])


@settings(max_examples=60, deadline=None)
@given(words, st.data())
def test_fingerprint_is_stable_under_case_and_spacing(
    parts: list[str], data: st.DataObject
) -> None:
    plain = " ".join(parts)
    flips = data.draw(st.lists(st.booleans(), min_size=len(parts), max_size=len(parts)))
    gaps = data.draw(st.lists(gap, min_size=len(parts), max_size=len(parts)))
    varied = "".join(
        (w.upper() if flip else w) + g for w, flip, g in zip(parts, flips, gaps, strict=True)
    )
    assert prompt_fingerprint(KEY, "  " + varied) == prompt_fingerprint(KEY, plain)


@settings(max_examples=40, deadline=None)
@given(words)
def test_identical_wrappers_agree_on_every_band(parts: list[str]) -> None:
    text = "Think step by step. " + " ".join(parts)
    tokens = prompt_fingerprint(KEY, text)
    assert len(tokens) == 16
    assert agreeing_bands(tokens, prompt_fingerprint(KEY, text)) == 16


@given(st.text(min_size=0, max_size=200), st.sampled_from(["payment_fingerprint", "email_domain"]))
def test_keyed_hash_never_equals_the_raw_value(value: str, kind: str) -> None:
    token = KEY.token(kind, value)
    assert token != value
    if len(value) >= 8:  # shorter strings can occur in any hex text by chance
        assert value not in token
    assert len(token) == 64 and all(c in "0123456789abcdef" for c in token)
    assert token == KEY.token(kind, value)
    assert token != SharingKey(b"\x43" * 32).token(kind, value)
    assert token != KEY.token("other_kind", value)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(["card_a", "card_b", "card_c", "card_d"]), min_size=1, max_size=30),
    st.integers(min_value=2, max_value=8),
)
def test_k_floor_is_respected(cards: list[str], k: int) -> None:
    members = [f"acct_{i}" for i in range(len(cards))]
    obs = Observations(
        exchanges=dict.fromkeys(members, 10),
        payment=dict(zip(members, cards, strict=True)),
    )
    population = Population.of(obs, set(members))
    values = shared_values(members, population, KEY, SharingRules(min_accounts=k))
    if len(members) < k:
        assert values == []
    for value in values:
        assert value.kind == PAYMENT and value.accounts >= k
    expected = {c for c in set(cards) if cards.count(c) >= k} if len(members) >= k else set()
    assert {v.tokens[0] for v in values} == {KEY.token(PAYMENT, c) for c in expected}


@given(
    st.integers(min_value=0, max_value=(1 << 24) - 1),
    st.lists(
        st.text(alphabet="0123456789abcdef", min_size=64, max_size=64), min_size=1, max_size=16
    ),
)
def test_patterns_parse_back_to_what_was_shared(network: int, tokens: list[str]) -> None:
    cidr = str(ipaddress.IPv4Network((network << 8, 24)))
    parsed_tokens, networks = _parse_pattern(
        pattern_for(SharedValue("network", (cidr,), 5, 9)), "t"
    )
    assert parsed_tokens == [] and [str(n) for n in networks] == [cidr]
    parsed_tokens, networks = _parse_pattern(
        pattern_for(SharedValue("template", tuple(tokens), 5, 9)), "t"
    )
    assert parsed_tokens == tokens and networks == []
