"""Per-account behaviour features, as Ibis expressions over the store's tables.

The baselines need one row per account; the aggregation from exchanges to accounts is
the heavy, relational part, so it is written once in Ibis and runs wherever the tables
live (DuckDB here, Spark or a warehouse elsewhere).  Only the per-account result is
brought into memory.  Each function returns an unexecuted expression.

At log scale the cost is the number of passes over every exchange (each a hash table on
the string ``account_id``), the sorts of the windows and per-row calendar arithmetic, so:
the per-account aggregates share one pass (:func:`behaviour_features` takes a caller's
further aggregates into it); calendar statistics (days, hours of the day, active hours)
come from one count per (account, UTC hour) (:func:`hourly_counts`), a few hundred
thousand rows where there are millions of exchanges; the sliding hour and the gaps
between requests come from one sort (:func:`arrivals`); per-value work (distinct
addresses, models) is done once per distinct (account, value); and calendar arithmetic
reads the UTC wall clock (:func:`utc_wall_clock`).  Ibis turns an expression used twice
into one common table expression, so helpers that the per-account frame of the
detectors reuses are computed once for both.
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
from ibis import _

MICROS_PER_SECOND = 1_000_000.0
MICROS_PER_DAY = 86_400.0 * MICROS_PER_SECOND
"""Time differences are taken in microseconds, the stored resolution, and made float before
any division: that is exact on every engine (DuckDB counts unit *boundaries* crossed, Spark
whole units elapsed, which differ for coarser units), and Spark reads a literal such as
``86400.0`` as a DECIMAL, so an integer divided by it is rounded to a few decimals."""


def utc_wall_clock(ts: ir.TimestampValue) -> ir.TimestampValue:
    """A UTC timestamp as a zone-less one (its UTC wall clock), for calendar arithmetic.

    The store keeps timestamps in UTC and every session runs in UTC (Ibis sets DuckDB's
    zone, distillguard Spark's), so hours, dates, truncations, interval bounds and
    microsecond differences of the zone-less value are those of the original.  On DuckDB
    they cost a fraction as much: on a zoned timestamp they go through ICU's time-zone
    arithmetic, row by row (a microsecond difference of zoned timestamps cost more than
    the sort of every exchange).
    """
    return ts.cast(dt.Timestamp())


def _left_join(base: ir.Table, other: ir.Table) -> ir.Table:
    """Left-join a per-account table on ``account_id`` without duplicating the key."""
    joined = base.left_join(other, base.account_id == other.account_id)
    keep = [c for c in joined.columns if c != "account_id_right"]
    return joined.select(keep)


def hourly_counts(exchanges: ir.Table) -> ir.Table:
    """Exchanges per (account, UTC clock hour): ``account_id``, ``hour`` (zone-less, the
    start of the hour) and ``n``.

    Every calendar statistic (active days and hours, the busiest day, the hour-of-day
    histogram) is a sum over these rows, so only this count reads every exchange.
    """
    hour = utc_wall_clock(exchanges.ts).truncate("h")
    return exchanges.group_by(["account_id", hour.name("hour")]).aggregate(n=_.count())


def hour_of_day_counts(exchanges: ir.Table) -> ir.Table:
    """Exchanges per (account, UTC hour of the day 0-23): ``account_id``, ``hour``, ``n``;
    hours without traffic are absent."""
    hours = hourly_counts(exchanges)
    return hours.group_by(["account_id", hours.hour.hour().name("hour")]).aggregate(n=_.n.sum())


def arrivals(exchanges: ir.Table) -> ir.Table:
    """Every exchange's ``account_id``, UTC wall-clock ``ts``, seconds since the account's
    previous request (``gap``, null for its first) and requests in the hour up to it
    (``in_hour``, itself included).

    Both windows order an account's requests by time; written in one selection they share
    one sort of every exchange.
    """
    times = exchanges.select("account_id", ts=utc_wall_clock(exchanges.ts))
    order = ibis.window(group_by="account_id", order_by="ts")
    hour = ibis.window(group_by="account_id", order_by="ts", range=(-ibis.interval(hours=1), 0))
    times = times.mutate(prev=_.ts.lag().over(order), in_hour=_.ts.count().over(hour))
    return times.select(
        "account_id",
        "ts",
        "in_hour",
        gap=_.ts.delta(_.prev, unit="microsecond").cast("float64") / MICROS_PER_SECOND,
    )


def client_ips(exchanges: ir.Table) -> ir.Table:
    """Each account's distinct ``client_ip`` values (null included), one row each: work
    per address (counting, prefixes) is done once per distinct value, not per request."""
    return exchanges.group_by(["account_id", "client_ip"]).aggregate()


def _days(exchanges: ir.Table) -> ir.Table:
    """UTC calendar days with traffic and the busiest one, as a daily quota counts."""
    hours = hourly_counts(exchanges)
    days = hours.group_by(["account_id", hours.hour.truncate("D").name("day")]).aggregate(
        n=_.n.sum()
    )
    return days.group_by("account_id").aggregate(active_days=_.count(), peak_day=_.n.max())


def _peak_hour(exchanges: ir.Table) -> ir.Table:
    """Most exchanges an account sent within any sliding one-hour window.

    A sliding window (each request counts the requests of the hour up to it) rather than
    clock hours, so a burst straddling the top of the hour is not halved.
    """
    return arrivals(exchanges).group_by("account_id").aggregate(peak_hour=_.in_hour.max())


VOLUME_COLUMNS = (
    "exchanges",
    "active_days",
    "first_ts",
    "last_ts",
    "mean_per_active_day",
    "peak_hour",
    "peak_day",
)
"""The columns of :func:`volume_features` after ``account_id``, in order."""


def _volume_aggregates(exchanges: ir.Table) -> dict[str, ir.Value]:
    """The volume numbers that need every exchange (the rest come from smaller tables)."""
    return {
        "exchanges": exchanges.count(),
        "first_ts": exchanges.ts.min(),
        "last_ts": exchanges.ts.max(),
    }


def _volume(base: ir.Table, exchanges: ir.Table) -> ir.Table:
    """``base`` (per-account ``exchanges``, ``first_ts``, ``last_ts`` and more) with the
    rest of :func:`volume_features`, those columns first after the account key."""
    table = _left_join(base, _days(exchanges))
    table = _left_join(table, _peak_hour(exchanges))
    table = table.mutate(mean_per_active_day=_.exchanges / _.active_days)
    first = ["account_id", *VOLUME_COLUMNS]
    return table.select(*first, *(c for c in table.columns if c not in first))


def volume_features(exchanges: ir.Table) -> ir.Table:
    """Volume per account: what a rate limiter sees.

    Columns: ``exchanges``, ``active_days`` (UTC days with traffic), ``peak_hour`` (any
    sliding hour), ``peak_day`` (UTC calendar day), ``mean_per_active_day``, ``first_ts``
    and ``last_ts``.
    """
    base = exchanges.group_by("account_id").aggregate(**_volume_aggregates(exchanges))
    return _volume(base, exchanges)


def _inter_arrival(exchanges: ir.Table) -> ir.Table:
    """Mean and standard deviation of seconds between an account's consecutive requests."""
    gaps = arrivals(exchanges)
    return gaps.group_by("account_id").aggregate(gap_mean=_.gap.mean(), gap_std=_.gap.std())


def _hour_entropy(exchanges: ir.Table) -> ir.Table:
    """Shannon entropy (nats) of the hour-of-day histogram: scripts run around the clock."""
    hours = hour_of_day_counts(exchanges)
    hours = hours.mutate(total=_.n.sum().over(ibis.window(group_by="account_id")))
    hours = hours.mutate(p=_.n.cast("float64") / _.total)
    return hours.group_by("account_id").aggregate(hour_entropy=-(_.p * _.p.ln()).sum())


def _models(exchanges: ir.Table) -> ir.Table:
    """Share of an account's traffic on its most-used model (campaigns chase one model),
    and how many models it used."""
    models = exchanges.group_by(["account_id", "model"]).aggregate(n=_.count())
    return (
        models.group_by("account_id")
        .aggregate(top_model_n=_.n.max(), model_total=_.n.sum(), distinct_models=_.model.count())
        .mutate(top_model_share=_.top_model_n.cast("float64") / _.model_total)
        .select("account_id", "top_model_share", "distinct_models")
    )


def _content_aggregates(exchanges: ir.Table) -> dict[str, ir.Value]:
    """Request-shape aggregates: single-turn share, token means, parameters."""
    has_system = exchanges.system_prompt.notnull() | exchanges.has_system_message
    single_turn = (exchanges.n_messages <= 1) | ((exchanges.n_messages <= 2) & has_system)
    return {
        "single_turn_share": single_turn.cast("float64").mean(),
        "mean_input_tokens": exchanges.input_tokens.mean(),
        "mean_output_tokens": exchanges.output_tokens.mean(),
        "sum_input_tokens": exchanges.input_tokens.sum(),
        "sum_output_tokens": exchanges.output_tokens.sum(),
        "max_tokens_share": exchanges.max_tokens.notnull().cast("float64").mean(),
        "distinct_user_agents": exchanges.user_agent.nunique(),
    }


BEHAVIOUR_COLUMNS = (
    *VOLUME_COLUMNS,
    "gap_mean",
    "gap_std",
    "hour_entropy",
    "top_model_share",
    "single_turn_share",
    "mean_input_tokens",
    "mean_output_tokens",
    "sum_input_tokens",
    "sum_output_tokens",
    "max_tokens_share",
    "distinct_ips",
    "distinct_user_agents",
    "distinct_models",
)
"""The columns of :func:`behaviour_features` after ``account_id`` (then, with an
``accounts`` table, ``account_age_days``; then the caller's ``extra``)."""


def behaviour_features(
    exchanges: ir.Table,
    accounts: ir.Table | None = None,
    *,
    extra: Mapping[str, ir.Value] | None = None,
) -> ir.Table:
    """Everything the isolation-forest baseline reads, one row per account.

    Adds to :func:`volume_features` the inter-arrival statistics, hour-of-day entropy,
    request shape, token usage, infrastructure diversity and model concentration; with an
    ``accounts`` table, ``account_age_days`` (days from sign-up to first request, null
    where the sign-up time is unknown).  ``extra`` names further per-account reductions
    over ``exchanges`` (name -> expression), computed in the same pass over the table as
    this function's own: another group-by of every exchange would cost as much again.
    """
    base = exchanges.group_by("account_id").aggregate(
        **_volume_aggregates(exchanges), **_content_aggregates(exchanges), **(extra or {})
    )
    table = _volume(base, exchanges)
    ips = client_ips(exchanges)
    for part in (
        _inter_arrival(exchanges),
        _hour_entropy(exchanges),
        _models(exchanges),
        ips.group_by("account_id").aggregate(distinct_ips=_.client_ip.count()),
    ):
        table = _left_join(table, part)
    columns = ["account_id", *BEHAVIOUR_COLUMNS]
    if accounts is not None:
        signup = accounts.select("account_id", "created_at")
        table = _left_join(table, signup).mutate(
            account_age_days=_.first_ts.delta(_.created_at, unit="microsecond").cast("float64")
            / MICROS_PER_DAY
        )
        columns.append("account_age_days")
    return table.select(*columns, *(extra or {}))
