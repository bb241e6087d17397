"""Cluster evidence that is one observation counts once: ties by content alone are template
evidence, and a sign-up "burst" of a handful of strangers is judged beyond chance."""

from __future__ import annotations

from distillguard.detectors.coordination.profile import ClusterProfile, ViewTie
from distillguard.detectors.coordination.scoring import (
    hydra,
    signup_burst,
    tied_by_content_only,
)


def _profile(ties: list[ViewTie], members: int = 6, **fields: object) -> ClusterProfile:
    profile = ClusterProfile(
        cluster_id="C-1",
        members=[f"a{i}" for i in range(members)],
        ties=ties,
        identities=members,
        diversity=1.0 - 1.0 / members,
    )
    for name, value in fields.items():
        setattr(profile, name, value)
    return profile


PHRASE = ViewTie("instruction_sentence", 1.0, [("77", 6, 1.0)], exclusive=1.0)
WRAPPER = ViewTie("wrapper", 1.0, [("17", 6, 1.0)], exclusive=1.0)
CARD = ViewTie("payment_fingerprint", 1.0, [("pm_1", 6, 1.0)])


def test_strangers_tied_by_what_they_send_are_template_evidence() -> None:
    """The tie and the shared phrase are one observation, so not two families."""
    content = _profile([PHRASE, WRAPPER])
    assert tied_by_content_only(content)
    assert hydra(content).family == "template"


def test_shared_machinery_keeps_the_tie_coordination_evidence() -> None:
    machinery = _profile([PHRASE, CARD], cross_identity={"payment_fingerprint:pm_1": 6})
    assert not tied_by_content_only(machinery)
    assert hydra(machinery).family == "coordination"


def test_a_weak_side_tie_does_not_count_but_a_strong_one_does() -> None:
    side = ViewTie("signup_subnet", 0.3, [("10.0.0.0/24", 2, 0.5)])
    assert tied_by_content_only(_profile([PHRASE, side]))
    strong = ViewTie("email_domain", 0.9, [("example.org", 5, 1.0)])
    assert not tied_by_content_only(_profile([PHRASE, strong]))


def test_a_company_s_own_machinery_does_not_tie_it_to_strangers() -> None:
    """Two accounts of one company share its card; a third company's account shares only
    their question label.  What ties the two identities is the text alone."""
    card = ViewTie("payment_fingerprint", 0.67, [("pm_1", 2, 1.0)])
    label = ViewTie("wrapper", 1.0, [("17", 3, 1.0)], exclusive=1.0)
    own = _profile([label, card], members=3, identities=2)
    own.cross_identity = {"payment_fingerprint:pm_1": 1}
    assert tied_by_content_only(own)
    shared = _profile([label, card], members=3, identities=2)
    shared.cross_identity = {"payment_fingerprint:pm_1": 2}
    assert not tied_by_content_only(shared)


def test_one_member_alone_in_a_day_is_no_burst() -> None:
    """Three strangers created months apart: the largest 24-hour share is 1/3 by itself."""
    apart = _profile([PHRASE], members=3, burst=1 / 3, created_span_days=240.0)
    found = signup_burst(apart)
    assert found is not None and found.strength == 0.0


def test_strangers_all_created_within_a_week_are_a_batch() -> None:
    week = _profile([PHRASE], members=5, burst=0.4, created_span_days=6.0)
    month = _profile([PHRASE], members=5, burst=0.4, created_span_days=45.0)
    in_week, in_month = signup_burst(week), signup_burst(month)
    assert in_week is not None and in_month is not None
    assert in_week.strength > 0.5 > in_month.strength
    assert in_month.strength == round((0.4 * 5 - 1) / 4 * (0.15 + 0.85 * 0.8), 4)
