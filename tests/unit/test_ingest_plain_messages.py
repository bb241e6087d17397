"""The plain-conversation shortcut of the Parquet path gives exactly the record path's result.

``_check_messages`` reads a plain list of role and text messages directly instead of writing
its canonical JSON and searching it for the flags; these tests check, on random
conversations and on texts made to trip it, that it agrees with the exact check
(``_exact_messages``) in every value and in whether the check passed.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.ingest.arrow_exchanges import (
    _PLAIN_EXACT,
    _check_messages,
    _exact_messages,
    _plain_messages,
)
from distillguard.ingest.contract import nested_value
from distillguard.ingest.problems import FieldError

ROLES = ["user", "assistant", "system", "tool", "developer", "", "System", "tool ", "x"]
TRICKY = [
    '"role":"system"',
    '"type":"image"',
    '"role":"tool"',
    'x"role":"system',
    '\\"role\\":\\"tool\\"',
    '{"type":"tool_call"}',
    "\\",
    '"',
    "\n\t\u2028",
    "é😀\u0000",
    "",
]
texts = st.one_of(st.sampled_from(TRICKY), st.text(max_size=40))
roles = st.one_of(st.sampled_from(ROLES + TRICKY), st.text(max_size=8))
parts = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "image", "tool_call", "tool_result", "video"])},
        optional={"text": st.one_of(texts, st.integers(), st.none())},
    ),
    max_size=3,
)
plain_message = st.fixed_dictionaries({"role": roles, "content": texts})
odd_message = st.one_of(
    st.fixed_dictionaries({"role": roles, "content": st.one_of(parts, st.integers(), st.none())}),
    st.fixed_dictionaries({"content": texts}),
    st.fixed_dictionaries({"role": st.one_of(st.integers(), st.none()), "content": texts}),
    st.builds(
        lambda message, key, extra: {**message, key: extra},
        plain_message,
        st.sampled_from(["type", "name", "x"]),
        texts,
    ),
    st.dictionaries(st.sampled_from(["role", "content", "type"]), texts, max_size=3),
    st.one_of(texts, st.integers(), st.none(), st.lists(texts, max_size=2)),
)
conversations = st.one_of(
    st.lists(plain_message, max_size=6),
    st.lists(st.one_of(plain_message, odd_message), max_size=6),
    odd_message,
)


def _both(value: Any) -> None:
    """The shortcut's result and errors are the exact path's, for a value as stored."""
    fast_errors: list[FieldError] = []
    exact_errors: list[FieldError] = []
    assert _check_messages(value, fast_errors) == _exact_messages(value, exact_errors)
    assert fast_errors == exact_errors


def _as_text(conversation: Any, style: int) -> str:
    """The conversation as JSON text, in one of several writers' spellings."""
    if style == 0:
        return json.dumps(conversation, ensure_ascii=False, separators=(",", ":"))
    if style == 1:
        return json.dumps(conversation)  # spaces and \\u escapes for all non-ASCII
    return json.dumps(conversation, ensure_ascii=False, indent=1)


def test_the_shortcut_is_on_for_the_current_markers() -> None:
    assert _PLAIN_EXACT


@settings(max_examples=400, deadline=None)
@given(conversations, st.integers(0, 2))
def test_json_text_gives_what_the_exact_check_gives(conversation: Any, style: int) -> None:
    _both(nested_value(_as_text(conversation, style)))


@settings(max_examples=200, deadline=None)
@given(conversations, st.integers(0, 2), st.integers(0, 200), st.sampled_from(["", "]", "\\", "x"]))
def test_broken_json_text_gives_what_the_exact_check_gives(
    conversation: Any, style: int, cut: int, tail: str
) -> None:
    text = _as_text(conversation, style)
    _both(nested_value(text[:cut] + tail))


@settings(max_examples=200, deadline=None)
@given(conversations)
def test_decoded_values_give_what_the_exact_check_gives(conversation: Any) -> None:
    _both(conversation)  # as nested Arrow lists and structs arrive, already decoded


def test_plain_lists_take_the_shortcut_and_others_do_not() -> None:
    plain = [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]
    assert _plain_messages(plain) == (2, "q", False, False, True)
    assert _plain_messages([{"role": "tool", "content": '"role":"system"'}]) == (
        1,
        "",
        False,
        True,
        False,
    )
    for odd in (
        [],
        [{"role": "user", "content": "q", "name": "n"}],
        [{"role": "user", "content": [{"type": "text", "text": "q"}]}],
        [{"role": "", "content": "q"}],
        [{"content": "q"}],
        "[]",
        None,
    ):
        assert _plain_messages(odd) is None
    _both(plain)


def test_roles_that_spell_markers_are_judged_by_the_exact_check() -> None:
    for role in TRICKY + ROLES:
        if role:
            _both([{"role": role, "content": "c"}, {"role": "user", "content": role}])


def test_escaped_lone_surrogates_are_judged_by_the_exact_check() -> None:
    """orjson will not decode a lone surrogate, so such a text stays text and fails."""
    for text in ('[{"role":"user","content":"\\ud800"}]', '[{"role":"\\udc00","content":""}]'):
        assert isinstance(nested_value(text), str)
        _both(nested_value(text))
    _both(nested_value('[{"role":"user","content":"\\ud83d\\ude00"}]'))
