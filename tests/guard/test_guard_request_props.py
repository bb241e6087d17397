"""Property tests of the request parser: any JSON body is parsed or refused by field."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.guard.request import (
    GuardRequest,
    MalformedRequest,
    parse_request,
    request_features,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "system", 3]), "content": json_values}
    ),
    max_size=4,
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "account_id": st.text(max_size=20) | json_values,
        "messages": messages | json_values,
        "prompt_text": st.text(max_size=200) | json_values,
        "client_ip": st.text(max_size=20) | json_values,
        "timestamp": st.floats(allow_nan=False) | json_values,
    },
)


@given(bodies | json_values)
@settings(max_examples=150, deadline=None)
def test_any_body_parses_or_names_its_field(body: object) -> None:
    try:
        request = parse_request(body)
    except MalformedRequest as error:
        field = str(error).split(":", 1)[0]
        assert field.split("[")[0].split(".")[0] in {
            "body", "account_id", "messages", "prompt_text", "client_ip", "timestamp",
            "organization_id", "model",
        }  # fmt: skip
    else:
        assert isinstance(request, GuardRequest) and request.account_id
        features = request_features(request)  # never fails on a parsed request
        assert features.wrapper and features.template


@given(st.text(max_size=3000), st.text(max_size=3000))
@settings(max_examples=50, deadline=None)
def test_fingerprints_read_only_the_head_and_tail(head: str, middle: str) -> None:
    prompt = "Explain step by step.\n\n" + head + middle * 3 + "\n\nFinal answer:"
    long = GuardRequest("a", prompt)
    if len(prompt) > 800:
        same_ends = GuardRequest("a", prompt[:600] + "x" * 5000 + prompt[-200:])
        assert request_features(long) == request_features(same_ends)
