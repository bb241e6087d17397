"""Scoring: noisy-or within and across families, calibration, two-family rule, clusters."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from distillguard.detectors.base import EXPLAINED, Evidence
from distillguard.scoring.combine import (
    ClusterInput,
    ScoringConfig,
    calibrated_score,
    family_strengths,
    harvest_strength,
    noisy_or,
    score_all,
    verdict_for,
)

CONFIG = ScoringConfig(harvest_detectors=())
"""The family rules on their own; the harvest requirement of the defaults is tested below."""
DEFAULTS = ScoringConfig()


def ev(subject: str, family: str, strength: float, kind: str = "account") -> Evidence:
    detector = f"DG-{900 + len(family)}"
    return Evidence(detector, family, subject, strength, f"{family} {strength}", kind)


def test_noisy_or_adds_up_without_exceeding_certainty() -> None:
    assert noisy_or([]) == 0.0
    assert noisy_or([0.5, 0.5]) == pytest.approx(0.75)
    assert noisy_or([1.0, 0.2]) == 1.0


def test_score_is_monotone_in_evidence_and_zero_without_it() -> None:
    assert calibrated_score({}, CONFIG) == 0.0
    weak = calibrated_score({"behaviour": 0.3}, CONFIG)
    strong = calibrated_score({"behaviour": 0.9}, CONFIG)
    both = calibrated_score({"behaviour": 0.9, "template": 0.9}, CONFIG)
    assert 0.0 <= weak < strong < both <= 1.0


def test_one_family_alone_never_reaches_distillation() -> None:
    for family in CONFIG.family_weights:
        families = {family: 1.0}
        assert verdict_for(calibrated_score(families, CONFIG), families, CONFIG) != "distillation"


def test_one_kind_of_evidence_alone_is_no_review_but_a_peer_s_verdict_is() -> None:
    """A tutoring product asking for steps on every request (prompt alone), a power user on
    the largest budget who moved to the new model the day it shipped (behaviour, with drift
    only corroborating): benign however strong; a second kind, or a peer's intelligence,
    puts the account up for review."""

    def verdict(families: dict[str, float], config: ScoringConfig = CONFIG) -> str:
        return verdict_for(calibrated_score(families, config), families, config)

    prompt_only = {"prompt": 1.0}
    assert calibrated_score(prompt_only, CONFIG) >= CONFIG.review_threshold
    assert verdict(prompt_only) == "benign"
    eager = {"behaviour": 1.0, "drift": 0.3}
    assert calibrated_score(eager, CONFIG) >= CONFIG.review_threshold
    assert verdict(eager) == "benign"
    assert verdict({"prompt": 1.0, "behaviour": 0.2}) == "review"
    assert verdict({"prompt": 1.0, "behaviour": 0.05}) == "benign"  # under the floor
    assert verdict({"intel": 1.0}) == "review"
    assert verdict(prompt_only, replace(CONFIG, review_min_families=1)) == "review"
    with pytest.raises(ValueError, match="review_min_families"):
        ScoringConfig(review_min_families=0)
    with pytest.raises(ValueError, match="review_alone_families"):
        ScoringConfig(review_alone_families=("gossip",))


def test_two_strong_independent_families_give_distillation() -> None:
    families = family_strengths([ev("a", "template", 0.95), ev("a", "coordination", 0.95)])
    assert verdict_for(calibrated_score(families, CONFIG), families, CONFIG) == "distillation"


def test_cluster_evidence_condemns_quiet_members_together() -> None:
    evidence = [
        ev("C-1", "coordination", 0.95, "cluster"),
        ev("C-1", "template", 0.95, "cluster"),
        ev("loud", "behaviour", 0.9),
    ]
    cluster = ClusterInput("C-1", ["quiet", "loud"], {"exchanges": 10})
    accounts, clusters = score_all(["quiet", "loud", "alone"], evidence, [cluster], CONFIG)
    verdicts = {a.account_id: a.verdict for a in accounts}
    assert verdicts == {"alone": "benign", "loud": "distillation", "quiet": "distillation"}
    assert clusters[0].verdict == "distillation"
    assert accounts[0].account_id == "alone" and accounts[0].reasons == []
    quiet = next(a for a in accounts if a.account_id == "quiet")
    assert quiet.cluster_id == "C-1" and quiet.reasons[0].weight >= quiet.reasons[-1].weight


def test_a_condemned_cluster_reaches_members_in_proportion_to_their_ties() -> None:
    evidence = [
        ev("C-1", "coordination", 0.95, "cluster"),
        ev("C-1", "template", 0.95, "cluster"),
        ev("core", "behaviour", 0.9),
        ev("core", "prompt", 0.9),
    ]
    cluster = ClusterInput(
        "C-1", ["core", "firm", "loose"], {"exchanges": 10}, attachment={"firm": 1.0, "loose": 0.2}
    )
    accounts, clusters = score_all(["core", "firm", "loose"], evidence, [cluster], CONFIG)
    verdicts = {a.account_id: a.verdict for a in accounts}
    assert clusters[0].verdict == "distillation"
    assert verdicts == {"core": "distillation", "firm": "distillation", "loose": "review"}
    loose = next(a for a in accounts if a.account_id == "loose")
    assert "tied to the other members with strength 0.20" in loose.reasons[0].summary or any(
        "strength 0.20" in r.summary for r in loose.reasons
    )
    weights = [r.weight for r in loose.reasons]
    assert weights == sorted(weights, reverse=True)


def test_satellites_do_not_dilute_the_cluster_they_join() -> None:
    evidence = [ev(m, "prompt", 0.95) for m in ("a", "b", "c")]
    evidence += [ev(m, "behaviour", 0.95) for m in ("a", "b", "c")]
    evidence.append(ev("C-1", "coordination", 0.9, "cluster"))
    quiet = [f"s{i}" for i in range(5)]
    plain = ClusterInput("C-1", ["a", "b", "c", *quiet], {"exchanges": 1})
    marked = ClusterInput(
        "C-1", ["a", "b", "c", *quiet], {"exchanges": 1}, satellites=frozenset(quiet)
    )
    everyone = ["a", "b", "c", *quiet]
    diluted = score_all(everyone, evidence, [plain], CONFIG)[1][0]
    kept = score_all(everyone, evidence, [marked], CONFIG)[1][0]
    assert kept.score > diluted.score and kept.verdict == "distillation"


def test_a_satellite_of_a_benign_cluster_carries_none_of_its_evidence() -> None:
    # A busy new account that reuses a popular tool's wrapper, attached to the benign
    # group of companies that use the same tool: its own evidence alone decides.
    evidence = [ev("busy", "behaviour", 0.99), ev("C-1", "coordination", 0.5, "cluster")]
    reuse = Evidence(
        "DG-502", "drift", "busy", 0.5, "reuses C-1's wrapper", details={"cluster_id": "C-1"}
    )
    evidence.append(reuse)
    group = ClusterInput(
        "C-1", ["a", "b", "busy"], {"exchanges": 1}, satellites=frozenset({"busy"})
    )
    accounts, clusters = score_all(["a", "b", "busy"], evidence, [group], CONFIG)
    assert clusters[0].verdict == "benign"
    busy = {a.account_id: a for a in accounts}["busy"]
    alone = score_all(["busy"], evidence[:1], [], CONFIG)[0][0]
    assert busy.score == alone.score and busy.verdict == alone.verdict == "benign"
    assert [r.detector for r in busy.reasons] == [r.detector for r in alone.reasons]
    quiet = {a.account_id: a for a in accounts}["a"]
    assert quiet.score == 0.0 and quiet.reasons == []  # ties alone open no case


def test_a_clusters_ties_corroborate_a_members_own_case_only() -> None:
    team = ClusterInput("C-1", ["a", "b"], {"exchanges": 1})
    loose = ev("C-1", "coordination", 0.6, "cluster")
    drift_only = score_all(["a", "b"], [loose, ev("a", "drift", 0.9)], [team], CONFIG)[0]
    assert {r.account_id: r.score for r in drift_only} == {"a": 0.0, "b": 0.0}
    opened = [ev("C-1", "coordination", 0.9, "cluster"), ev("a", "behaviour", 0.5)]
    with_ties, (cluster,) = score_all(["a", "b"], opened, [team], CONFIG)
    assert cluster.verdict == "review"
    alone = score_all(["a"], opened[1:], [], CONFIG)[0][0]
    assert with_ties[0].score > alone.score


def test_a_cluster_judged_benign_corroborates_nothing() -> None:
    # A company team's shared card says nothing about a customer who only shares a popular
    # prompt wrapper with it, whatever that customer's own case.
    team = ClusterInput("C-1", ["a", "b"], {"exchanges": 1})
    opened = [ev("C-1", "coordination", 0.5, "cluster"), ev("a", "behaviour", 0.5)]
    accounts, (cluster,) = score_all(["a", "b"], opened, [team], CONFIG)
    assert cluster.verdict == "benign"
    alone = score_all(["a"], opened[1:], [], CONFIG)[0][0]
    assert accounts[0].score == alone.score


def test_a_crowd_tied_only_by_what_it_sends_corroborates_nothing() -> None:
    # Strangers running one public benchmark harness whose pooled prompts ask for reasoning:
    # the group is worth a look, but sharing the harness is each member's own behaviour, not
    # corroboration of a member's case.
    asks = Evidence("DG-205", "template", "C-1", 0.9, "pooled prompts ask", "cluster")
    evidence = [ev("C-1", "template", 0.9, "cluster"), asks, ev("a", "behaviour", 0.6)]
    tied = ClusterInput("C-1", ["a", "b"], {"exchanges": 1})
    crowd = replace(tied, content_only=True)
    (a, _), (cluster,) = score_all(["a", "b"], evidence, [tied], CONFIG)
    assert cluster.verdict == "review" and a.verdict == "distillation"
    (a_in_crowd, _), (same,) = score_all(["a", "b"], evidence, [crowd], CONFIG)
    alone = score_all(["a"], evidence[2:], [], CONFIG)[0][0]
    assert same.verdict == "review" and a_in_crowd.score == alone.score


def test_what_a_crowd_asks_and_the_text_that_ties_it_are_one_family() -> None:
    """Two tutoring companies whose products label each question alike: every member asks
    for reasoning through its own instruction, and the label ties them.  Tied by machinery
    across identities, prompt and template are two families and condemn the group; tied by
    the text alone, they are one observation and condemn no one."""
    evidence = [
        ev("C-1", "template", 0.6, "cluster"),
        *[ev(member, "prompt", 0.9) for member in ("a", "b", "c")],
    ]
    tied = ClusterInput("C-1", ["a", "b", "c"], {"exchanges": 1})
    _, (machinery,) = score_all(["a", "b", "c"], evidence, [tied], CONFIG)
    assert machinery.verdict == "distillation"
    accounts, (crowd,) = score_all(
        ["a", "b", "c"], evidence, [replace(tied, content_only=True)], CONFIG
    )
    assert crowd.verdict != "distillation"
    alone = score_all(["a"], evidence[1:2], [], CONFIG)[0][0]
    assert all(a.verdict == alone.verdict and a.score == alone.score for a in accounts)


def test_a_crowds_one_observation_is_as_strong_as_its_stronger_half() -> None:
    """Two tutoring products on a reasoning budget whose label ties them: each member shows
    the extraction parameters (behaviour) and, through its own instruction, some prompt
    evidence below the floor; the label's share of the crowd's prompts (template) is below
    it too.  Seen twice, one observation is no stronger than once, so the crowd has one
    family at the floor and is not condemned (added up by noisy-or, 0.3 and 0.25 would
    make 0.475, a second family); when one half alone reaches the floor, and the crowd's
    pooled prompts ask for as much, it is."""
    evidence = [
        ev("C-1", "template", 0.25, "cluster"),
        *[ev(member, "prompt", 0.3) for member in ("a", "b")],
        *[ev(member, "behaviour", 0.9) for member in ("a", "b")],
    ]
    crowd = ClusterInput("C-1", ["a", "b"], {"exchanges": 1}, content_only=True)
    _, (judged,) = score_all(["a", "b"], evidence, [crowd], CONFIG)
    assert judged.verdict != "distillation"
    asks = Evidence("DG-205", "template", "C-1", 0.5, "pooled prompts ask", "cluster")
    stronger = [ev("C-1", "template", 0.5, "cluster"), asks, *evidence[1:]]
    _, (condemned,) = score_all(["a", "b"], stronger, [crowd], CONFIG)
    assert condemned.verdict == "distillation"


def test_a_piece_of_a_condemned_campaign_is_judged_with_it() -> None:
    evidence = [
        ev("C-1", "coordination", 0.95, "cluster"),
        ev("C-1", "template", 0.95, "cluster"),
        ev("C-2", "coordination", 0.2, "cluster"),
        *[ev(m, "behaviour", 0.6) for m in ("p", "q")],
    ]
    link = Evidence(
        "DG-502", "drift", "C-2", 0.25, "piece", "cluster", {"cluster_id": "C-1", "attachment": 1.0}
    )
    campaign = ClusterInput("C-1", ["a", "b"], {"exchanges": 1})
    piece = ClusterInput("C-2", ["p", "q"], {"exchanges": 1})
    everyone = ["a", "b", "p", "q"]
    alone, _ = score_all(everyone, evidence, [campaign, piece], CONFIG)
    joined, _ = score_all(everyone, [*evidence, link], [campaign, piece], CONFIG)
    before = {a.account_id: a.verdict for a in alone}
    after = {a.account_id: a.verdict for a in joined}
    assert before["p"] != "distillation" and after["p"] == after["q"] == "distillation"
    assert any("a piece of cluster C-1" in r.summary for r in joined[2].reasons)
    # A link to a cluster that is not condemned changes nothing.
    weak = [e for e in evidence if e.subject != "C-1"]
    unjudged = {
        a.account_id: a.verdict
        for a in score_all(everyone, [*weak, link], [campaign, piece], CONFIG)[0]
    }
    assert unjudged["p"] != "distillation"


def test_a_cluster_is_judged_on_its_median_member() -> None:
    # Two members: the median is their mean, neither the louder nor the quieter alone.
    evidence = [ev("a", "prompt", 0.6), ev("b", "prompt", 0.2), ev("a", "behaviour", 1.0)]
    evidence += [ev("b", "behaviour", 1.0)]
    _, (pair,) = score_all(
        ["a", "b"], evidence, [ClusterInput("C-2", ["a", "b"], {"exchanges": 1})], CONFIG
    )
    _, (quiet,) = score_all(
        ["a", "b"],
        [*evidence[1:], ev("a", "prompt", 0.2)],
        [ClusterInput("C-2", ["a", "b"], {"exchanges": 1})],
        CONFIG,
    )
    assert pair.verdict == "distillation" and quiet.verdict != "distillation"
    # Three members: one loud member does not move the median.
    trio = [ev(m, "behaviour", 0.9) for m in "abc"] + [ev("a", "prompt", 0.9)]
    _, (three,) = score_all(
        ["a", "b", "c"], trio, [ClusterInput("C-3", list("abc"), {"exchanges": 1})], CONFIG
    )
    assert three.verdict != "distillation"


def test_a_release_pivot_only_adds_to_a_case_another_family_opened() -> None:
    faint = {"drift": 0.5, "coordination": 0.3, "behaviour": 0.25, "template": 0.2}
    opened = {**faint, "behaviour": 0.6}
    without_drift = {k: v for k, v in faint.items() if k != "drift"}
    assert calibrated_score(faint, CONFIG) == calibrated_score(without_drift, CONFIG)
    assert calibrated_score(opened, CONFIG) > calibrated_score(
        {k: v for k, v in opened.items() if k != "drift"}, CONFIG
    )
    with pytest.raises(ValueError, match="corroborating_families"):
        ScoringConfig(corroborating_families=("hunch",))


def test_invalid_configuration_is_rejected_with_the_field_named() -> None:
    with pytest.raises(ValueError, match=r"family_weights\.behaviour"):
        ScoringConfig(family_weights={"behaviour": 1.5})
    with pytest.raises(ValueError, match="unknown families"):
        ScoringConfig(family_weights={"vibes": 0.5})
    with pytest.raises(ValueError, match="review_threshold"):
        ScoringConfig(review_threshold=0.9, distillation_threshold=0.8)


def test_distillation_needs_harvest_evidence_under_the_defaults() -> None:
    """Developers sharing one tool's wrapper are related and automated, not harvesting."""
    tied = [
        ev("C-1", "coordination", 0.95, "cluster"),
        ev("C-1", "template", 0.95, "cluster"),
        ev("a", "behaviour", 0.9),
        ev("b", "behaviour", 0.9),
    ]
    cluster = ClusterInput("C-1", ["a", "b"], {"exchanges": 10})
    accounts, clusters = score_all(["a", "b"], tied, [cluster], DEFAULTS)
    assert clusters[0].verdict == "benign" and clusters[0].score == 0.0
    assert {a.verdict for a in accounts} == {"benign"}
    harvesting = Evidence("DG-205", "prompt", "C-1", 0.6, "prompts ask for reasoning", "cluster")
    accounts, clusters = score_all(["a", "b"], [*tied, harvesting], [cluster], DEFAULTS)
    assert clusters[0].verdict == "distillation"
    assert {a.verdict for a in accounts} == {"distillation"}


def test_a_cluster_not_condemned_lends_no_harvest_evidence_to_its_members() -> None:
    """Benchmark firms sharing a public harness: scripted, tied, task-like as a crowd, but a
    member that asks for nothing harvestable itself is not put up for review by the crowd."""
    crowd = ClusterInput("C-1", ["a", "b", "c"], {"exchanges": 30})
    evidence = [
        ev("C-1", "template", 0.9, "cluster"),
        Evidence("DG-303", "semantic", "C-1", 0.2, "pooled prompts unlike benign", "cluster"),
        *[ev(m, "behaviour", 0.9) for m in ("a", "b", "c")],
    ]
    accounts, clusters = score_all(["a", "b", "c"], evidence, [crowd], DEFAULTS)
    # The crowd stays a lead for an analyst (review), but no member is accused by it.
    assert clusters[0].verdict == "review"
    assert {a.verdict for a in accounts} == {"benign"} and {a.score for a in accounts} == {0.0}
    assert "a lead, not an accusation" in clusters[0].reasons[-1].summary
    # The crowd's evidence is still listed, and a member's own harvest evidence counts.
    assert any("pooled prompts" in r.summary for r in accounts[0].reasons)
    own = Evidence("DG-203", "behaviour", "a", 0.5, "max_tokens 32,000")
    accounts, _ = score_all(["a", "b", "c"], [*evidence, own], [crowd], DEFAULTS)
    assert accounts[0].score > 0.0 and accounts[1].score == 0.0


def test_harvest_evidence_adds_up_across_harvest_detectors() -> None:
    families = {"coordination": 0.95, "template": 0.95}
    score = calibrated_score(families, DEFAULTS)
    weak = [
        Evidence("DG-203", "behaviour", "a", 0.2, "max_tokens"),
        Evidence("DG-406", "template", "a", 0.2, "house rule"),
    ]
    one = harvest_strength(weak[:1], DEFAULTS)
    assert one < DEFAULTS.family_floor
    assert verdict_for(score, families, DEFAULTS, one) != "distillation"
    # Below the floor, the score shrinks in proportion: a risk of distillation, not of ties.
    scaled = calibrated_score(families, DEFAULTS, one)
    assert scaled == pytest.approx(score * one / DEFAULTS.family_floor)
    both = harvest_strength(weak, DEFAULTS)
    assert both == pytest.approx(0.36)
    assert calibrated_score(families, DEFAULTS, both) == score
    assert verdict_for(score, families, DEFAULTS, both) == "distillation"
    assert harvest_strength([Evidence("DG-401", "coordination", "a", 1.0, "tied")], DEFAULTS) == 0.0


def test_harvest_detectors_are_validated() -> None:
    with pytest.raises(ValueError, match="harvest_detectors"):
        ScoringConfig(harvest_detectors="DG-205")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="harvest_detectors"):
        ScoringConfig(harvest_detectors=("prompt",))
    assert harvest_strength([], ScoringConfig(harvest_detectors=())) == 1.0


def test_harvest_detectors_come_from_the_configuration_file(tmp_path: Path) -> None:
    from distillguard.engine.config import load_config
    from distillguard.errors import UserError

    good = tmp_path / "dg.toml"
    good.write_text('[scoring]\nharvest_detectors = ["DG-205", "DG-302"]\n')
    assert load_config(good).scoring.harvest_detectors == ("DG-205", "DG-302")
    none = tmp_path / "none.toml"
    none.write_text("[scoring]\nharvest_detectors = []\n")
    assert load_config(none).scoring.harvest_detectors == ()
    bad = tmp_path / "bad.toml"
    bad.write_text('[scoring]\nharvest_detectors = "DG-205"\n')
    with pytest.raises(UserError, match=r"bad.toml: scoring.harvest_detectors"):
        load_config(bad)


def _harvest(subject: str, detector: str, family: str, strength: float) -> Evidence:
    return Evidence(detector, family, subject, strength, f"{detector} {strength}")


def test_own_harvest_evidence_in_two_families_puts_a_lone_account_up_for_review() -> None:
    # A lone harvester's few requests: extraction parameters and prompt signals, each just
    # at the floor, far below the review score.
    lone = [
        _harvest("lone", "DG-203", "behaviour", 0.4),
        _harvest("lone", "DG-205", "prompt", 0.36),
    ]
    families = family_strengths(lone)
    assert calibrated_score(families, DEFAULTS) < DEFAULTS.review_threshold
    (result,) = score_all(["lone"], lone, [], DEFAULTS)[0]
    assert result.verdict == "review"
    assert "(behaviour, prompt)" in result.reasons[0].summary
    off = ScoringConfig(review_harvest_families=False)
    assert score_all(["lone"], lone, [], off)[0][0].verdict == "benign"
    # 32 requests: the detectors discount the sample below the family floor, not below
    # the review bar; a faint second family is not enough.
    few = [_harvest("few", "DG-203", "behaviour", 0.65), _harvest("few", "DG-205", "prompt", 0.29)]
    assert score_all(["few"], few, [], DEFAULTS)[0][0].verdict == "review"
    faint = [few[0], _harvest("few", "DG-205", "prompt", 0.05)]
    assert score_all(["few"], faint, [], DEFAULTS)[0][0].verdict == "benign"
    with pytest.raises(ValueError, match="review_harvest_floor"):
        ScoringConfig(review_harvest_floor=0.5)


def test_the_harvest_review_needs_two_families_of_harvest_evidence_of_its_own() -> None:
    # One harvest family (a reasoning power user's budget and effort) with a faint second,
    # or a second family that is not harvest evidence (shared infrastructure), is not enough.
    one = [_harvest("a", "DG-203", "behaviour", 0.8), _harvest("a", "DG-301", "semantic", 0.05)]
    assert score_all(["a"], one, [], DEFAULTS)[0][0].verdict == "benign"
    shared = [
        _harvest("b", "DG-203", "behaviour", 0.45),
        _harvest("b", "DG-401", "infrastructure", 0.45),
    ]
    assert score_all(["b"], shared, [], DEFAULTS)[0][0].verdict == "benign"
    # Nor does a cluster's pooled harvest evidence count as the member's own.
    pooled = [
        Evidence("DG-205", "prompt", "C-1", 0.9, "pooled prompts", "cluster"),
        _harvest("c", "DG-203", "behaviour", 0.5),
    ]
    cluster = ClusterInput("C-1", ["c", "d"], {"exchanges": 10})
    accounts, _ = score_all(["c", "d"], pooled, [cluster], DEFAULTS)
    for result in accounts:
        assert all("independent families" not in r.summary for r in result.reasons)


def test_the_few_requests_review_holds_only_where_the_sample_is_small() -> None:
    """Two faint families of harvest evidence put a lone harvester of a few dozen requests up
    for review; from ``review_harvest_max_requests`` on, the detectors no longer discount the
    sample and a low score stands (a tutoring product on a reasoning budget, 290 requests)."""
    faint = [
        Evidence("DG-203", "behaviour", "a", 0.2, "extraction parameters"),
        Evidence("DG-301", "semantic", "a", 0.12, "capability tags"),
    ]
    for sent, expected in ((30, "review"), (99, "review"), (100, "benign"), (290, "benign")):
        (result,), _ = score_all(["a"], faint, [], DEFAULTS, {"a": sent})
        assert result.verdict == expected, sent
    (unknown,), _ = score_all(["a"], faint, [], DEFAULTS)
    assert unknown.verdict == "review"
    with pytest.raises(ValueError, match="review_harvest_max_requests"):
        ScoringConfig(review_harvest_max_requests=0)


def test_a_crowds_tie_says_no_more_than_what_the_crowd_asks() -> None:
    """Three tutoring companies on a reasoning budget, tied only by the label each writes
    above a student's question: the label carries most of their prompts (template 0.6) but
    asks for nothing, and their members' prompts ask for little, so the tie is no second
    family beside their parameters.  A house rule (DG-406) counts as far as what it carries
    asks for harvestable outputs: a fleet's rule around harvest requests lifts the limit; a
    stock sentence the classifier reads as harvest on 2% of requests (tutoring companies
    that write "always explain every step of the solution in detail") does not."""
    label = Evidence("DG-403", "template", "C-1", 0.6, "one label", "cluster")
    members = ["a", "b", "c"]
    budget = [Evidence("DG-203", "behaviour", m, 0.85, "largest budget") for m in members]
    crowd = ClusterInput("C-1", members, {"exchanges": 1}, content_only=True)
    _, (tutoring,) = score_all(members, [label, *budget], [crowd], DEFAULTS)
    assert tutoring.verdict != "distillation"
    rule = Evidence("DG-406", "template", "C-1", 0.5, "house rule around harvest", "cluster")
    _, (fleet,) = score_all(members, [label, rule, *budget], [crowd], DEFAULTS)
    assert fleet.verdict == "distillation"
    stock = Evidence("DG-406", "template", "C-1", 0.01, "stock sentence, unread", "cluster")
    _, (companies,) = score_all(members, [label, stock, *budget], [crowd], DEFAULTS)
    assert companies.verdict != "distillation"


def _fleet_member(member: str, behaviour: float) -> list[Evidence]:
    """A member's own evidence: every prompt asks for harvest (DG-205) and its parameters
    (DG-203) at ``behaviour``."""
    return [
        Evidence("DG-205", "prompt", member, 1.0, "all prompts ask"),
        Evidence("DG-203", "behaviour", member, behaviour, "largest budget"),
    ]


def _house_rule_crowd(condemned: int, size: int) -> tuple[list[str], list[Evidence]]:
    """A crowd of ``size`` members tied by a house rule; ``condemned`` of them show their
    parameters above the floor, the rest a hair under it."""
    members = [f"m{i:02d}" for i in range(size)]
    rule = Evidence("DG-406", "template", "C-1", 0.3, "house rule around harvest", "cluster")
    own = [
        item
        for i, member in enumerate(members)
        for item in _fleet_member(member, 0.45 if i < condemned else 0.3)
    ]
    return members, [rule, *own]


def test_a_house_rule_crowd_with_a_quorum_of_condemned_members_is_one_operation() -> None:
    """A fleet of single-account identities sharing one house rule, whose members sit on
    both sides of the behaviour floor by noise: when a third of them (and at least three)
    are condemned on their own two families, the crowd is judged on its typical condemned
    member and the rest are condemned with it."""
    members, evidence = _house_rule_crowd(condemned=4, size=12)
    crowd = ClusterInput("C-1", members, {"exchanges": 1}, content_only=True)
    accounts, (cluster,) = score_all(members, evidence, [crowd], DEFAULTS)
    assert cluster.verdict == "distillation"
    assert cluster.reasons[0].detector == "scoring" and "4 of its 12" in cluster.reasons[0].summary
    assert all(a.verdict == "distillation" for a in accounts)
    # Below the quorum the crowd's typical member decides, and the rest stay under review.
    members, evidence = _house_rule_crowd(condemned=3, size=12)
    crowd = ClusterInput("C-1", members, {"exchanges": 1}, content_only=True)
    accounts, (cluster,) = score_all(members, evidence, [crowd], DEFAULTS)
    assert cluster.verdict != "distillation"
    assert sum(a.verdict == "distillation" for a in accounts) == 3
    # Switched off, the quorum changes nothing.
    members, evidence = _house_rule_crowd(condemned=4, size=12)
    off = replace(DEFAULTS, crowd_quorum=False)
    _, (cluster,) = score_all(members, evidence, [crowd], off)
    assert cluster.verdict != "distillation"


def test_a_condemned_crowd_lists_no_member_without_harvesting_of_its_own() -> None:
    """Developers of one company who use the open-source agent framework a campaign uses
    too are tied to the campaign's crowd by its text alone; their own requests show no
    harvesting, so they are judged on their own evidence and taken off the crowd's list
    (and its traffic count).  A satellite, attached as a new account reusing the crowd's
    own fingerprints, stays; a crowd tied by infrastructure keeps every member."""
    members, evidence = _house_rule_crowd(condemned=6, size=12)
    quiet = ["dev-1", "dev-2", "power-1"]
    drift = Evidence("DG-501", "drift", "dev-1", 0.2, "moved to the new model")
    # a reasoning power user sending public items the campaign sends too: its largest
    # budget says how it calls, not that it asks for the crowd's harvest
    budget = Evidence("DG-203", "behaviour", "power-1", 0.45, "largest budget, one-shot")
    reuse = Evidence("DG-502", "drift", "new-1", 0.2, "reuses its fingerprints")
    everyone = [*members, *quiet, "new-1"]
    crowd = ClusterInput(
        "C-1", everyone, {"exchanges": 1000}, content_only=True, satellites=frozenset({"new-1"})
    )
    requests = dict.fromkeys(everyone, 50) | {"dev-1": 300, "dev-2": 100}
    accounts, (cluster,) = score_all(
        everyone, [*evidence, drift, reuse, budget], [crowd], DEFAULTS, requests
    )
    by_id = {a.account_id: a for a in accounts}
    assert cluster.verdict == "distillation"
    assert sorted(cluster.account_ids) == sorted([*members, "new-1"])
    assert cluster.exchanges == 1000 - 450
    assert "3 more accounts send its text" in cluster.reasons[-1].summary
    assert "judged distillation, score" in by_id["dev-1"].reasons[-1].summary
    assert f"{len(members) + 1} accounts)" in by_id["new-1"].reasons[0].summary
    for dev in quiet:
        assert by_id[dev].verdict == "benign" and by_id[dev].cluster_id is None
        assert "ask for no harvest" in by_id[dev].reasons[-1].summary
    assert by_id["new-1"].verdict == "distillation" and by_id["new-1"].cluster_id == "C-1"
    assert all(by_id[m].verdict == "distillation" for m in members)
    off = replace(DEFAULTS, crowd_bystanders=False)
    accounts, (cluster,) = score_all(
        everyone, [*evidence, drift, reuse, budget], [crowd], off, requests
    )
    assert set(cluster.account_ids) == set(everyone)
    assert all(a.verdict == "distillation" for a in accounts)
    tied = replace(crowd, content_only=False)
    card = Evidence("DG-402", "coordination", "C-1", 0.6, "one payment card", "cluster")
    accounts, (cluster,) = score_all(everyone, [*evidence, card], [tied], DEFAULTS, requests)
    assert cluster.verdict == "distillation" and set(cluster.account_ids) == set(everyone)
    assert all(a.verdict != "benign" and a.cluster_id == "C-1" for a in accounts)


def test_the_quorum_needs_a_house_rule_and_its_own_members_cases() -> None:
    """A crowd tied by a label (no house rule) is not one operation because some members
    are condemned; nor does a peer's intelligence on members count towards the quorum (it
    speaks only of the accounts that show it)."""
    members, evidence = _house_rule_crowd(condemned=5, size=12)
    label = Evidence("DG-403", "template", "C-1", 0.3, "one label", "cluster")
    crowd = ClusterInput("C-1", members, {"exchanges": 1}, content_only=True)
    _, (cluster,) = score_all(members, [label, *evidence[1:]], [crowd], DEFAULTS)
    assert cluster.verdict != "distillation"
    members, evidence = _house_rule_crowd(condemned=0, size=6)
    intel = [Evidence("DG-601", "intel", m, 0.9, "peer indicator") for m in members[:3]]
    _, (cluster,) = score_all(members, [*evidence, *intel], [crowd], DEFAULTS)
    assert cluster.verdict != "distillation"


def test_the_quorum_is_validated() -> None:
    with pytest.raises(ValueError, match="crowd_quorum_share"):
        ScoringConfig(crowd_quorum_share=0.0)
    with pytest.raises(ValueError, match="crowd_quorum_min"):
        ScoringConfig(crowd_quorum_min=1)


def test_capability_tags_describe_and_are_no_kind_of_evidence_for_review() -> None:
    """A labelling firm's account: 85% of its prompts ask for rubric grades (DG-205), and
    its capability tags (DG-301) read the same grading.  The tags add to its score but are
    no second kind of evidence, so it stays benign; its parameters (DG-203) would be one."""
    grades = Evidence("DG-205", "prompt", "a", 0.91, "85% ask for a grade")
    tags = Evidence("DG-301", "semantic", "a", 0.105, "grading 83%")
    (labelling,), _ = score_all(["a"], [grades, tags], [], DEFAULTS, {"a": 480})
    assert labelling.verdict == "benign"
    counted = replace(DEFAULTS, descriptive_detectors=())
    (as_before,), _ = score_all(["a"], [grades, tags], [], counted, {"a": 480})
    assert as_before.verdict == "review" and as_before.score == labelling.score
    budget = Evidence("DG-203", "behaviour", "a", 0.3, "largest budget")
    (second_kind,), _ = score_all(["a"], [grades, tags, budget], [], DEFAULTS, {"a": 480})
    assert second_kind.verdict == "review"
    with pytest.raises(ValueError, match="descriptive_detectors"):
        ScoringConfig(descriptive_detectors="DG-301")  # type: ignore[arg-type]


def test_explained_evidence_adds_to_the_score_but_opens_no_family() -> None:
    """A tutoring product on a reasoning budget: its parameters (DG-203) and the 40% of its
    prompt evidence its own "explain every step" instruction leaves (DG-205, 60% explained).
    Even at a lower threshold it is not condemned, alone or as a company's accounts tied by
    one label; the same prompt evidence unexplained, beside the same parameters, is two
    families."""
    low = replace(DEFAULTS, distillation_threshold=0.5)
    members = ["a", "b", "c"]

    def tutoring(explained: float) -> list[Evidence]:
        return [
            item
            for m in members
            for item in (
                Evidence("DG-203", "behaviour", m, 0.85, "largest budget"),
                Evidence(
                    "DG-205", "prompt", m, 0.4, "asks for steps", details={EXPLAINED: explained}
                ),
            )
        ]

    accounts, _ = score_all(members, tutoring(0.6), [], low)
    assert all(a.verdict != "distillation" for a in accounts)
    assert all(a.score >= low.distillation_threshold for a in accounts)  # the score stays
    label = Evidence("DG-403", "template", "C-1", 0.6, "one label", "cluster")
    crowd = ClusterInput("C-1", members, {"exchanges": 1}, content_only=True)
    accounts, (cluster,) = score_all(members, [label, *tutoring(0.6)], [crowd], low)
    assert cluster.verdict != "distillation"
    assert all(a.verdict != "distillation" for a in accounts)
    accounts, _ = score_all(members, tutoring(0.0), [], low)
    assert all(a.verdict == "distillation" for a in accounts)


def test_a_cluster_without_harvest_evidence_corroborates_no_members_case() -> None:
    """Tutoring companies tied by one stock instruction sentence and one cloud network: the
    group is under review on its ties, and each account's reasoning budget (DG-203) opens a
    case of its own.  Without harvest evidence of the group's own, the ties are no second
    kind of evidence; with its pooled prompts asking for harvestable outputs, they are."""
    members = ["a", "b", "c"]
    ties = [
        Evidence("DG-401", "coordination", "C-1", 0.3, "one sentence, one network", "cluster"),
        Evidence("DG-403", "template", "C-1", 0.2, "one wrapper", "cluster"),
    ]
    budget = [Evidence("DG-203", "behaviour", m, 0.85, "largest budget") for m in members]
    cluster = ClusterInput("C-1", members, {"exchanges": 1})
    accounts, (group,) = score_all(members, [*ties, *budget], [cluster], DEFAULTS)
    assert group.verdict == "review"
    assert all(a.verdict == "benign" for a in accounts)
    asks = Evidence("DG-205", "template", "C-1", 0.3, "pooled prompts ask", "cluster")
    accounts, _ = score_all(members, [*ties, asks, *budget], [cluster], DEFAULTS)
    assert all(a.verdict != "benign" for a in accounts)
