"""How peer intelligence counts in scoring: alone `review`, with our own evidence more, and
never passed on to cluster members that did not match it."""

from __future__ import annotations

from distillguard.detectors.base import Evidence
from distillguard.scoring.combine import ClusterInput, ScoringConfig, score_all


def _intel(account: str, strength: float) -> Evidence:
    return Evidence("DG-601", "intel", account, strength, "matches a peer's indicator")


def _cluster_evidence(strength: float) -> list[Evidence]:
    return [
        Evidence("DG-401", "coordination", "C-1", strength, "tied", subject_kind="cluster"),
        Evidence("DG-402", "infrastructure", "C-1", strength, "card", subject_kind="cluster"),
    ]


def test_intel_alone_reviews_and_with_own_evidence_condemns() -> None:
    own = Evidence("DG-201", "behaviour", "b", 0.4, "scripted timing")
    accounts, _ = score_all(
        ["a", "b", "c"], [_intel("a", 0.75), _intel("b", 0.95), own], [], ScoringConfig()
    )
    verdicts = {a.account_id: a.verdict for a in accounts}
    assert verdicts == {"a": "review", "b": "distillation", "c": "benign"}


def test_members_intel_does_not_move_the_cluster_judgment() -> None:
    cluster = ClusterInput("C-1", ["m1", "m2", "m3"], {"exchanges": 9})
    members = ["m1", "m2", "m3"]
    for strength in (0.3, 0.9):
        without = score_all(members, _cluster_evidence(strength), [cluster], ScoringConfig())
        with_intel = score_all(
            members,
            [*_cluster_evidence(strength), _intel("m1", 0.95), _intel("m2", 0.95)],
            [cluster],
            ScoringConfig(),
        )
        assert with_intel[1] == without[1]  # same cluster score and verdict
        quiet = {a.account_id: a for a in with_intel[0]}["m3"]
        assert quiet == {a.account_id: a for a in without[0]}["m3"]
