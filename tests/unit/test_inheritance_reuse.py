"""DG-502's relational selection of distinctive reuse against a plain loop that states the rule.

:func:`_distinctive_reuse` computes, with joins and group-bys, which outsiders and which other
clusters' members reuse a cluster's distinctive fingerprint values.  The loop below states the
same rule value by value and cluster by cluster, as the module docstring words it (it is how
the detector computed it before, in time that grew with values × clusters × users); both must
give the same links on random worlds, crowds, fleets and popular values included.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.detectors.drift.inheritance import Settings, _distinctive_reuse, sister_clusters

Link = tuple[str, str, int, int]
"""(account, cluster, value, uses)."""


def _reference(
    usage: pd.DataFrame,
    value_tasks: Mapping[int, int],
    candidates: Mapping[int, set[str]],
    cluster_of: Mapping[str, str],
    sizes: Mapping[str, int],
    settings: Settings,
    sisters: set[tuple[str, str]],
) -> tuple[set[Link], set[Link]]:
    reused: dict[tuple[str, int], list[tuple[str, int]]] = {}
    elsewhere: dict[tuple[str, int], list[tuple[str, int]]] = {}
    crowd: dict[tuple[str, int], bool] = {}
    for value, rows in usage.groupby("value", sort=True):
        value = int(value)
        if value_tasks.get(value, 0) < settings.min_tasks:
            continue
        users = [
            (str(a), int(u), int(t)) for a, u, t in rows[["account_id", "uses", "tasks"]].values
        ]
        for cid in sorted(candidates.get(value, ())):
            inside = sum(1 for a, _, _ in users if cluster_of.get(a) == cid)
            if inside < max(settings.min_members, settings.min_coverage * sizes[cid]):
                continue
            groups = {cluster_of[a] for a, _, _ in users if a in cluster_of} - {cid}
            groups = {g for g in groups if (cid, g) not in sisters}
            if len(groups) > settings.max_other_clusters:
                continue
            outside = [(a, u, t) for a, u, t in users if a not in cluster_of]
            crowd[cid, value] = len(outside) > settings.max_outsider_share * len(users)
            reused[cid, value] = [
                (a, u) for a, u, t in outside if u >= settings.min_uses and t >= 2
            ]
            elsewhere[cid, value] = [
                (a, u)
                for a, u, t in users
                if cluster_of.get(a, cid) != cid and u >= settings.min_uses and t >= 2
            ]
    outsiders: set[Link] = set()
    siblings: set[Link] = set()
    for (cid, value), found in reused.items():
        if crowd[cid, value]:
            others = {
                a for (c, v), users in reused.items() if c == cid and v != value for a, _ in users
            }
            repeat = sum(1 for a, _ in found if a in others)
            if not found or repeat < settings.min_cohesion * len(found):
                continue
        outsiders.update((a, cid, value, u) for a, u in found)
        siblings.update((a, cid, value, u) for a, u in elsewhere[cid, value])
    return outsiders, siblings


def _links(frame: pd.DataFrame) -> set[Link]:
    return {
        (str(a), str(c), int(v), int(u))
        for a, c, v, u in frame[["account_id", "cluster_id", "value", "uses"]].values
    }


def _world(seed: int) -> tuple[pd.DataFrame, dict[int, int], dict[int, set[str]], dict[str, str]]:
    """Clusters, outsiders and values drawn from three pools: anyone (popular values), one
    cluster with a fleet of outsiders (a paraphrasing fleet), or a few accounts."""
    rng = random.Random(seed)
    clusters = {f"C-{c}": [f"m{c}-{i}" for i in range(rng.randint(2, 8))] for c in range(6)}
    cluster_of = {a: cid for cid, members in clusters.items() for a in members}
    outsiders = [f"o{i}" for i in range(30)]
    fleet = rng.sample(outsiders, 12)
    accounts = [*cluster_of, *outsiders]
    values = list(range(100, 100 + rng.randint(5, 25)))
    rows = []
    candidates: dict[int, set[str]] = {}
    for value in values:
        pool = rng.choice(("anyone", "fleet", "few"))
        if pool == "fleet":
            users = [*clusters["C-0"], *rng.sample(fleet, rng.randint(4, len(fleet)))]
        else:
            users = rng.sample(accounts, rng.randint(1, len(accounts) if pool == "anyone" else 6))
        for account in users:
            rows.append((account, value, rng.randint(1, 6), rng.randint(1, 4)))
        candidates[value] = set(rng.sample(sorted(clusters), rng.randint(1, 4)))
        if pool == "fleet":
            candidates[value].add("C-0")
    usage = pd.DataFrame(rows, columns=["account_id", "value", "uses", "tasks"])
    value_tasks = {v: rng.randint(3, 9) for v in values}
    return usage, value_tasks, candidates, cluster_of


@pytest.mark.parametrize("seed", range(40))
def test_relational_reuse_matches_the_rule_stated_as_a_loop(seed: int) -> None:
    usage, value_tasks, candidates, cluster_of = _world(seed)
    sizes: dict[str, int] = {}
    for cid in cluster_of.values():
        sizes[cid] = sizes.get(cid, 0) + 1
    settings = Settings(min_tasks=4, max_other_clusters=2, min_coverage=0.3)
    # some seeds with no sisters at all, the others with a random symmetric set
    rng = random.Random(seed)
    names = sorted(sizes)
    pairs = {(a, b) for a in names for b in names if a < b and seed % 3 and rng.random() < 0.4}
    sisters = pairs | {(b, a) for a, b in pairs}
    frame = pd.DataFrame(sorted(sisters), columns=["cluster_id", "sister"])
    outsiders, siblings = _distinctive_reuse(
        usage, value_tasks, candidates, cluster_of, sizes, settings, frame
    )
    expected = _reference(usage, value_tasks, candidates, cluster_of, sizes, settings, sisters)
    assert (_links(outsiders), _links(siblings)) == expected


def test_no_usage_gives_no_links() -> None:
    empty = pd.DataFrame(
        {"account_id": pd.Series(dtype=object), "value": [], "uses": [], "tasks": []}
    ).astype({"value": "int64", "uses": "int64", "tasks": "int64"})
    outsiders, siblings = _distinctive_reuse(
        empty, {}, {1: {"C-1"}}, {"a": "C-1"}, {"C-1": 2}, Settings()
    )
    assert outsiders.empty and siblings.empty


@given(
    candidates=st.dictionaries(
        st.integers(0, 30),
        st.sets(st.sampled_from([f"C-{i}" for i in range(8)]), min_size=1, max_size=8),
        max_size=25,
    ),
    split=st.sets(st.sampled_from([f"C-{i}" for i in range(8)])),
    min_values=st.integers(1, 4),
)
@settings(max_examples=200, deadline=None)
def test_sister_clusters_are_split_clusters_sharing_enough_values(
    candidates: dict[int, set[str]], split: set[str], min_values: int
) -> None:
    found = sister_clusters(candidates, split, min_values)
    expected = {
        (c, d)
        for c in split
        for d in split
        if c != d
        and sum(1 for cids in candidates.values() if c in cids and d in cids) >= min_values
    }
    assert set(zip(found["cluster_id"], found["sister"], strict=True)) == expected
    assert len(found) == len(expected)
