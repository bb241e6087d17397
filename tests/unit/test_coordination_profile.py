"""Cluster profiles computed for all clusters at once: wrapper use and capability mix."""

from __future__ import annotations

import pandas as pd
import pytest

from distillguard.detectors.coordination.config import CoordinationConfig
from distillguard.detectors.coordination.profile import _capabilities, _template_use


def _uses(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["cluster_id", "account_id", "value", "uses"])


def _wrapper_uses(rows: list[tuple[int, int, int | None, int]]) -> pd.DataFrame:
    """Wrapper rows of :func:`_member_uses`: (cluster, member, wrapper or None, uses)."""
    return pd.DataFrame(
        {
            "cluster": [r[0] for r in rows],
            "member": [r[1] for r in rows],
            "known": [r[2] is not None for r in rows],
            "wrapper": [r[2] or 0 for r in rows],
            "uses": [r[3] for r in rows],
        }
    ).astype({"cluster": "int64", "member": "int64", "wrapper": "int64", "uses": "int64"})


def test_wrapper_use_is_measured_per_cluster() -> None:
    # members by position: C-a's a1..a4 are 0..3, C-b's b1, b2 are 4, 5
    uses = _wrapper_uses(
        [
            (0, 0, 17, 9),
            (0, 0, 18, 1),
            (0, 1, 17, 1),
            (0, 1, 18, 9),
            (0, 2, 18, 1),
            (1, 4, 5, 4),
            (1, 5, 4, 4),
        ]
    )
    clusters = {"C-a": ["a1", "a2", "a3", "a4"], "C-b": ["b1", "b2"]}
    found = _template_use(uses, clusters, CoordinationConfig(min_share=0.5))
    # C-a: wrapper 18 carries 11 of 21 requests; a2 and a3 rely on it, a1 and a4 do not
    assert found["C-a"] == ("18", 11 / 21, 2 / 4)
    # C-b: a tie between 4 and 5 goes to the smaller value, as text
    assert found["C-b"] == ("4", 0.5, 0.5)


def test_wrapper_ties_go_to_the_smaller_text_and_unknown_wrappers_count_for_members() -> None:
    uses = _wrapper_uses([(0, 0, 12, 3), (0, 1, -5, 3), (0, 1, None, 4)])
    found = _template_use(uses, {"C-a": ["a1", "a2"]}, CoordinationConfig(min_share=0.5))
    # "-5" sorts before "12" as text; a2's four requests without a wrapper count against it
    assert found["C-a"] == ("-5", 0.5, 0.0)


def test_a_cluster_without_wrapper_use_has_no_measurement() -> None:
    empty = _wrapper_uses([])
    assert _template_use(empty, {"C-a": ["a1", "a2"]}, CoordinationConfig()) == {}
    unknown = _wrapper_uses([(0, 0, None, 3)])
    assert _template_use(unknown, {"C-a": ["a1", "a2"]}, CoordinationConfig()) == {}


def test_capabilities_keep_the_shares_of_ten_percent_or_more_most_used_first() -> None:
    uses = _uses(
        [
            ("C-a", "a1", "coding", 5),
            ("C-a", "a2", "coding", 5),
            ("C-a", "a1", "reasoning", 10),
            ("C-a", "a2", "chat", 1),
            ("C-b", "b1", "grading", 3),
            ("C-b", "b2", "chat", 3),
        ]
    )
    assert _capabilities(uses) == {"C-a": ["coding", "reasoning"], "C-b": ["chat", "grading"]}


@pytest.mark.parametrize("frame", [_uses([]), pd.DataFrame()])
def test_no_capability_use_gives_no_mix(frame: pd.DataFrame) -> None:
    assert _capabilities(frame) == {}
