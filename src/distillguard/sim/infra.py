"""Network and client surroundings of simulated accounts: addresses, agents, e-mail, places.

Address blocks imitate the shape of real allocations (residential ISPs per country, cloud
and hosting ranges, campus networks, corporate NATs) without claiming to be any real
operator's.  What matters for detection is structure: who shares a /24, who rotates through
a residential proxy pool that ordinary customers also use, who sits behind one NAT.
"""

from __future__ import annotations

import numpy as np

from distillguard.sim.fastrandom import FastRandom

# Countries with their UTC offset (hours) and a few residential /16 prefixes (first two octets).
COUNTRIES: dict[str, tuple[float, tuple[tuple[int, int], ...]]] = {
    "US": (-6.0, ((73, 15), (24, 30), (98, 207), (71, 190), (108, 28), (174, 60))),
    "CA": (-5.0, ((99, 230), (142, 114), (174, 88))),
    "BR": (-3.0, ((177, 33), (187, 45), (189, 100))),
    "GB": (0.0, ((86, 140), (81, 98), (92, 40))),
    "DE": (1.0, ((84, 150), (91, 64), (93, 220))),
    "FR": (1.0, ((90, 12), (92, 154), (78, 120))),
    "IN": (5.5, ((49, 36), (106, 200), (117, 96))),
    "CN": (8.0, ((113, 87), (117, 136), (223, 104), (36, 110))),
    "SG": (8.0, ((116, 86), (118, 189))),
    "JP": (9.0, ((126, 20), (153, 156), (219, 110))),
    "KR": (9.0, ((211, 36), (121, 130))),
    "RU": (3.0, ((95, 24), (178, 66), (188, 162))),
    "AU": (10.0, ((101, 160), (120, 150))),
}
COUNTRY_CODES = tuple(COUNTRIES)
CASUAL_COUNTRY_WEIGHTS = np.array([30, 4, 5, 7, 6, 4, 12, 8, 2, 5, 3, 4, 3], dtype=float)

# Cloud and hosting ranges (first two octets): enterprises run there, and so do datacenter proxies.
CLOUD_PREFIXES = ((3, 90), (52, 14), (54, 210), (34, 120), (35, 230), (20, 84), (40, 112))
HOSTING_PREFIXES = (
    (65, 108),
    (95, 216),
    (51, 75),
    (167, 99),
    (159, 89),
    (45, 76),
    (149, 28),
    (185, 220),
    (194, 87),
    (103, 152),
)

USER_AGENTS = (
    "OpenAI/Python 1.54.4",
    "OpenAI/Python 1.99.9",
    "OpenAI/Python 2.3.0",
    "AsyncOpenAI/Python 1.109.1",
    "Anthropic/Python 0.69.0",
    "Anthropic/Python 0.72.1",
    "OpenAI/JS 4.104.0",
    "OpenAI/JS 5.23.1",
    "python-requests/2.32.5",
    "python-httpx/0.28.1",
    "curl/8.14.1",
    "Go-http-client/2.0",
    "okhttp/4.12.0",
    "litellm/1.77.3",
    "axios/1.12.2",
)
CODING_AGENT_AGENTS = (
    "Cline/3.34.0",
    "aider/0.86.1",
    "opencode/0.15.8",
    "continue/1.2.3",
    "OpenAI/Python 2.3.0",
    "Anthropic/Python 0.72.1",
)
WEBMAIL = (
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "hotmail.com",
    "icloud.com",
    "proton.me",
    "qq.com",
    "163.com",
    "gmx.de",
    "yandex.ru",
    "naver.com",
)
WORDS = (
    "bright",
    "lane",
    "north",
    "stone",
    "river",
    "pixel",
    "cloud",
    "forge",
    "harbor",
    "maple",
    "orbit",
    "quartz",
    "summit",
    "vector",
    "willow",
    "atlas",
    "cedar",
    "delta",
    "ember",
    "fable",
)
TLDS = ("com", "io", "ai", "co", "net", "dev", "tech")


def ip_from_prefix(prefix: tuple[int, int], third: np.ndarray, fourth: np.ndarray) -> list[str]:
    """Dotted quads inside a /16 for arrays of third and fourth octets."""
    head = f"{prefix[0]}.{prefix[1]}."
    return [f"{head}{c}.{d}" for c, d in zip(third.tolist(), fourth.tolist(), strict=True)]


def random_ipv4_in(prefixes: tuple[tuple[int, int], ...], rng: FastRandom, size: int) -> list[str]:
    """``size`` addresses spread over the given /16 prefixes."""
    which = rng.integers(len(prefixes), size=size)
    third = rng.integers(0, 256, size=size)
    fourth = rng.integers(1, 255, size=size)
    return [
        f"{prefixes[w][0]}.{prefixes[w][1]}.{c}.{d}"
        for w, c, d in zip(which.tolist(), third.tolist(), fourth.tolist(), strict=True)
    ]


def residential_ip(country: str, rng: FastRandom) -> str:
    """One home address in the country's residential ranges (sometimes IPv6)."""
    if rng.random() < 0.12:
        groups = ":".join(f"{rng.getrandbits(16):x}" for _ in range(4))
        return f"2a02:{groups}::{rng.getrandbits(16):x}"
    return random_ipv4_in(COUNTRIES[country][1], rng, 1)[0]


def all_residential_prefixes() -> tuple[tuple[int, int], ...]:
    """Every residential /16 of every country: the address space a residential proxy rents."""
    return tuple(p for _, prefixes in COUNTRIES.values() for p in prefixes)


def subnet_pool(
    prefixes: tuple[tuple[int, int], ...], rng: FastRandom, count: int
) -> list[tuple[int, int, int]]:
    """``count`` distinct /24 subnets drawn from the given /16 prefixes."""
    seen: set[tuple[int, int, int]] = set()
    while len(seen) < count:
        a, b = prefixes[int(rng.integers(len(prefixes)))]
        seen.add((a, b, int(rng.integers(0, 256))))
    return sorted(seen)


def company_domain(rng: FastRandom) -> str:
    """A plausible company domain such as ``northforge.io``."""
    first, second = rng.choice(len(WORDS), size=2, replace=False).tolist()
    return f"{WORDS[first]}{WORDS[second]}.{TLDS[int(rng.integers(len(TLDS)))]}"


def throwaway_domain(rng: FastRandom) -> str:
    """A freshly registered, meaningless domain of the kind bulk sign-ups use."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    name = "".join(letters[i] for i in rng.integers(0, 26, size=int(rng.integers(6, 10))))
    return f"{name}.{('xyz', 'top', 'site', 'online', 'shop')[int(rng.integers(5))]}"
