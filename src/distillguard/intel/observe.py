"""What our own store shows about each account, in the shapes intel export and hunt compare.

Both directions read the same facts: an account's payment fingerprint and sign-up e-mail
domain (accounts table), the /24 or /48 networks its requests come from (exchanges), and the
wrappers its prompts are sent in (the scan's ``exchange_features``).  A value counts for an
account only when it is *characteristic* of it (a real share of its traffic, as in the
coordination views), so a residential proxy pool that ordinary customers also pass through
does not tie anyone.  Wrapper fingerprints are computed once per distinct wrapper, and only
for wrappers an account uses repeatedly: one-off chat prompts are never templates.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from distillguard.detectors.coordination.views import ip_prefix
from distillguard.engine.texts import with_prompt_text
from distillguard.errors import UserError
from distillguard.features.templates import stable_hash
from distillguard.intel.fingerprint import prompt_wrapper, wrapper_band_keys

if TYPE_CHECKING:
    from ibis.backends import BaseBackend
    from rich.console import Console

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
T = TypeVar("T")

MIN_SHARE = 0.2
"""A network or wrapper is characteristic of an account from this share of its requests."""
MIN_USES = 2
"""... and from this many requests."""


@dataclass
class Observations:
    """Per-account facts of one store (raw values: they never leave this process)."""

    exchanges: dict[str, int]
    """Account id -> requests seen."""
    payment: dict[str, str] = field(default_factory=dict)
    email_domain: dict[str, str] = field(default_factory=dict)
    signup_network: dict[str, str] = field(default_factory=dict)
    network_uses: dict[str, dict[str, int]] = field(default_factory=dict)
    """Account id -> network (``a.b.c.0/24`` or ``x:y:z::/48``) -> requests from it."""
    wrapper_uses: dict[str, dict[int, int]] = field(default_factory=dict)
    """Account id -> wrapper id -> requests (only wrappers used at least MIN_USES times)."""
    wrapper_bands: dict[int, list[int]] = field(default_factory=dict)
    """Wrapper id -> its 16 MinHash band keys (template fingerprint steps 1–4)."""

    def characteristic_networks(self, account: str) -> dict[str, float]:
        """Networks carrying at least MIN_SHARE of the account's requests, with their share."""
        return _characteristic(self.network_uses.get(account, {}), self.exchanges.get(account, 0))

    def characteristic_wrappers(self, account: str) -> dict[int, float]:
        """Wrappers carrying at least MIN_SHARE of the account's requests, with their share."""
        return _characteristic(self.wrapper_uses.get(account, {}), self.exchanges.get(account, 0))


def _characteristic(uses: Mapping[T, int], total: int) -> dict[T, float]:
    """The values used at least MIN_USES times and for at least MIN_SHARE of ``total``."""
    if not total:
        return {}
    return {v: n / total for v, n in uses.items() if n >= MIN_USES and n / total >= MIN_SHARE}


def parse_network(text: str) -> Network | None:
    """A CIDR network, or ``None`` when ``text`` is not one."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def open_inputs(
    store: Path | None,
    exchanges: list[Path],
    accounts: list[Path],
    *,
    quarantine: Path,
    console: Console | None = None,
) -> BaseBackend:
    """The scan's store, or an in-memory one loaded from contract files, with features."""
    from distillguard.engine.store import open_store
    from distillguard.features.exchange_features import compute_exchange_features
    from distillguard.ingest import ingest_files

    if store is None and not exchanges:
        raise UserError(
            "no data to read: pass --store (the DuckDB file of `distillguard scan --store`) "
            "or --exchanges (and --accounts) contract files"
        )
    if store is not None and not store.is_file():
        raise UserError(f"store {store} does not exist: pass the --store file of a scan")
    for path in [*exchanges, *accounts]:
        if not path.is_file():
            raise UserError(f"input file {path} does not exist (or is not a file)")
    con = open_store(store)
    if exchanges:
        ingest_files(
            con,
            exchanges,
            accounts,
            quarantine_path=quarantine,
            progress=False,
            console=console,
        )
    if "exchanges" not in con.list_tables():
        raise UserError(f"store {store} has no exchanges table: is it a distillguard store?")
    compute_exchange_features(con, progress=False)
    return con


def _frame(expr: Any) -> pd.DataFrame:
    frame: pd.DataFrame = expr.to_pandas()
    return frame


def observe(con: BaseBackend, *, fingerprint_wrappers: bool = True) -> Observations:
    """Read every per-account fact intel needs from a store (see module docstring)."""
    x = con.table("exchanges")
    totals = _frame(x.group_by("account_id").aggregate(n=x.count()))
    counts = zip(totals["account_id"], totals["n"].astype(int), strict=True)
    obs = Observations(exchanges={str(a): int(n) for a, n in counts})

    if "accounts" in con.list_tables():
        a = con.table("accounts")
        profile = _frame(a.select("account_id", "payment_fingerprint", "email_domain", "signup_ip"))
        for row in profile.itertuples(index=False):
            account = str(row.account_id)
            if isinstance(row.payment_fingerprint, str) and row.payment_fingerprint:
                obs.payment[account] = row.payment_fingerprint
            if isinstance(row.email_domain, str) and row.email_domain.strip():
                obs.email_domain[account] = row.email_domain.strip().lower()
            if isinstance(row.signup_ip, str) and row.signup_ip.strip():
                net = parse_network(row.signup_ip)
                if net is not None:
                    prefix = 24 if net.version == 4 else 48
                    obs.signup_network[account] = str(net.supernet(new_prefix=prefix))

    ips = x.filter(x.client_ip.notnull()).select("account_id", net=ip_prefix(x.client_ip))
    ips = ips.filter(ips.net != "")
    nets = _frame(ips.group_by(["account_id", "net"]).aggregate(n=ips.count()))
    network_uses: dict[str, dict[str, int]] = defaultdict(dict)
    for account, net, n in zip(nets["account_id"], nets["net"], nets["n"], strict=True):
        network_uses[str(account)][str(net)] = int(n)
    obs.network_uses = dict(network_uses)

    f = con.table("exchange_features")
    uses = f.group_by(["account_id", "wrapper_id"]).aggregate(n=f.count())
    uses = _frame(uses.filter(uses.n >= MIN_USES))
    wrapper_uses: dict[str, dict[int, int]] = defaultdict(dict)
    for account, wrapper, n in zip(uses["account_id"], uses["wrapper_id"], uses["n"], strict=True):
        wrapper_uses[str(account)][int(wrapper)] = int(n)
    obs.wrapper_uses = dict(wrapper_uses)
    if fingerprint_wrappers:
        obs.wrapper_bands = wrapper_fingerprints(con, sorted({int(w) for w in uses["wrapper_id"]}))
    return obs


def wrapper_fingerprints(con: BaseBackend, wrapper_ids: list[int]) -> dict[int, list[int]]:
    """Band keys of each wrapper id, from one prompt that carries it (a hash check guards)."""
    if not wrapper_ids:
        return {}
    f = con.table("exchange_features")
    x = con.table("exchanges")
    chosen = f.filter(f.wrapper_id.isin(wrapper_ids))
    first = chosen.group_by("wrapper_id").aggregate(exchange_id=chosen.exchange_id.min())
    joined = with_prompt_text(con, first.join(x.select("exchange_id", "pair_id"), "exchange_id"))
    rows = _frame(joined.select("wrapper_id", "prompt_text"))
    ids: list[int] = []
    wrappers: list[str] = []
    for wrapper_id, prompt in zip(rows["wrapper_id"], rows["prompt_text"], strict=True):
        text = prompt_wrapper(str(prompt))
        if stable_hash(text) != int(wrapper_id):
            continue  # features computed by another version: do not guess
        ids.append(int(wrapper_id))
        wrappers.append(text)
    keys = wrapper_band_keys(wrappers)
    return {w: bands for w, bands in zip(ids, keys, strict=True) if bands}
