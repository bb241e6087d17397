"""Per-account behaviour features, as Ibis expressions over the store's tables.

The baselines need one row per account; the aggregation from exchanges to accounts is
the heavy, relational part, so it is written once in Ibis and runs wherever the tables
live (DuckDB here, Spark or a warehouse elsewhere).  Only the per-account result is
brought into memory.  Each function returns an unexecuted expression.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
from ibis import _

MICROS_PER_SECOND = 1_000_000.0
MICROS_PER_DAY = 86_400.0 * MICROS_PER_SECOND
"""Time differences are taken in microseconds, the stored resolution, and made float before
any division: that is exact on every engine (DuckDB counts unit *boundaries* crossed, Spark
whole units elapsed, which differ for coarser units), and Spark reads a literal such as
``86400.0`` as a DECIMAL, so an integer divided by it is rounded to a few decimals."""


def _left_join(base: ir.Table, other: ir.Table) -> ir.Table:
    """Left-join a per-account table on ``account_id`` without duplicating the key."""
    joined = base.left_join(other, base.account_id == other.account_id)
    keep = [c for c in joined.columns if c != "account_id_right"]
    return joined.select(keep)


def _peak_day(exchanges: ir.Table) -> ir.Table:
    """Most exchanges an account sent on one UTC calendar day, as a daily quota counts."""
    days = exchanges.group_by(["account_id", exchanges.ts.truncate("D").name("day")])
    return days.aggregate(n=_.count()).group_by("account_id").aggregate(peak_day=_.n.max())


def _peak_hour(exchanges: ir.Table) -> ir.Table:
    """Most exchanges an account sent within any sliding one-hour window.

    A sliding window (each request counts the requests of the hour up to it) rather than
    clock hours, so a burst straddling the top of the hour is not halved.
    """
    hour = ibis.window(group_by="account_id", order_by="ts", range=(-ibis.interval(hours=1), 0))
    counted = exchanges.select("account_id", "ts").mutate(n=_.ts.count().over(hour))
    return counted.group_by("account_id").aggregate(peak_hour=_.n.max())


def volume_features(exchanges: ir.Table) -> ir.Table:
    """Volume per account: what a rate limiter sees.

    Columns: ``exchanges``, ``active_days`` (UTC days with traffic), ``peak_hour`` (any
    sliding hour), ``peak_day`` (UTC calendar day), ``mean_per_active_day``, ``first_ts``
    and ``last_ts``.
    """
    base = exchanges.group_by("account_id").aggregate(
        exchanges=_.count(),
        active_days=_.ts.date().nunique(),
        first_ts=_.ts.min(),
        last_ts=_.ts.max(),
    )
    base = base.mutate(mean_per_active_day=_.exchanges / _.active_days)
    base = _left_join(base, _peak_hour(exchanges))
    return _left_join(base, _peak_day(exchanges))


def _inter_arrival(exchanges: ir.Table) -> ir.Table:
    """Mean and standard deviation of seconds between an account's consecutive requests."""
    order = ibis.window(group_by="account_id", order_by="ts")
    gaps = exchanges.select("account_id", "ts").mutate(prev=_.ts.lag().over(order))
    gaps = gaps.mutate(
        gap=_.ts.delta(_.prev, unit="microsecond").cast("float64") / MICROS_PER_SECOND
    )
    return gaps.group_by("account_id").aggregate(gap_mean=_.gap.mean(), gap_std=_.gap.std())


def _hour_entropy(exchanges: ir.Table) -> ir.Table:
    """Shannon entropy (nats) of the hour-of-day histogram: scripts run around the clock."""
    hours = exchanges.group_by(["account_id", exchanges.ts.hour().name("hour")]).aggregate(
        n=_.count()
    )
    hours = hours.mutate(total=_.n.sum().over(ibis.window(group_by="account_id")))
    hours = hours.mutate(p=_.n.cast("float64") / _.total)
    return hours.group_by("account_id").aggregate(hour_entropy=-(_.p * _.p.ln()).sum())


def _top_model_share(exchanges: ir.Table) -> ir.Table:
    """Share of an account's traffic on its most-used model (campaigns chase one model)."""
    models = exchanges.group_by(["account_id", "model"]).aggregate(n=_.count())
    return (
        models.group_by("account_id")
        .aggregate(top_model_n=_.n.max(), model_total=_.n.sum())
        .mutate(top_model_share=_.top_model_n.cast("float64") / _.model_total)
        .select("account_id", "top_model_share")
    )


def _content(exchanges: ir.Table) -> ir.Table:
    """Request-shape aggregates: single-turn share, token means, parameters, infrastructure."""
    has_system = exchanges.system_prompt.notnull() | exchanges.has_system_message
    single_turn = (exchanges.n_messages <= 1) | ((exchanges.n_messages <= 2) & has_system)
    return exchanges.group_by("account_id").aggregate(
        single_turn_share=single_turn.cast("float64").mean(),
        mean_input_tokens=_.input_tokens.mean(),
        mean_output_tokens=_.output_tokens.mean(),
        sum_input_tokens=_.input_tokens.sum(),
        sum_output_tokens=_.output_tokens.sum(),
        max_tokens_share=_.max_tokens.notnull().cast("float64").mean(),
        distinct_ips=_.client_ip.nunique(),
        distinct_user_agents=_.user_agent.nunique(),
        distinct_models=_.model.nunique(),
    )


def behaviour_features(exchanges: ir.Table, accounts: ir.Table | None = None) -> ir.Table:
    """Everything the isolation-forest baseline reads, one row per account.

    Adds to :func:`volume_features` the inter-arrival statistics, hour-of-day entropy,
    request shape, token usage, infrastructure diversity and model concentration; with an
    ``accounts`` table, ``account_age_days`` (days from sign-up to first request, null
    where the sign-up time is unknown).
    """
    table = volume_features(exchanges)
    for part in (
        _inter_arrival(exchanges),
        _hour_entropy(exchanges),
        _top_model_share(exchanges),
        _content(exchanges),
    ):
        table = _left_join(table, part)
    if accounts is not None:
        signup = accounts.select("account_id", "created_at")
        table = _left_join(table, signup).mutate(
            account_age_days=_.first_ts.delta(_.created_at, unit="microsecond").cast("float64")
            / MICROS_PER_DAY
        )
        table = table.drop("created_at")
    return table
