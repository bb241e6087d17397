"""Cluster profiles computed for all clusters at once: wrapper use and capability mix."""

from __future__ import annotations

import pandas as pd
import pytest

from distillguard.detectors.coordination.config import CoordinationConfig
from distillguard.detectors.coordination.profile import _capabilities, _template_use


def _uses(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["cluster_id", "account_id", "value", "uses"])


def test_wrapper_use_is_measured_per_cluster() -> None:
    uses = _uses(
        [
            ("C-a", "a1", "17", 9),
            ("C-a", "a1", "18", 1),
            ("C-a", "a2", "17", 1),
            ("C-a", "a2", "18", 9),
            ("C-a", "a3", "18", 1),
            ("C-b", "b1", "5", 4),
            ("C-b", "b2", "4", 4),
        ]
    )
    clusters = {"C-a": ["a1", "a2", "a3", "a4"], "C-b": ["b1", "b2"]}
    found = _template_use(uses, clusters, CoordinationConfig(min_share=0.5))
    # C-a: wrapper 18 carries 11 of 21 requests; a2 and a3 rely on it, a1 and a4 do not
    assert found["C-a"] == ("18", 11 / 21, 2 / 4)
    # C-b: a tie between 4 and 5 goes to the smaller value, as text
    assert found["C-b"] == ("4", 0.5, 0.5)


def test_a_cluster_without_wrapper_use_has_no_measurement() -> None:
    assert _template_use(_uses([]), {"C-a": ["a1", "a2"]}, CoordinationConfig()) == {}


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
