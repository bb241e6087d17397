"""Ties through groups too large to expand to all pairs still add up across views."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.detectors.coordination.config import CoordinationConfig
from distillguard.detectors.coordination.edges import complete_large_groups, expand_pairs
from distillguard.detectors.coordination.rarity import rarity_array
from distillguard.detectors.coordination.views import VIEWS

WRAPPER = next(v for v in VIEWS if v.name == "wrapper")
POPULATION = 5_000


def _members(rows: list[tuple[int, str]], cfg: CoordinationConfig) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["account", "value"]).drop_duplicates()
    frame["sharers"] = frame.groupby("value")["account"].transform("size").astype(np.int64)
    frame["order"] = frame["account"].astype(np.uint64)
    frame["rarity"] = rarity_array(frame["sharers"].to_numpy(), POPULATION, cfg.max_group)
    return frame.reset_index(drop=True)


def test_a_pair_another_view_proposed_gets_the_large_groups_weight() -> None:
    """A fleet of 100 shares one wrapper (a ring here) and pairs of it share a template: the
    template's pairs must carry the wrapper's weight too, or the two never add up."""
    cfg = CoordinationConfig()
    fleet = _members([(a, "fleet-wrapper") for a in range(100)], cfg)
    assert int(fleet["sharers"].iloc[0]) > cfg.pair_cap
    ring = expand_pairs(fleet, cfg)
    assert not ((ring["a"] == 0) & (ring["b"] == 50)).any()  # not ring neighbours
    pairs = pd.DataFrame(
        {"a": [0, 3], "b": [50, 150], "template": [0.3, 0.3], "wrapper": [0.0, 0.0]}
    )
    complete_large_groups(pairs, fleet, WRAPPER, cfg)
    expected = float(fleet["rarity"].iloc[0]) * WRAPPER.weight
    assert pairs.loc[0, "wrapper"] == expected
    assert pairs.loc[1, "wrapper"] == 0.0  # account 150 does not send it


def test_small_groups_are_left_to_their_own_pairs() -> None:
    cfg = CoordinationConfig()
    team = _members([(a, "team-wrapper") for a in range(10)], cfg)
    pairs = pd.DataFrame({"a": [0], "b": [5], "wrapper": [0.0]})
    complete_large_groups(pairs, team, WRAPPER, cfg)
    assert pairs.loc[0, "wrapper"] == 0.0


@settings(max_examples=60, deadline=None)
@given(
    groups=st.lists(st.integers(min_value=2, max_value=140), min_size=1, max_size=4),
    pair_cap=st.integers(min_value=2, max_value=60),
    seed=st.integers(min_value=0, max_value=2**31),
)
def test_completion_is_the_rarest_shared_large_value(
    groups: list[int], pair_cap: int, seed: int
) -> None:
    """Against brute force: each proposed pair ends with the larger of its own weight and
    the view weight of the rarest value the two share in a group above ``pair_cap``."""
    cfg = CoordinationConfig(pair_cap=pair_cap)
    rng = np.random.default_rng(seed)
    rows = [
        (int(a), f"v{g}")
        for g, size in enumerate(groups)
        for a in rng.choice(200, size=size, replace=False)
    ]
    members = _members(rows, cfg)
    chosen = rng.integers(0, 200, size=(80, 2))
    chosen = chosen[chosen[:, 0] != chosen[:, 1]]
    a, b = np.minimum(chosen[:, 0], chosen[:, 1]), np.maximum(chosen[:, 0], chosen[:, 1])
    before = rng.choice([0.0, 0.1, 0.6], size=len(a))
    pairs = pd.DataFrame({"a": a, "b": b, "wrapper": before})
    complete_large_groups(pairs, members, WRAPPER, cfg)
    values = members.groupby("account")["value"].apply(set).to_dict()
    large = members[(members["sharers"] > pair_cap) & (members["rarity"] > 0)]
    weight = large.groupby("value")["rarity"].first().to_dict()
    for row, (x, y) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
        shared = values.get(x, set()) & values.get(y, set()) & set(weight)
        best = max((weight[v] * WRAPPER.weight for v in shared), default=0.0)
        assert pairs.loc[row, "wrapper"] == max(before[row], best)


def test_completion_is_a_setting_that_is_off_by_default() -> None:
    """It costs a fifth of the graph's time at 16M exchanges (docs/benchmarks.md), so a user
    turns it on in the scan configuration (DG-401 settings) rather than paying it always."""
    assert CoordinationConfig().complete_large_groups is False
    assert CoordinationConfig.from_settings({"complete_large_groups": True}).complete_large_groups
