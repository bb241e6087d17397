"""Which of a cluster's shared values may leave, and in which form.

Rules (docs/intel.md, "What is shared"):

* **k-floor**: a value is shared only when at least ``min_accounts`` of the cluster's
  accounts show it; a cluster with fewer accounts is not shared at all.
* **Specific to the campaign**: a value that ordinary (unflagged) accounts also show, more
  than ``max_outside_share`` of its users, is left out: it would make peers flag their own
  ordinary customers (a residential proxy pool, a campus network, a common phrasing).
* **Form**: payment fingerprints and e-mail domains leave only as keyed tokens, wrappers as
  keyed template fingerprints, networks as /24 (IPv4) or /48 (IPv6) ranges — never an
  individual address.  Mass webmail domains are never shared (they tie nobody).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from distillguard.detectors.coordination.config import CoordinationConfig
from distillguard.intel.fingerprint import band_tokens
from distillguard.intel.keys import SharingKey
from distillguard.intel.observe import Observations

PAYMENT = "payment_fingerprint"
EMAIL_DOMAIN = "email_domain"
NETWORK = "network"
TEMPLATE = "template"
KINDS = (PAYMENT, EMAIL_DOMAIN, NETWORK, TEMPLATE)
DEFAULT_MIN_ACCOUNTS = 5
DEFAULT_MAX_OUTSIDE_SHARE = 0.33
"""A value leaves only when at least two thirds of the accounts that show it are flagged: a
stricter rule kept out the wrapper of a campaign whose own members the scan had partly
missed (24% of its users unflagged, all of them campaign members, in the hydra-proxy run of
docs/benchmarks.md), while a phrasing that ordinary customers share has far more of them."""


@dataclass(frozen=True)
class SharingRules:
    """The k-floor and the specificity rule (see module docstring)."""

    min_accounts: int = DEFAULT_MIN_ACCOUNTS
    max_outside_share: float = DEFAULT_MAX_OUTSIDE_SHARE

    def __post_init__(self) -> None:
        if self.min_accounts < 2:
            raise ValueError("min_accounts (the k-floor) must be at least 2")
        if not 0.0 <= self.max_outside_share < 1.0:
            raise ValueError("max_outside_share must be in [0, 1)")


@dataclass(frozen=True)
class SharedValue:
    """One value cleared for sharing: its kind, its shareable form and how often seen."""

    kind: str
    tokens: tuple[str, ...]
    """Keyed tokens (payment, e-mail domain, template bands) or one CIDR range (network)."""
    accounts: int
    """Cluster accounts that show it (at least the k-floor)."""
    exchanges: int
    """Requests of those accounts that carry it (0 where it is not per request)."""


def _users(
    accounts: Iterable[str], values_of: Callable[[str], Iterable[object]]
) -> Counter[object]:
    counts: Counter[object] = Counter()
    for account in accounts:
        counts.update(set(values_of(account)))
    return counts


ValuesOf = Callable[[str], list[object]]


def views(obs: Observations) -> list[tuple[str, ValuesOf]]:
    """Per kind: the values an account shows (characteristic ones only)."""

    def single(mapping: dict[str, str]) -> ValuesOf:
        return lambda a: [mapping[a]] if a in mapping else []

    def networks(a: str) -> list[object]:
        found: list[object] = list(obs.characteristic_networks(a))
        if a in obs.signup_network and obs.signup_network[a] not in found:
            found.append(obs.signup_network[a])
        return found

    def wrappers(a: str) -> list[object]:
        return [w for w in obs.characteristic_wrappers(a) if w in obs.wrapper_bands]

    return [
        (PAYMENT, single(obs.payment)),
        (EMAIL_DOMAIN, single(obs.email_domain)),
        (NETWORK, networks),
        (TEMPLATE, wrappers),
    ]


@dataclass(frozen=True)
class Population:
    """Our store seen once: its views and how many ordinary accounts show each value."""

    obs: Observations
    flagged: frozenset[str]
    views: list[tuple[str, ValuesOf]]
    ordinary_users: dict[str, Counter[object]]

    @classmethod
    def of(cls, obs: Observations, flagged: set[str]) -> Population:
        """Count, per kind and value, the unflagged accounts that show it."""
        kinds = views(obs)
        ordinary = [a for a in obs.exchanges if a not in flagged]
        return cls(obs, frozenset(flagged), kinds, {k: _users(ordinary, f) for k, f in kinds})


def shared_values(
    members: list[str], population: Population, key: SharingKey, rules: SharingRules
) -> list[SharedValue]:
    """The values of one cluster that pass the k-floor and the specificity rule."""
    if len(members) < rules.min_accounts:
        return []
    webmail = CoordinationConfig().webmail
    obs = population.obs
    out: list[SharedValue] = []
    for kind, values_of in population.views:
        inside = _users(members, values_of)
        candidates = {v: n for v, n in inside.items() if n >= rules.min_accounts}
        if kind == EMAIL_DOMAIN:
            candidates = {v: n for v, n in candidates.items() if str(v) not in webmail}
        outside = population.ordinary_users[kind]
        for value, n in sorted(candidates.items(), key=lambda item: (-item[1], str(item[0]))):
            if outside[value] > rules.max_outside_share * (n + outside[value]):
                continue
            out.append(
                SharedValue(
                    kind, _shareable(kind, value, obs, key), n, _requests(kind, value, members, obs)
                )
            )
    return out


def _shareable(kind: str, value: object, obs: Observations, key: SharingKey) -> tuple[str, ...]:
    if kind == NETWORK:
        return (str(value),)
    if kind == TEMPLATE:
        assert isinstance(value, int)
        return band_tokens(key, obs.wrapper_bands[value])
    return (key.token(kind, str(value)),)


def _requests(kind: str, value: object, members: list[str], obs: Observations) -> int:
    if kind == NETWORK:
        return sum(obs.network_uses.get(a, {}).get(str(value), 0) for a in members)
    if kind == TEMPLATE:
        assert isinstance(value, int)
        return sum(obs.wrapper_uses.get(a, {}).get(value, 0) for a in members)
    return 0
