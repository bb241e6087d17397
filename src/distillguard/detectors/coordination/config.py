"""Settings of the coordination stage, with the defaults it was tuned on.

Every threshold lives here, read once from the scan configuration (``DG-401`` settings),
so detectors never read globals and a results file can record what produced it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

WEBMAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "163.com",
        "126.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "yandex.ru",
        "mail.ru",
        "naver.com",
    }
)
"""Mass-market mailbox providers: sharing one says nothing about a relation."""


@dataclass(frozen=True)
class CoordinationConfig:
    """Knobs of graph building, clustering and scoring (see each field)."""

    max_group: int = 1000
    """Values shared by more accounts than this are ignored entirely (a residential proxy
    pool, a NAT of thousands, the default SDK): they cannot tell campaigns apart."""
    pair_cap: int = 60
    """Groups up to this size expand to all pairs; larger ones (up to ``max_group``) to a
    ring of ``ring_degree`` neighbours in hash order, which keeps them connected in
    O(n * degree) edges instead of O(n^2)."""
    ring_degree: int = 6
    complete_large_groups: bool = False
    """Give every proposed pair the weight of values it shares in groups above
    ``pair_cap`` too, so ties through two large groups add up (edges.py,
    :func:`~distillguard.detectors.coordination.edges.complete_large_groups`).  Off by
    default: on the 16M-exchange benchmark store it made the graph 22–28 s slower (123 s →
    145–151 s, 31% more edges), and recall moved only in one development world of 200,000
    exchanges (77.9% → 87.7%); on fresh seeds at that size it changed nothing or cost one
    account (docs/benchmarks.md, seventeenth round)."""
    min_share: float = 0.10
    """A per-request value (client subnet, wrapper, template) counts for an account only
    when at least this share of its exchanges use it: infrastructure it lives on, not a
    proxy address it passed through once."""
    min_count: int = 2
    template_min_count: int = 5
    """Wrappers, templates and LSH bands count only from this many uses: a person repeats an
    opening now and then; a harvesting script repeats its wrapper hundreds of times."""
    template_min_prompts: int = 3
    """...and wrappers and templates around this many different prompts of the account: one
    that only ever comes with one prompt is that prompt sent again, and a stock phrase every
    user of one tool sends ("Continue. Run the failing tests after your change.", an
    open-source coding agent's follow-up turn) is shared by the tool's users and the
    campaigns that run it alike.  (LSH bands keep counting uses alone: a band key that one
    resent prompt carries weighs 0.4 of an edge at most, under ``min_edge`` on its own.)"""
    lsh_min_share: float = 0.05
    sentence_min_share: float = 0.2
    """An instruction sentence counts for an account from this share of its requests..."""
    sentence_min_tasks: int = 3
    """...around this many different prompts (a standing rule, not one prompt resent)..."""
    sentence_min_reliance: float = 0.5
    """...and only when this share of all accounts using it rely on it so (a fleet's own
    house rule, not a stock phrase many people use now and then)."""
    min_edge: float = 0.6
    """Total pair weight needed to enter the graph: one weak view never ties two accounts."""
    bucket_seconds: int = 600
    """Activity buckets for synchrony (SynchroTrap-style), ten minutes."""
    sync_weight: float = 0.8
    sync_min_jaccard: float = 0.2
    resolution: float = 0.1
    """Leiden RBConfiguration resolution; higher splits more."""
    seed: int = 20260401
    min_size: int = 2
    webmail: frozenset[str] = WEBMAIL_DOMAINS

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> CoordinationConfig:
        """Defaults overridden by the known keys of ``settings``; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ValueError(f"DG-401: unknown settings {', '.join(unknown)}")
        values = dict(settings)
        if "webmail" in values:
            values["webmail"] = frozenset(str(d).lower() for d in values["webmail"])
        return replace(cls(), **values)
