"""Trusted partners: an allow list that caps verdicts at `review`, loudly, never silently.

A provider's trust-and-safety team vets some customers whose traffic looks like harvesting
because it is, with permission: benchmark partners, labelling vendors, research programmes
the provider sponsors.  The scan configuration (``engine/config.py``) lists them::

    [[allow]]
    accounts = ["acct-123", "acct-456"]       # any of the three selectors, at least one
    organizations = ["org-benchlab"]
    email_domains = ["benchlab.example"]      # sign-up e-mail domain (accounts table)
    reason = "benchmark partner, contract BL-2026-04"   # required, shown in the results
    expires = 2027-06-30                       # optional TOML date, last day it applies

What an entry does (and why):

- **Who it matches.** An account is on the allow list when an entry that has not expired
  names its ``account_id``, an ``organization_id`` it signed up under (``accounts`` table)
  or sent requests under (``exchanges`` table), or its sign-up e-mail domain.  Account and
  organization ids match exactly; e-mail domains case-insensitively and exactly
  (``benchlab.example`` does not match ``eu.benchlab.example``: list each domain).  When
  several entries match one account, the first in the file is cited and the others named.
- **What it changes.** Only the verdict, and only downwards to `review`: the account keeps
  its score and every reason, and an allow-list reason (detector ``allow-list``) says which
  entry matched, on what, and what the verdict would have been.  A compromised partner key
  is a real attack path, so the evidence stays in front of a person instead of vanishing.
  The reason that capped a `distillation` verdict has weight -1 (it overrides the verdict,
  not the evidence; results list reasons by absolute weight, so it comes first).  An
  allow-listed account under `review` anyway gets the reason with weight 0; a benign one
  gets none.
- **Clusters.** A cluster is scored and judged as before, with its allow-listed members in
  it: one partner account in a fleet does not launder the fleet, whose other members are
  judged exactly as without the allow list.  The cluster's reasons say how many of its
  members are allow-listed (weight 0), and warn when the cluster itself is condemned.
- **Expiry.** ``expires`` is the last day an entry applies, compared with the UTC day of
  the newest exchange scanned, not with the wall clock: the same logs and configuration
  give the same results on any day (as ``engine/history.py`` keys verdicts), and a backfill
  of old logs is judged by the entries valid then.  An expired entry matches nothing, and
  the scan says so on stderr.
- **Too broad.** An entry that lists a mass-market mailbox provider (``gmail.com``, ``qq.com``
  …, the coordination stage's list) allow-lists everyone who signs up there, fleets
  included; an entry that matches more than :data:`BROAD_SHARE` of the accounts seen (and
  at least :data:`BROAD_MIN_ACCOUNTS`) is as likely a typo as a partner.  Both still apply
  (the file says what the team decided), but the scan warns on stderr with the way
  forward, and ``summary.json`` lists them under ``allow_list.broad``.
- **Records.** ``summary.json`` gets an ``allow_list`` object (only when entries are
  configured): entries, expired entries, allow-listed accounts seen, verdicts capped, and
  accounts matched per entry; the configuration (entries included) is in the hash.  The
  scan prints one line per entry on stderr.  With ``--store`` the verdict history records
  the capped verdict, what the scan reported.

The account → organization / e-mail domain mapping is read from the store in one query,
filtered on the selectors, so only matching rows leave the database.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ibis
from ibis.backends import BaseBackend

from distillguard.detectors.coordination.config import WEBMAIL_DOMAINS
from distillguard.errors import UserError
from distillguard.results.model import AccountResult, ClusterResult, Reason

REASON_DETECTOR = "allow-list"
"""The ``detector`` of the reasons the allow list adds (it is no detector: no DG- id)."""

SELECTORS = ("accounts", "organizations", "email_domains")
KEYS = (*SELECTORS, "reason", "expires")
CAPPED_WEIGHT = -1.0
"""Weight of the reason that capped a `distillation` verdict: listed first, and negative
because it works against the verdict, not with the evidence."""
MAX_NAMED = 5
BROAD_SHARE = 0.01
"""An entry matching more than this share of the accounts seen is reported as too broad."""
BROAD_MIN_ACCOUNTS = 20
"""…and at least this many accounts (a small scan's one partner is not "broad")."""
"""How many allow-listed members a cluster's reason names before it only counts them."""


@dataclass(frozen=True)
class AllowEntry:
    """One validated ``[[allow]]`` entry (``index``: its place in the file, from 0)."""

    index: int
    reason: str
    accounts: tuple[str, ...] = ()
    organizations: tuple[str, ...] = ()
    email_domains: tuple[str, ...] = ()
    """Lower-cased."""
    expires: date | None = None
    """Last day the entry applies (inclusive); ``None``: no end."""

    @property
    def name(self) -> str:
        """``allow[N]``, as errors, reasons and the summary call it."""
        return f"allow[{self.index}]"

    def expired(self, as_of: date | None) -> bool:
        """Whether the entry no longer applies to data up to ``as_of``."""
        return self.expires is not None and as_of is not None and self.expires < as_of

    def as_dict(self) -> dict[str, Any]:
        """Plain data for summary.json and the configuration hash."""
        return {
            "accounts": list(self.accounts),
            "organizations": list(self.organizations),
            "email_domains": list(self.email_domains),
            "reason": self.reason,
            "expires": self.expires.isoformat() if self.expires else None,
        }


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _strings(raw: object, where: str, field: str, example: str) -> tuple[str, ...]:
    """A selector's values: a list of non-empty strings, order kept, duplicates dropped."""
    how = f'write it as a list of strings, e.g. {field} = ["{example}"]'
    if not isinstance(raw, list):
        raise UserError(f"{where}.{field} must be a list, got {type(raw).__name__}; {how}")
    values: list[str] = []
    for position, value in enumerate(raw):
        if not isinstance(value, str) or not value.strip():
            raise UserError(
                f"{where}.{field}[{position}] must be a non-empty string, got {value!r}; {how}"
            )
        value = value.strip()
        if field == "email_domains":
            value = value.lower()
            if "@" in value or any(c.isspace() for c in value):
                raise UserError(
                    f"{where}.{field}[{position}] {value!r} is not a domain; write only the "
                    f'part after the @, e.g. {field} = ["{example}"]'
                )
        if value not in values:
            values.append(value)
    return tuple(values)


EXAMPLES = {
    "accounts": "acct-123",
    "organizations": "org-benchlab",
    "email_domains": "benchlab.example",
}


def parse_allow(raw: object, path: Path) -> tuple[AllowEntry, ...]:
    """Validate the ``allow`` part of a configuration file (``[[allow]]`` entries)."""
    if isinstance(raw, dict):
        raise UserError(
            f"{path}: write each allow-list entry as [[allow]] (double brackets: a list of "
            "entries), not [allow]"
        )
    if not isinstance(raw, list):
        raise UserError(f"{path}: allow must be a list of [[allow]] entries")
    entries: list[AllowEntry] = []
    for index, item in enumerate(raw):
        where = f"{path}: allow[{index}] (the {_ordinal(index + 1)} [[allow]] entry)"
        if not isinstance(item, dict):
            raise UserError(f"{where} must be a table; write it as [[allow]] with keys below")
        unknown = set(item) - set(KEYS)
        if unknown:
            raise UserError(f"{where} has unknown key(s) {sorted(unknown)}; allowed: {list(KEYS)}")
        where = f"{path}: allow[{index}]"
        selected = {
            field: _strings(item.get(field, []), where, field, EXAMPLES[field])
            for field in SELECTORS
        }
        if not any(selected.values()):
            raise UserError(
                f"{where} (the {_ordinal(index + 1)} [[allow]] entry) selects no account; "
                f"give at least one of {', '.join(SELECTORS)}, e.g. "
                'organizations = ["org-benchlab"]'
            )
        reason = item.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            got = "missing" if reason is None else f"got {reason!r}"
            raise UserError(
                f"{where}.reason is required and must be a non-empty string ({got}): it is "
                'shown in the results, e.g. reason = "benchmark partner, contract BL-2026-04"'
            )
        expires = item.get("expires")
        if expires is not None and (isinstance(expires, datetime) or not isinstance(expires, date)):
            raise UserError(
                f"{where}.expires must be a TOML date such as expires = 2027-06-30 (no quotes, "
                f"no time of day), got {expires!r}"
            )
        entries.append(
            AllowEntry(
                index=index,
                reason=" ".join(reason.split()),
                accounts=selected["accounts"],
                organizations=selected["organizations"],
                email_domains=selected["email_domains"],
                expires=expires,
            )
        )
    return tuple(entries)


def _store_rows(con: BaseBackend, entries: Sequence[AllowEntry]) -> list[dict[str, Any]]:
    """Accounts' organizations (sign-ups and requests) and sign-up e-mail domains that some
    entry names, in one query filtered on the selectors."""
    orgs = sorted({o for e in entries for o in e.organizations})
    domains = sorted({d for e in entries for d in e.email_domains})
    if not orgs and not domains:
        return []
    signups = con.table("accounts")
    domain = signups.email_domain.strip().lower()
    wanted = []
    if orgs:
        wanted.append(signups.organization_id.isin(orgs))
    if domains:
        wanted.append(domain.isin(domains))
    query = signups.filter(ibis.or_(*wanted)).select(
        account_id=signups.account_id,
        organization_id=signups.organization_id,
        email_domain=domain,
    )
    if orgs:
        requests = con.table("exchanges")
        query = query.union(
            requests.filter(requests.organization_id.isin(orgs)).select(
                account_id=requests.account_id,
                organization_id=requests.organization_id,
                email_domain=ibis.literal(None, type="string"),
            ),
            distinct=True,
        )
    rows: list[dict[str, Any]] = query.distinct().to_pyarrow().to_pylist()
    return rows


@dataclass(frozen=True)
class AllowMatch:
    """Why one account is on the allow list."""

    entry: AllowEntry
    """The first matching entry in the file: the one the reason cites."""
    matched: tuple[str, ...]
    """What of it matched, in words (``organization org-benchlab``)."""
    also: tuple[str, ...] = ()
    """Names of the other entries that match."""


def match_accounts(
    con: BaseBackend, entries: Sequence[AllowEntry], accounts: Sequence[str]
) -> dict[str, AllowMatch]:
    """The accounts among ``accounts`` that ``entries`` match (expiry is not checked here)."""
    orgs: dict[str, set[str]] = {}
    domains: dict[str, set[str]] = {}
    for row in _store_rows(con, entries):
        account = str(row["account_id"])
        if row["organization_id"] is not None:
            orgs.setdefault(account, set()).add(str(row["organization_id"]))
        if row["email_domain"]:
            domains.setdefault(account, set()).add(str(row["email_domain"]))
    found: dict[str, AllowMatch] = {}
    for account in sorted(set(accounts)):
        hits: list[tuple[AllowEntry, tuple[str, ...]]] = []
        for entry in entries:
            matched = [f"account {account}"] if account in entry.accounts else []
            matched += [
                f"organization {o}"
                for o in sorted(orgs.get(account, set()) & set(entry.organizations))
            ]
            matched += [
                f"e-mail domain {d}"
                for d in sorted(domains.get(account, set()) & set(entry.email_domains))
            ]
            if matched:
                hits.append((entry, tuple(matched)))
        if hits:
            found[account] = AllowMatch(hits[0][0], hits[0][1], tuple(e.name for e, _ in hits[1:]))
    return found


def _citation(match: AllowMatch) -> str:
    also = f"; also matched by {', '.join(match.also)}" if match.also else ""
    return (
        f'allow list: "{match.entry.reason}" ({match.entry.name}, matched '
        f"{' and '.join(match.matched)}{also})"
    )


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def apply_allow_list(
    con: BaseBackend,
    entries: Sequence[AllowEntry],
    accounts: Sequence[AccountResult],
    clusters: Sequence[ClusterResult],
    data_until: datetime | None,
    warn: Callable[[str], None] = _stderr,
) -> tuple[list[AccountResult], list[ClusterResult], dict[str, Any]]:
    """Cap allow-listed accounts' verdicts at `review` and say so (module docstring).

    ``data_until``: the newest exchange time scanned, against which ``expires`` is checked.
    Returns the accounts, the clusters and the ``allow_list`` object for summary.json.
    """
    as_of = None
    if data_until is not None:
        as_of = (data_until.astimezone(UTC) if data_until.tzinfo else data_until).date()
    expired = [e for e in entries if e.expired(as_of)]
    for entry in expired:
        warn(
            f'allow list: {entry.name} ("{entry.reason}") expired on {entry.expires}, before '
            f"the newest exchange scanned ({as_of}): it no longer applies; renew its expires "
            "date or remove it from the configuration"
        )
    active = [e for e in entries if not e.expired(as_of)]
    matches = match_accounts(con, active, [a.account_id for a in accounts]) if active else {}

    capped: dict[str, int] = {}
    out_accounts: list[AccountResult] = []
    for result in accounts:
        match = matches.get(result.account_id)
        if match is None or result.verdict == "benign":
            out_accounts.append(result)
            continue
        if result.verdict == "distillation":
            capped[match.entry.name] = capped.get(match.entry.name, 0) + 1
            reason = Reason(
                REASON_DETECTOR,
                f"{_citation(match)}; without it the verdict would be distillation "
                f"(score {result.score:.2f})",
                CAPPED_WEIGHT,
            )
            out_accounts.append(
                replace(result, verdict="review", reasons=[reason, *result.reasons])
            )
        else:
            reason = Reason(
                REASON_DETECTOR,
                f"{_citation(match)}; the verdict is {result.verdict} either way (score "
                f"{result.score:.2f}): the allow list caps verdicts at review, it clears none",
                0.0,
            )
            out_accounts.append(replace(result, reasons=[*result.reasons, reason]))

    out_clusters: list[ClusterResult] = []
    for cluster in clusters:
        listed = [m for m in sorted(cluster.account_ids) if m in matches]
        if not listed:
            out_clusters.append(cluster)
            continue
        named = ", ".join(listed[:MAX_NAMED]) + (" …" if len(listed) > MAX_NAMED else "")
        summary = (
            f"allow list: {len(listed)} of {len(cluster.account_ids)} members "
            f"{'is' if len(listed) == 1 else 'are'} allow-listed "
            f"({named}), with verdicts capped at review; the other members are judged as "
            "without the allow list"
        )
        if cluster.verdict == "distillation":
            summary += (
                "; the cluster itself is judged distillation: check whether the allow-listed "
                "accounts' keys are compromised"
            )
        reason = Reason(REASON_DETECTOR, summary, 0.0)
        out_clusters.append(replace(cluster, reasons=[*cluster.reasons, reason]))

    by_entry = {
        e.name: {
            "accounts": sum(1 for m in matches.values() if e.name in (m.entry.name, *m.also)),
            "capped": capped.get(e.name, 0),
        }
        for e in active
    }
    for entry in active:
        counts = by_entry[entry.name]
        warn(
            f'allow list: {entry.name} ("{entry.reason}") matched {counts["accounts"]} '
            f"account(s) seen; {counts['capped']} distillation verdict(s) capped at review"
        )
    broad = _too_broad(active, by_entry, len(accounts))
    for name, why in broad.items():
        warn(f"allow list: {name} is too broad: {why}")
    record: dict[str, Any] = {
        "entries": len(entries),
        "as_of": as_of.isoformat() if as_of else None,
        "expired": [e.name for e in expired],
        "accounts": len(matches),
        "capped": sum(capped.values()),
        "by_entry": by_entry,
        **({"broad": broad} if broad else {}),
    }
    return out_accounts, out_clusters, record


def _too_broad(
    entries: Sequence[AllowEntry], by_entry: dict[str, dict[str, int]], seen: int
) -> dict[str, str]:
    """Why each too-broad entry is too broad (module docstring), by entry name."""
    found: dict[str, str] = {}
    for entry in entries:
        why = []
        webmail = sorted(d for d in entry.email_domains if d.lower() in WEBMAIL_DOMAINS)
        if webmail:
            why.append(
                f"it lists the mailbox provider(s) {', '.join(webmail)}, so everyone who "
                "signs up with such an address is allow-listed, harvesting fleets included"
            )
        matched = by_entry[entry.name]["accounts"]
        if matched >= BROAD_MIN_ACCOUNTS and matched > BROAD_SHARE * seen:
            why.append(
                f"it matched {matched:,} of the {seen:,} accounts seen "
                f"({matched / seen:.1%}; more than {BROAD_SHARE:.0%})"
            )
        if why:
            found[entry.name] = (
                f'("{entry.reason}") ' + "; ".join(why) + "; list the partner's own accounts, "
                "organizations or e-mail domain instead"
            )
    return found
