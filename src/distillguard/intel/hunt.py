"""Retro-hunt: which of our accounts show what a peer's campaign showed.

Each peer indicator is compared with our own facts in the form it was shared in: our
payment fingerprints and e-mail domains are keyed with the community key and compared as
tokens; our accounts' characteristic networks are tested for membership in the peer's
ranges; our repeated wrappers are fingerprinted and compared band by band (at least
``min_bands`` of 16 must agree).

How strongly a match points at distillation (the evidence strength, before the ``intel``
family weight of scoring).  Every match starts at :data:`MIN_STRENGTH`, high enough that
one match alone earns a ``review`` (a person looks), never more:

===================  ===========================================================
payment instrument   0.95 — a card the peer saw in k or more of its campaign's accounts
template             0.75–0.95 — by the share of the account's requests in that template
network range        0.75–0.85 — by the share of its requests from the range (0.75 for a
                     sign-up from it alone)
e-mail domain        0.75 — a throwaway domain the campaign signed up with
===================  ===========================================================

Matches of one account are combined by noisy-or and capped at :data:`MAX_STRENGTH`: peer
intelligence alone earns a ``review`` (one evidence family), and together with any evidence
of our own (a second family) can reach ``distillation`` — see docs/intel.md, "Scoring".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from distillguard.detectors.base import Evidence
from distillguard.intel.fingerprint import band_tokens
from distillguard.intel.keys import SharingKey
from distillguard.intel.observe import Observations, parse_network
from distillguard.intel.peers import TOKEN, PeerIndicator
from distillguard.intel.selection import EMAIL_DOMAIN, NETWORK, PAYMENT, TEMPLATE

DETECTOR_ID = "DG-601"
FAMILY = "intel"
MAX_STRENGTH = 0.95
MIN_STRENGTH = 0.75
"""Strength of the weakest match: alone it scores about 0.55 (``review``), see docs/intel.md."""
MIN_TEMPLATE_SHARE = 0.1
MIN_NETWORK_SHARE = 0.2
MIN_REQUESTS = 3


@dataclass(frozen=True)
class Hit:
    """One indicator matched by one account."""

    indicator: PeerIndicator
    strength: float
    what: str
    """Plain words: what matched and how much of the account's traffic."""


@dataclass
class AccountMatch:
    """Every indicator one account matched."""

    account_id: str
    hits: list[Hit] = field(default_factory=list)

    @property
    def strength(self) -> float:
        """Noisy-or of the hits, capped at MAX_STRENGTH."""
        remaining = 1.0
        for hit in self.hits:
            remaining *= 1.0 - hit.strength
        return min(MAX_STRENGTH, 1.0 - remaining)

    def summary(self) -> str:
        """Plain words for the evidence: the strongest hits, their producer and campaign."""
        ordered = sorted(self.hits, key=lambda h: -h.strength)
        producers = sorted({h.indicator.producer for h in ordered})
        campaigns = sorted({c for h in ordered for c in h.indicator.campaigns})
        parts = "; ".join(h.what for h in ordered[:3])
        more = f" (+{len(ordered) - 3} more)" if len(ordered) > 3 else ""
        campaign = f" ({', '.join(campaigns[:2])})" if campaigns else ""
        return (
            f"matches {len(ordered)} indicator(s) shared by {', '.join(producers)}{campaign}: "
            f"{parts}{more}"
        )


HitFn = Callable[[str, PeerIndicator, float, str], None]


def _share(part: int, total: int) -> str:
    return f"{part / total:.0%} of {total:,} requests" if total else "no requests"


def needs_templates(indicators: list[PeerIndicator]) -> bool:
    """Whether any indicator is a template fingerprint (only then are wrappers fingerprinted)."""
    return any(i.kind == TEMPLATE for i in indicators)


def hunt(indicators: list[PeerIndicator], obs: Observations, key: SharingKey) -> list[AccountMatch]:
    """Every account of ours that matches at least one peer indicator, by account id."""
    matches: dict[str, AccountMatch] = {}

    def hit(account: str, indicator: PeerIndicator, strength: float, what: str) -> None:
        matches.setdefault(account, AccountMatch(account)).hits.append(
            Hit(indicator, round(strength, 6), what)
        )

    by_token: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for account, value in obs.payment.items():
        by_token[key.token(PAYMENT, value)].append((account, PAYMENT))
    for account, value in obs.email_domain.items():
        by_token[key.token(EMAIL_DOMAIN, value)].append((account, EMAIL_DOMAIN))
    for indicator in indicators:
        if indicator.kind not in (PAYMENT, EMAIL_DOMAIN, TOKEN):
            continue
        for token in indicator.tokens:
            for account, kind in by_token.get(token, []):
                if indicator.kind not in (TOKEN, kind):
                    continue
                strength = MAX_STRENGTH if kind == PAYMENT else MIN_STRENGTH
                label = "payment instrument" if kind == PAYMENT else "sign-up e-mail domain"
                hit(account, indicator, strength, f"{label} (peer saw it in {indicator.accounts})")

    network_indicators = [i for i in indicators if i.kind == NETWORK]
    if network_indicators:
        _hunt_networks(network_indicators, obs, hit)
    template_indicators = [i for i in indicators if i.kind == TEMPLATE]
    if template_indicators:
        _hunt_templates(template_indicators, obs, key, hit)
    return [matches[a] for a in sorted(matches)]


def _hunt_networks(indicators: list[PeerIndicator], obs: Observations, hit: HitFn) -> None:
    prefixes = {p for uses in obs.network_uses.values() for p in uses} | set(
        obs.signup_network.values()
    )
    inside_of: dict[str, set[str]] = defaultdict(set)
    """Our prefix -> ids of the peer indicators whose ranges contain it."""
    for prefix in prefixes:
        net = parse_network(prefix)
        if net is None:
            continue
        for indicator in indicators:
            if any(
                net.version == peer.version and net.subnet_of(peer)  # type: ignore[arg-type]
                for peer in indicator.networks
            ):
                inside_of[prefix].add(indicator.indicator_id)
    if not inside_of:
        return
    for indicator in indicators:
        ident = indicator.indicator_id
        for account in sorted(set(obs.network_uses) | set(obs.signup_network)):
            uses = obs.network_uses.get(account, {})
            total = obs.exchanges.get(account, 0)
            inside = sum(n for prefix, n in uses.items() if ident in inside_of.get(prefix, ()))
            share = inside / total if total else 0.0
            if inside >= MIN_REQUESTS and share >= MIN_NETWORK_SHARE:
                hit(
                    account,
                    indicator,
                    MIN_STRENGTH + 0.1 * min(1.0, share),
                    f"requests from a shared network range ({_share(inside, total)})",
                )
            elif ident in inside_of.get(obs.signup_network.get(account, ""), ()):
                hit(account, indicator, MIN_STRENGTH, "signed up from a shared network range")


def _hunt_templates(
    indicators: list[PeerIndicator], obs: Observations, key: SharingKey, hit: HitFn
) -> None:
    tokens = {w: set(band_tokens(key, bands)) for w, bands in obs.wrapper_bands.items()}
    for indicator in indicators:
        theirs = set(indicator.tokens)
        matching = {w for w, ours in tokens.items() if len(ours & theirs) >= indicator.min_bands}
        if not matching:
            continue
        for account, uses in obs.wrapper_uses.items():
            inside = sum(n for w, n in uses.items() if w in matching)
            total = obs.exchanges.get(account, 0)
            share = inside / total if total else 0.0
            if inside >= MIN_REQUESTS and share >= MIN_TEMPLATE_SHARE:
                hit(
                    account,
                    indicator,
                    MIN_STRENGTH + 0.2 * min(1.0, share / 0.5),
                    f"prompt template fingerprint on {_share(inside, total)}",
                )


def evidence(matches: list[AccountMatch]) -> list[Evidence]:
    """DG-601 evidence, one item per matched account."""
    return [
        Evidence(
            detector=DETECTOR_ID,
            family=FAMILY,
            subject=m.account_id,
            strength=round(m.strength, 6),
            summary=m.summary(),
            details={
                "indicators": sorted({h.indicator.indicator_id for h in m.hits}),
                "producers": sorted({h.indicator.producer for h in m.hits}),
            },
        )
        for m in matches
    ]
