"""The views of the account graph: who shares what, as relational queries.

Each view is an Ibis expression over the store returning ``(account_id, value)`` rows, so it
runs unchanged on DuckDB, Spark or a warehouse; only the grouping into pairs is Python.
Per-request values (client subnets, wrappers, templates, LSH bands) are kept for an account
only when a real share of its traffic uses them (``min_share``): a rotating proxy spreads an
account over hundreds of addresses, none of which it *lives on*, so proxy pools shared with
ordinary customers never tie anyone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import pandas as pd

from distillguard.detectors.coordination.band_counts import lsh_band_rows
from distillguard.detectors.coordination.config import CoordinationConfig
from distillguard.engine.derived import account_prompt_uses

if TYPE_CHECKING:
    from ibis.backends import BaseBackend


@dataclass(frozen=True)
class View:
    """One way two accounts can be tied, with its base weight and evidence family."""

    name: str
    """Indicator kind written to results (``payment_fingerprint``, ``client_subnet``...)."""
    weight: float
    """Weight of a value shared by exactly two accounts; rarity scales it down from there."""
    family: str
    needs_features: bool
    query: Callable[[BaseBackend, CoordinationConfig], ir.Table]
    """The view's definition: ``(account_id, value)`` rows, as a relational query."""
    counted: Callable[[BaseBackend, CoordinationConfig], pd.DataFrame] | None = None
    """The same rows worked out another way, where the query is costly at scale."""

    def rows(self, con: BaseBackend, cfg: CoordinationConfig) -> pd.DataFrame:
        """The view's ``(account_id, value)`` rows (see :attr:`counted`)."""
        if self.counted is not None and "prompt_features" in set(con.list_tables()):
            return self.counted(con, cfg)
        return self.query(con, cfg).execute()


def ip_prefix(ip: ir.StringValue) -> ir.StringValue:
    """The /24 of an IPv4 address or the /48 of an IPv6 one (empty when unparsable)."""
    low = ip.strip().lower()
    v6 = low.re_extract(r"^([0-9a-f]{1,4}:[0-9a-f]{1,4}:[0-9a-f]{1,4}):", 1)
    v4 = low.re_extract(r"^(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}$", 1)
    return ibis.ifelse(
        low.contains(":"),
        ibis.ifelse(v6 == "", "", v6 + "::/48"),
        ibis.ifelse(v4 == "", "", v4 + ".0/24"),
    )


def _pairs(table: ir.Table, value: ir.Value) -> ir.Table:
    out = table.select(account_id=table.account_id, value=value.cast("string"))
    return out.filter(out.value.notnull() & (out.value != "")).distinct()


def _characteristic(
    table: ir.Table,
    value: ir.Value,
    totals: ir.Table,
    min_share: float,
    min_count: int,
    *,
    weight: ir.IntegerValue | None = None,
    prompt: ir.Value | None = None,
    min_prompts: int = 1,
) -> ir.Table:
    """Values used by at least ``min_share`` of an account's exchanges (and ``min_count``),
    and, given ``prompt`` (which prompt each row is), around at least ``min_prompts``
    different prompts.

    ``weight``: how many exchanges each row of ``table`` stands for, when the rows were
    counted per raw value first (so that a value such as an address prefix is worked out
    once per distinct address, not once per request); without it each row is one use.
    Integer values (wrapper, template and band hashes) are counted as integers and only
    the kept ones written as text: each integer has exactly one text, so the counts are the
    same, and the band view no longer writes millions of numbers as text to count them.
    """
    if not value.type().is_integer():
        value = value.cast("string")
    tagged = table.select(
        account_id=table.account_id,
        value=value,
        weight=1 if weight is None else weight,
        prompt=0 if prompt is None else prompt,
    )
    uses = tagged.count() if weight is None else tagged.weight.sum()
    aggregates: dict[str, ir.Value] = {"uses": uses}
    if prompt is not None:
        aggregates["prompts"] = tagged.prompt.nunique()
    counts = tagged.group_by(["account_id", "value"]).aggregate(**aggregates)
    # Null and empty values are dropped once counted: a filter before the count would
    # work out a computed value (an address prefix) once more for every row.
    present = counts.value.notnull()
    if not value.type().is_integer():
        present &= counts.value != ""
    joined = counts.filter(present).join(totals, "account_id")
    kept = joined.filter((joined.uses >= min_count) & (joined.uses >= joined.total * min_share))
    if prompt is not None:
        kept = kept.filter(kept.prompts >= min_prompts)
    return kept.select("account_id", value=kept.value.cast("string"))


def _totals(table: ir.Table) -> ir.Table:
    return table.group_by("account_id").aggregate(total=table.count())


def _accounts(con: BaseBackend) -> ir.Table:
    return con.table("accounts")


def payment(con: BaseBackend, cfg: CoordinationConfig) -> ir.Table:
    """Shared payment instrument: the strongest single tie between accounts."""
    t = _accounts(con)
    return _pairs(t, t.payment_fingerprint)


def signup_ip(con: BaseBackend, cfg: CoordinationConfig) -> ir.Table:
    """Accounts created from the very same address."""
    t = _accounts(con)
    return _pairs(t, t.signup_ip.strip().lower())


def signup_subnet(con: BaseBackend, cfg: CoordinationConfig) -> ir.Table:
    """Accounts created from the same /24 (/48)."""
    t = _accounts(con)
    return _pairs(t, ip_prefix(t.signup_ip))


def client_subnet(con: BaseBackend, cfg: CoordinationConfig) -> ir.Table:
    """/24 (/48) networks that carry a real share of both accounts' requests."""
    x = con.table("exchanges").select("account_id", "client_ip")
    x = x.filter(x.client_ip.notnull())
    # Requests are counted per account and address first and the prefix is worked out per
    # distinct address, then joined back: computed over the requests, the engine pushed the
    # "prefix not empty" filter down and ran the regular expressions for every request.
    addresses = x.group_by(["account_id", "client_ip"]).aggregate(uses=x.count())
    # The prefix is taken of an aggregate (the group's one address), not of the grouping
    # key: a filter on the key is pushed below the grouping, where DuckDB ran the regular
    # expressions once per (account, address) instead of once per address (2.8 s against
    # 0.2 s on 1M exchanges).
    ips = addresses.group_by("client_ip").aggregate(address=addresses.client_ip.arbitrary())
    ips = ips.select("client_ip", value=ip_prefix(ips.address))
    tagged = addresses.join(ips, "client_ip")
    # Totals from the per-address counts: the same sums, without a second pass over requests.
    totals = addresses.group_by("account_id").aggregate(total=addresses.uses.sum())
    return _characteristic(
        tagged, tagged.value, totals, cfg.min_share, cfg.min_count, weight=tagged.uses
    )


def email_domain(con: BaseBackend, cfg: CoordinationConfig) -> ir.Table:
    """The same sign-up e-mail domain; mass webmail providers are left out (they tie nobody)."""
    t = _accounts(con)
    domain = t.email_domain.strip().lower()
    out = _pairs(t, domain)
    return out.filter(~out.value.isin(sorted(cfg.webmail)))


def organization(con: BaseBackend, cfg: CoordinationConfig) -> ir.Table:
    """The same declared organisation, from sign-up records or from requests."""
    a = _accounts(con)
    x = con.table("exchanges")
    return _pairs(a, a.organization_id).union(_pairs(x, x.organization_id), distinct=True)


def client_fingerprint(con: BaseBackend, cfg: CoordinationConfig) -> ir.Table:
    """The client an account mostly uses: user agent plus its sampling parameters.

    Requests are counted per account and client tuple first, so the text of a tuple is
    written once per tuple, not once per request.  The floats are grouped by their text:
    an engine groups -0.0 with 0.0, whose texts differ.
    """
    x = con.table("exchanges")
    tuples = x.group_by(
        account_id=x.account_id,
        user_agent=x.user_agent,
        temperature=x.temperature.cast("string"),
        top_p=x.top_p.cast("string"),
        max_tokens=x.max_tokens,
        n=x.n,
        stream=x.stream,
        reasoning_effort=x.reasoning_effort,
    ).aggregate(uses=x.count())

    def part(v: ir.Value) -> ir.StringValue:
        return v.cast("string").fill_null("-")

    fp = (
        part(tuples.user_agent)
        + "|t="
        + part(tuples.temperature)
        + "|p="
        + part(tuples.top_p)
        + "|max="
        + part(tuples.max_tokens)
        + "|n="
        + part(tuples.n)
        + "|stream="
        + part(tuples.stream)
        + "|effort="
        + part(tuples.reasoning_effort)
    )
    totals = tuples.group_by("account_id").aggregate(total=tuples.uses.sum())
    return _characteristic(tuples, fp, totals, 0.5, cfg.min_count, weight=tuples.uses)


def pair_uses(con: BaseBackend, *, nonempty: str | None = None) -> ir.Table:
    """Each account's uses of each distinct prompt, with that prompt's features: one row per
    (account, prompt) with ``uses``, instead of one per exchange.

    The prompt-derived views that unnest a list (LSH bands, instruction sentences) count
    its values per account (wrapper and template, one value per prompt, are counted per
    exchange: :func:`_prompt_values`); counted per exchange, the band view unnests 16 keys
    for every exchange (256M rows at 16M exchanges).  Weighted by ``uses`` the counts are the same,
    and an account that resends its prompts costs one row per prompt.  Where repeats are
    across accounts instead, it saves little: 13.3M band rows against 15.9M on the
    simulator's 1M benchmark input (docs/benchmarks.md, seventh round).  Exchanges name
    their prompt by ``pair_id`` and the store keeps its features once
    (``prompt_features``, features/exchange_features.py), so the uses are counted on the
    narrow ``exchanges`` columns (once per scan: engine/derived.py) and the features
    joined once per (account, prompt).  A
    backend given only an ``exchange_features`` table counts each exchange as one use.

    ``nonempty``: a list column; only prompts where it holds something are counted, for a
    view that unnests it (a prompt with no instruction sentence unnests to no rows, and on
    the simulator's 1M input only 24k of 81k prompts, 38% of the exchanges, have one).
    """
    if "prompt_features" not in set(con.list_tables()):
        f = con.table("exchange_features")
        if nonempty is not None:
            f = f.filter(f[nonempty].length() > 0)
        return f.mutate(uses=ibis.literal(1, "int64"))
    prompts = con.table("prompt_features")
    uses = account_prompt_uses(con)
    if nonempty is not None:
        prompts = prompts.filter(prompts[nonempty].length() > 0)
        uses = uses.semi_join(prompts, "pair_id")
    return uses.join(prompts, "pair_id")


def _pair_totals(con: BaseBackend) -> ir.Table:
    """Exchanges per account (featured ones, where only ``exchange_features`` is given)."""
    if "prompt_features" not in set(con.list_tables()):
        return _totals(con.table("exchange_features"))
    return _totals(con.table("exchanges"))


def _prompt_values(con: BaseBackend, column: str) -> ir.Table:
    """``(account_id, value)`` for every featured exchange: one value of its prompt's features.

    The wrapper and template views count a single value per exchange, so they count it
    straight on the exchanges joined with their prompt's features: one grouping of the
    requests, where :func:`pair_uses` would group them by prompt first and then group
    its rows (830k of 1M on the simulator's benchmark input) once more.  The inner join
    is what ``exchange_features`` is, so both store layouts give the same counts.
    """
    if "prompt_features" not in set(con.list_tables()):
        f = con.table("exchange_features")
        return f.select("account_id", value=f[column], prompt=f.text_hash)
    x = con.table("exchanges").select("account_id", "pair_id")
    prompts = con.table("prompt_features")
    joined = x.join(prompts.select("pair_id", prompts[column]), "pair_id")
    return joined.select("account_id", value=joined[column], prompt=joined.pair_id)


def _around_prompts(con: BaseBackend, cfg: CoordinationConfig, column: str) -> ir.Table:
    """A per-prompt value (``column`` of the prompt features) an account relies on around
    at least ``template_min_prompts`` different prompts (config)."""
    u = _prompt_values(con, column)
    return _characteristic(
        u,
        u.value,
        _pair_totals(con),
        cfg.min_share,
        cfg.template_min_count,
        prompt=u.prompt,
        min_prompts=cfg.template_min_prompts,
    )


def wrapper(con: BaseBackend, cfg: CoordinationConfig) -> ir.Table:
    """The instruction wrapper around the task (task body removed) an account relies on."""
    return _around_prompts(con, cfg, "wrapper_id")


def template(con: BaseBackend, cfg: CoordinationConfig) -> ir.Table:
    """The prompt skeleton (numbers, quotes and bodies masked) an account relies on."""
    return _around_prompts(con, cfg, "template_id")


def lsh_band(con: BaseBackend, cfg: CoordinationConfig) -> ir.Table:
    """MinHash LSH band keys recurring in an account's prompts (near-duplicate prompts)."""
    u = pair_uses(con)
    bands = u.select(u.account_id, u.uses, band=u.lsh_bands.unnest())
    return _characteristic(
        bands,
        bands.band,
        _pair_totals(con),
        cfg.lsh_min_share,
        cfg.template_min_count,
        weight=bands.uses,
    )


def instruction_sentence(con: BaseBackend, cfg: CoordinationConfig) -> ir.Table:
    """A standing instruction sentence that a fleet of accounts relies on, around many tasks.

    A campaign that paraphrases every wrapper (so no wrapper id repeats) still keeps its
    house rules word for word ("always give your output in a formal tone.").  A sentence
    counts for an account when it appears in at least ``sentence_min_share`` of its
    requests, ``template_min_count`` times, around ``sentence_min_tasks`` different prompts
    (a wrapper, not one prompt sent again); and only when at least ``sentence_min_reliance``
    of all accounts that use it at all rely on it like that: a fleet, not a crowd (stock
    phrases such as "explain your reasoning step by step." are used now and then by many
    people, a campaign's house rules by its own accounts only).
    """
    u = pair_uses(con, nonempty="instruction_sentences")
    rows = u.select(u.account_id, u.text_hash, u.uses, sentence=u.instruction_sentences.unnest())
    uses = rows.group_by(["account_id", "sentence"]).aggregate(
        uses=rows.uses.sum(), tasks=rows.text_hash.nunique()
    )
    joined = uses.join(_pair_totals(con), "account_id")
    relied = joined.filter(
        (joined.uses >= cfg.template_min_count)
        & (joined.uses >= joined.total * cfg.sentence_min_share)
        & (joined.tasks >= cfg.sentence_min_tasks)
    )
    users = uses.group_by("sentence").aggregate(users=uses.count())
    reliant = relied.group_by("sentence").aggregate(reliant=relied.count())
    fleet = reliant.join(users, "sentence")
    fleet = fleet.filter(fleet.reliant >= fleet.users * cfg.sentence_min_reliance)
    kept = relied.semi_join(fleet, "sentence")
    return kept.select(kept.account_id, value=kept.sentence.cast("string"))


VIEWS: tuple[View, ...] = (
    View("payment_fingerprint", 1.0, "infrastructure", False, payment),
    View("signup_ip", 0.45, "infrastructure", False, signup_ip),
    View("signup_subnet", 0.1, "infrastructure", False, signup_subnet),
    View("client_subnet", 0.35, "infrastructure", False, client_subnet),
    View("email_domain", 0.5, "infrastructure", False, email_domain),
    View("organization_id", 0.8, "infrastructure", False, organization),
    View("client_fingerprint", 0.3, "infrastructure", False, client_fingerprint),
    View("wrapper", 0.7, "template", True, wrapper),
    View("template", 0.5, "template", True, template),
    View("lsh_band", 0.4, "template", True, lsh_band, lsh_band_rows),
    View("instruction_sentence", 0.75, "template", True, instruction_sentence),
)
"""Every view, strongest first.  Base weights say how much one rare shared value means:
a card is nearly conclusive, a /24 or a client build only with other ties."""
