"""The policy file: the shipped example, every validation message, and fuzzed input."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.cli.main import main
from distillguard.errors import UserError
from distillguard.policy.model import Action, FailMode, Protection
from distillguard.policy.parser import load_policy, parse_policy

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policy.yaml"


def test_example_policy_is_valid_and_grades_actions() -> None:
    policy = load_policy(EXAMPLE)
    assert policy.fail_mode is FailMode.OPEN
    assert len(policy.digest) == 64
    assert policy.match("distillation", 0.95, "distillation", 0.95).action is (
        Action.CLUSTER_TAKEDOWN
    )
    assert policy.match("distillation", 0.85, None, 0.0).action is Action.BLOCK
    assert policy.match("review", 0.75, None, 0.0).action is Action.REQUIRE_VERIFICATION
    rule = policy.match("review", 0.55, None, 0.0)
    assert (rule.action, rule.protect_outputs) == (Action.THROTTLE, Protection.SUMMARISE)
    assert policy.match("benign", 0.35, None, 0.0).action is Action.MONITOR
    assert policy.match("benign", 0.1, None, 0.0).action is Action.ALLOW


def test_every_problem_is_reported_with_its_line() -> None:
    text = (
        "version: 1\n"
        "rules:\n"
        "  - action: nuke\n"
        "    when: {min_score: 3, verdict: bad}\n"
        "  - when: {}\n"
        "throttle:\n"
        "  account: {rate_per_minute: 5, burst: 0}\n"
        "signals: {rate_soft: 10, rate_hard: 5}\n"
        "colour: red\n"
    )
    with pytest.raises(UserError) as caught:
        parse_policy(text, "p.yaml")
    message = str(caught.value)
    assert "7 problems" in message
    assert "line 9, field 'colour': unknown key" in message
    assert "p.yaml, line 3, field 'rules[0].action': must be one of allow" in message
    assert "line 4, field 'rules[0].when.min_score': must be a number in [0, 1], got 3" in message
    assert "line 4, field 'rules[0].when.verdict'" in message
    assert "line 5, field 'rules[1]': is missing 'action'" in message
    assert "line 7, field 'throttle.account.burst': must be at least 1" in message
    assert "line 8, field 'signals.rate_hard': must be above signals.rate_soft" in message


def test_wrong_version_and_bad_yaml_are_named() -> None:
    with pytest.raises(UserError, match=r"field 'version': must be 1"):
        parse_policy("version: 2\n", "p.yaml")
    with pytest.raises(UserError, match=r"p.yaml, line 3: not valid YAML"):
        parse_policy("version: 1\nrules: [a, b\nname: x\n", "p.yaml")
    with pytest.raises(UserError, match="policy file not found"):
        load_policy(Path("/nonexistent/policy.yaml"))


def test_throttle_scope_can_be_switched_off() -> None:
    policy = parse_policy("version: 1\nthrottle: {cluster: false}\n")
    assert policy.throttle.cluster is None
    assert policy.throttle.account is not None


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True), st.text(max_size=8)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["action", "when", "min_score", "verdict", "x"]), inner)
    ),
    max_leaves=8,
)
documents = st.dictionaries(
    st.sampled_from(
        ["version", "name", "rules", "bands", "signals", "throttle", "default", "fail_mode", "z"]
    ),
    values,
)


@given(documents)
@settings(max_examples=150, deadline=None)
def test_any_document_parses_or_fails_with_a_user_error(doc: dict[str, object]) -> None:
    text = yaml.safe_dump({"version": 1, **doc} if "version" not in doc else doc)
    try:
        policy = parse_policy(text, "fuzz.yaml")
    except UserError as error:
        assert "fuzz.yaml" in str(error)
    else:
        assert policy.format_version == 1


rules = st.lists(
    st.fixed_dictionaries(
        {"action": st.sampled_from([a.value for a in Action])},
        optional={
            "name": st.text(min_size=1, max_size=10).filter(str.strip),
            "protect_outputs": st.sampled_from([p.value for p in Protection]),
            "when": st.fixed_dictionaries(
                {},
                optional={
                    "min_score": st.floats(0, 1),
                    "verdict": st.sampled_from(["benign", "review", "distillation"]),
                },
            ),
        },
    ),
    max_size=6,
)


@given(rules)
@settings(max_examples=80, deadline=None)
def test_valid_rules_round_trip_in_order(raw_rules: list[dict[str, object]]) -> None:
    policy = parse_policy(yaml.safe_dump({"version": 1, "rules": raw_rules}))
    assert [r.action.value for r in policy.rules] == [r["action"] for r in raw_rules]


def test_policy_check_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # rich wraps at the terminal width
    assert main(["policy", "check", str(EXAMPLE)]) == 0
    assert "cluster_takedown" in capsys.readouterr().out
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nfail_mode: sideways\n")
    assert main(["policy", "check", str(broken)]) == 2
    assert "line 2, field 'fail_mode': must be one of open, closed" in capsys.readouterr().err
