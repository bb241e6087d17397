"""Cluster-level evidence: how a cluster is tied, and how much of that points at harvesting.

Related accounts are common and innocent: a company's team behind one NAT and one card, a
class signing up together on a campus network.  So the words always say *how* a cluster is
tied, but strength comes mostly from what separates a hydra from a team: ties that cross
*different* declared identities (organisations, e-mail domains), one wrapper across
accounts, activity in lockstep, and sign-ups in a burst under unrelated identities.  A
declared organisation that its accounts share but nothing else an organisation shares
(each pays with its own card, none signs up from a company domain) is shared
infrastructure across identities too: programme access claimed by unrelated accounts.
"""

from __future__ import annotations

from distillguard.detectors.base import ATLAS, DetectorInfo, Evidence
from distillguard.detectors.coordination.profile import INFRA_VIEWS, ClusterProfile, ViewTie

VERSION = "1.6"
_ACCOUNTS = (ATLAS["establish_accounts"],)
_PROXIES = (ATLAS["establish_accounts"], ATLAS["ai_service_proxies"])

HYDRA = DetectorInfo(
    "DG-401",
    VERSION,
    "hydra-cluster",
    "Accounts tied together by rare shared infrastructure, clients or prompts",
    "coordination",
    _ACCOUNTS,
)
SHARED_INFRA = DetectorInfo(
    "DG-402",
    VERSION,
    "cross-identity-infrastructure",
    "Payment instruments and networks shared across unrelated declared identities",
    "infrastructure",
    _PROXIES,
)
SHARED_WRAPPER = DetectorInfo(
    "DG-403",
    VERSION,
    "cluster-wrapper",
    "One prompt wrapper carrying most of a cluster's traffic across its accounts",
    "template",
    (ATLAS["extract_model"],),
)
LOCKSTEP = DetectorInfo(
    "DG-404",
    VERSION,
    "lockstep-activity",
    "Cluster members active in the same 10-minute windows far more than chance",
    "coordination",
    _ACCOUNTS,
)
SIGNUP_BURST = DetectorInfo(
    "DG-405",
    VERSION,
    "signup-burst",
    "Cluster members created within a day, or all within a week, under unrelated identities",
    "coordination",
    _ACCOUNTS,
)
INFOS = (HYDRA, SHARED_INFRA, SHARED_WRAPPER, LOCKSTEP, SIGNUP_BURST)

_LABELS = {
    "payment_fingerprint": "payment fingerprint",
    "signup_ip": "sign-up address",
    "signup_subnet": "sign-up network",
    "client_subnet": "request network",
    "email_domain": "e-mail domain",
    "organization_id": "organisation",
    "client_fingerprint": "client build and parameters",
    "wrapper": "prompt wrapper",
    "template": "prompt template",
    "lsh_band": "near-duplicate prompts",
    "instruction_sentence": "standing instruction sentence",
}


_INFRA_CREDIBILITY = {
    "payment_fingerprint": 1.0,
    "signup_ip": 0.8,
    "client_subnet": 0.6,
    "signup_subnet": 0.4,
    "organization_id": 0.8,
}


def _clip(x: float) -> float:
    return min(1.0, max(0.0, x))


def _pct(x: float) -> str:
    return f"{round(100 * x)}%"


def _evidence(
    info: DetectorInfo,
    p: ClusterProfile,
    strength: float,
    summary: str,
    family: str | None = None,
    **details: object,
) -> Evidence:
    return Evidence(
        detector=info.id,
        family=family or info.family,
        subject=p.cluster_id,
        strength=round(_clip(strength), 4),
        summary=summary,
        subject_kind="cluster",
        details=dict(details),
    )


CONTENT_ONLY_FACTOR = 0.35
"""Weight kept when nothing but prompt content ties a cluster: unrelated developers and
benchmark teams reuse public templates and harnesses; a campaign also shares machinery
(cards, networks, sign-up addresses)."""


WIDE_SPREAD_IDENTITIES = 6
"""A template shared by this many different declared identities is a fleet, not a habit..."""
FLEET_WRAPPER_SHARE = 0.4
"""...when it also carries this share of their traffic: people share common phrasings
("what is this?", "explain step by step") in a small part of what they ask."""

_VIEW_KIND = {
    "wrapper": "content",
    "template": "content",
    "lsh_band": "content",
    "instruction_sentence": "content",
    "signup_ip": "signup",
    "signup_subnet": "signup",
}


FLEET_COVERAGE = 0.6
FLEET_EXCLUSIVE = 0.8
OWN_CONTENT_IDENTITIES = 3
"""...or when one piece of content is the cluster's own: most members rely on it, almost no
one outside the cluster uses it (a phrasing people share is used far beyond any one group)
and it ties at least this many unrelated identities.  Fewer than WIDE_SPREAD_IDENTITIES is
enough here, because the content is exclusive: a small paraphrasing fleet keeps one house
rule that nobody else writes.  Such ties only make a group related; scoring still needs
evidence that it harvests before it condemns anyone (``scoring.harvest_detectors``)."""


def _own_content(p: ClusterProfile) -> bool:
    return p.identities >= OWN_CONTENT_IDENTITIES and any(
        _VIEW_KIND.get(t.view) == "content"
        and t.coverage >= FLEET_COVERAGE
        and t.exclusive >= FLEET_EXCLUSIVE
        and t.top[0][1] >= OWN_CONTENT_IDENTITIES
        for t in p.ties
    )


def content_only_discount(p: ClusterProfile) -> float:
    """1.0 when infrastructure is shared across declared identities, or when the content ties
    many unrelated identities (one template spread over many unrelated accounts); else
    CONTENT_ONLY_FACTOR."""
    infra = _shares_infrastructure(p)
    fleet = (
        p.identities >= WIDE_SPREAD_IDENTITIES and p.wrapper_share >= FLEET_WRAPPER_SHARE
    ) or _own_content(p)
    return 1.0 if infra or fleet else CONTENT_ONLY_FACTOR


SENT_TIES = frozenset(v for v, kind in _VIEW_KIND.items() if kind == "content") | {
    "client_fingerprint"
}
"""Views that say only what accounts send and with which client: shared by strangers who
use the same tool, harness or stock phrase."""


def _shares_infrastructure(p: ClusterProfile) -> bool:
    """Whether some infrastructure (card, address, network, organisation) is shared across
    the cluster's declared identities, not only within one of them."""
    return any(t.view in INFRA_VIEWS and _infra_strength(p, t) >= 0.1 for t in p.ties)


def tied_by_content_only(p: ClusterProfile) -> bool:
    """Whether nothing but what its members send ties a cluster: every strong tie (half
    of the members or more) is a content or client view, and no infrastructure is shared
    across identities.

    For such a cluster the tie, the shared wrapper or house rule, and the harvest signals
    of its pooled prompts are one observation: strangers who type the same stock phrase
    ("explain your reasoning step by step, please.") are tied by it, share it as a wrapper
    and ask for reasoning through it.  Their evidence is therefore one family (template),
    and a second, independent one (behaviour, meaning, infrastructure, sign-ups, timing)
    must come from elsewhere before anyone is condemned.

    A strong tie through machinery one identity keeps to itself (a company's own card,
    office address or domain, shared by its two accounts) does not tie *strangers*: two
    tutoring companies whose products label each question "Student question:" are tied to
    each other by that text alone, however firmly each company's accounts are tied among
    themselves.
    """
    strong = [t for t in p.ties if t.coverage >= 0.5 and not _within_one_identity(p, t)]
    return (
        not _shares_infrastructure(p) and bool(strong) and all(t.view in SENT_TIES for t in strong)
    )


def _within_one_identity(p: ClusterProfile, tie: ViewTie) -> bool:
    """Whether the tie's main shared value is used by one declared identity only (counted
    for the views of ``profile.IDENTITY_VIEWS``; other ties are never confined)."""
    crossing = p.cross_identity.get(f"{tie.view}:{tie.top[0][0]}")
    return crossing is not None and crossing <= 1


def fleet_spread(p: ClusterProfile) -> float:
    """How far a cluster is split into separate identities: ``(identities - 1) / (members -
    1)``, 1 when every account is its own identity (a hydra's throwaway accounts), near 0
    for a few organisations with many accounts each (labelling firms sharing a public
    rubric).  Fleet-level judgments of pooled content scale by it: unlike ``diversity``, it
    does not call ten firms of twelve accounts a fleet."""
    members = len(p.members)
    if members < 2:
        return 0.0
    return min(1.0, max(0.0, (p.identities - 1) / (members - 1)))


def identity_split(p: ClusterProfile) -> float:
    """The smaller of identity diversity and :func:`fleet_spread`: what DG-401, DG-403 and
    DG-502's pieces scale by (a hydra is many identities with few accounts each)."""
    return min(p.diversity, fleet_spread(p))


def _article(noun: str) -> str:
    """The noun with "a" or "an" before it ("an organisation", "a payment fingerprint")."""
    return f"{'an' if noun[:1].lower() in 'aeio' else 'a'} {noun}"


def _identity_words(p: ClusterProfile) -> str:
    if p.identities <= 1:
        return "all under one declared identity"
    return f"under {p.identities} different declared identities"


def hydra(p: ClusterProfile) -> Evidence:
    """How the cluster is tied; strong only when ties are many and cross identities."""
    n = len(p.members)
    strong = [t for t in p.ties if t.coverage >= 0.5]
    parts = [
        f"{_pct(t.coverage)} share {_article(_LABELS.get(t.view, t.view))} "
        + (f'"{t.label}"' if t.label else f"({t.top[0][0]})")
        for t in sorted(strong, key=lambda t: -t.coverage)[:4]
    ]
    ties = "; ".join(parts) if parts else "weak pairwise ties only"
    summary = f"{n} accounts tied by {len(strong)} views, {_identity_words(p)}: {ties}"
    # Views that observe the same thing (a wrapper is part of its template) count once.
    kinds = len({_VIEW_KIND.get(t.view, t.view) for t in strong})
    # A hydra is many identities with few accounts each; a few firms of many accounts that
    # share a public template are not one (fleet spread), however even their shares.
    split = identity_split(p)
    strength = 0.1 + split * (0.5 * min(1.0, kinds / 3) + 0.3 * min(1.0, n / 20))
    strength *= content_only_discount(p)
    return _evidence(
        HYDRA,
        p,
        strength,
        summary,
        "template" if tied_by_content_only(p) else None,
        size=n,
        views=[t.view for t in strong],
        identities=p.identities,
        diversity=round(p.diversity, 3),
    )


def _infra_strength(p: ClusterProfile, tie: ViewTie) -> float:
    """Cross-identity share of one shared value, times how much its view and size say."""
    value, sharers, rarity = tie.top[0]
    crossing = p.cross_identity.get(f"{tie.view}:{value}", 1)
    cross = (crossing - 1) / max(1, sharers - 1)
    # Credibility of the view (a card is an identity, a /24 may be a shared ISP block) and of
    # the group size (two accounts on one network happen; ten is an operation).
    return (
        cross
        * tie.coverage
        * (0.4 + 0.6 * rarity)
        * _INFRA_CREDIBILITY[tie.view]
        * min(1.0, sharers / 6)
    )


def shared_infrastructure(p: ClusterProfile) -> Evidence | None:
    """Shared cards and networks; strong only when they cross declared identities."""
    shared = [t for t in p.ties if t.view in INFRA_VIEWS]
    if not shared:
        return None
    scored = sorted(
        ((_infra_strength(p, t), t.view, t) for t in shared), key=lambda x: (-x[0], x[1])
    )
    strength, _, best = scored[0]
    value, sharers, rarity = best.top[0]
    crossing = p.cross_identity.get(f"{best.view}:{value}", 1)
    summary = (
        f"{sharers} of {len(p.members)} accounts share {_LABELS[best.view]} {value} "
        f"(rarity {rarity:.2f}); its users span {crossing} declared identities"
    )
    return _evidence(
        SHARED_INFRA,
        p,
        strength,
        summary,
        view=best.view,
        value=value,
        identities=crossing,
        coverage=round(best.coverage, 3),
    )


def shared_wrapper(p: ClusterProfile) -> Evidence | None:
    """One wrapper across the cluster's accounts (normal inside one company's app)."""
    if p.top_wrapper is None:
        return None
    summary = (
        f"{_pct(p.wrapper_share)} of the cluster's {p.exchanges:,} prompts use wrapper "
        f"{p.top_wrapper}, relied on by {_pct(p.wrapper_coverage)} of its accounts"
    )
    split = identity_split(p)
    strength = p.wrapper_share * p.wrapper_coverage * (0.3 + 0.7 * split)
    strength *= content_only_discount(p)
    return _evidence(
        SHARED_WRAPPER,
        p,
        strength,
        summary,
        wrapper=p.top_wrapper,
        share=round(p.wrapper_share, 3),
        coverage=round(p.wrapper_coverage, 3),
    )


def lockstep(p: ClusterProfile) -> Evidence:
    """Synchrony of activity (SynchroTrap): people keep their own hours, scripts share them."""
    summary = (
        f"linked accounts are active in the same 10-minute windows {_pct(p.synchrony)} of the "
        f"time (Jaccard); {_pct(p.synced_pairs)} of links are far above chance"
    )
    strength = _clip((p.synchrony - 0.1) / 0.5) * (0.5 + 0.5 * p.synced_pairs)
    return _evidence(
        LOCKSTEP,
        p,
        strength,
        summary,
        jaccard=round(p.synchrony, 3),
        synced_pairs=round(p.synced_pairs, 3),
    )


SPAN_FULL_DAYS = 7.0
SPAN_NONE_DAYS = 30.0
SPAN_WEIGHT = 0.8
"""All members created within a week counts nearly as much as all within a day; a month or
more, nothing (staggered sign-ups are left to the other views)."""


def signup_burst(p: ClusterProfile) -> Evidence | None:
    """Sign-ups within one day; weak for one organisation or one school enrolling together."""
    if p.created_span_days is None:
        return None
    summary = (
        f"{_pct(p.burst)} of the {len(p.members)} accounts were created within 24 hours "
        f"(all within {p.created_span_days:.1f} days), {_identity_words(p)}"
    )
    # Beyond chance: in any group one member is "created within 24 hours" of itself, so
    # the share counts the others, (k - 1) / (n - 1); three strangers are no burst.
    n = len(p.members)
    beyond = max(0.0, (p.burst * n - 1.0) / (n - 1)) if n > 1 else 0.0
    # Accounts of strangers all opened within a week of each other, when a platform's
    # customers signed up over years, are a batch too, even when spread over several days.
    span = p.created_span_days
    compact = SPAN_WEIGHT * _clip((SPAN_NONE_DAYS - span) / (SPAN_NONE_DAYS - SPAN_FULL_DAYS))
    strength = max(beyond, compact) * (0.15 + 0.85 * p.diversity) * min(1.0, n / 5)
    return _evidence(
        SIGNUP_BURST,
        p,
        strength,
        summary,
        burst=round(p.burst, 3),
        span_days=round(p.created_span_days, 2),
    )


def cluster_evidence(p: ClusterProfile) -> list[Evidence]:
    """Every piece of evidence about one cluster, strongest first."""
    found = [hydra(p), shared_infrastructure(p), shared_wrapper(p), lockstep(p), signup_burst(p)]
    return sorted((e for e in found if e is not None), key=lambda e: (-e.strength, e.detector))
