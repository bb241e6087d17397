"""One row per account: the behaviour numbers every behaviour and drift detector reads.

The aggregation from exchanges to accounts is the heavy, relational part of the behaviour
stage, so it is written once as Ibis expressions and runs wherever the tables live (DuckDB
here, PySpark or a warehouse elsewhere); only the per-account result comes into pandas.
It extends the baselines' :func:`~distillguard.evaluation.account_features.behaviour_features`
(volume, peak hour, hour entropy, token means, account age) rather than repeating it, and
adds what the detectors need on top: burst timing regularity, the quiet-hours share, the
extraction parameters, the parameter fingerprint, address prefixes and, when the
``exchange_features`` table exists, the prompt-signal shares and template concentration.

Columns a table cannot provide (no ``accounts`` or ``exchange_features`` table, or an
empty one) are present and null, so detectors skip what they cannot judge instead of
failing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from distillguard.engine.timestamps import utc_columns
from distillguard.evaluation.account_features import (
    arrivals,
    behaviour_features,
    client_ips,
    hour_of_day_counts,
    hourly_counts,
)
from distillguard.schema.prompts import PROMPTS_TABLE

if TYPE_CHECKING:
    from distillguard.detectors.context import ScanContext

FRAME_NAME = "account"
"""Key of the cached per-account frame in :class:`ScanContext.frames`."""

BURST_GAP_SECONDS = 600.0
"""Gaps longer than this end a burst; timing regularity is judged inside bursts only, so a
script's pauses between runs (or a person's nights) do not hide its metronome."""
REGULAR_GAP_TOLERANCE = 0.10
"""A gap is "regular" when within ±10% of the account's median in-burst gap."""
QUIET_HOURS = 6
"""Width of the quiet window: a person's night is about six hours of near silence."""
BIG_MAX_TOKENS = 16_000
"""``max_tokens`` at or above this asks for a full long answer (near model maximum)."""
SIGNAL_THRESHOLD = 0.5
"""A prompt counts as carrying a signal when its classifier probability exceeds this."""
SIGNALS = ("reasoning", "reconstruct", "grading", "tool", "rewrite")
CAPABILITIES = ("reasoning", "coding", "tool_use", "grading", "vision", "rewrite", "chat")
MICROS_PER_SECOND = 1_000_000.0
MICROS_PER_DAY = 86_400.0 * MICROS_PER_SECOND
"""Time differences are taken in microseconds and made float before dividing, so they are
exact on DuckDB and Spark alike (see evaluation/account_features.py)."""

PARAM_FIELDS = ("temperature", "top_p", "max_tokens", "n", "reasoning_effort", "stream")
"""Fields of the parameter fingerprint, in the order they appear in its text."""

FEATURE_COLUMNS = (
    *(f"mean_p_{name}" for name in (*SIGNALS, "any")),
    *(f"share_p_{name}" for name in (*SIGNALS, "any")),
    *(f"count_p_{name}" for name in (*SIGNALS, "any")),
    "featured_exchanges",
    "distinct_templates",
    "distinct_wrappers",
    "top_wrapper_share",
    *(f"capability_{name}" for name in CAPABILITIES),
)
"""Columns that come from ``exchange_features``; null where that table is missing."""


def _join(base: ir.Table, other: ir.Table) -> ir.Table:
    """Left-join a per-account table on ``account_id`` without duplicating the key."""
    joined = base.left_join(other, base.account_id == other.account_id)
    return joined.select([c for c in joined.columns if c != "account_id_right"])


def _has_table(context: ScanContext, name: str) -> bool:
    return name in context.con.list_tables()


def _burst_timing(exchanges: ir.Table) -> ir.Table:
    """Regularity of gaps inside bursts: coefficient of variation and the share of gaps
    within ±10% of the account's median in-burst gap (a script's metronome)."""
    # The gaps of the inter-arrival statistics of behaviour_features: the same expression,
    # so the engine sorts the exchanges and computes them once for both.
    gaps = arrivals(exchanges)
    inside = gaps.filter(_.gap.notnull() & (_.gap <= BURST_GAP_SECONDS))
    stats = inside.group_by("account_id").aggregate(
        burst_gaps=_.gap.count(),
        burst_gap_mean=_.gap.mean(),
        burst_gap_std=_.gap.std(),
        burst_gap_median=_.gap.median(),
    )
    near = inside.join(stats.select("account_id", "burst_gap_median"), "account_id")
    tolerance = REGULAR_GAP_TOLERANCE * near.burst_gap_median
    regular = near.group_by("account_id").aggregate(
        regular_gap_share=((near.gap - near.burst_gap_median).abs() <= tolerance)
        .cast("float64")
        .mean()
    )
    stats = stats.mutate(
        burst_gap_cv=ibis.ifelse(_.burst_gap_mean > 0, _.burst_gap_std / _.burst_gap_mean, None)
    )
    return _join(stats, regular)


def _quiet_hours(exchanges: ir.Table) -> ir.Table:
    """Share of traffic in the account's quietest six consecutive UTC hours.

    This is the account's "night" in its own frame, found without knowing its time zone: a
    person's quietest six hours hold almost nothing; a script running 24/7 puts a quarter
    of its traffic there.  The hour-of-day counts are laid out as 24 columns per account
    and each window adds six of them, so an hour no request falls in counts as zero and a
    window that holds no traffic makes the share zero.  (The same per-hour counts feed the
    hour entropy, so the engine computes them once.)
    """
    hours = hour_of_day_counts(exchanges)
    by_hour = hours.group_by("account_id").aggregate(
        total=hours.n.sum(),
        **{f"hour_{h}": ibis.ifelse(hours.hour == h, hours.n, 0).sum() for h in range(24)},
    )
    windows = [
        sum(
            (by_hour[f"hour_{(start + k) % 24}"] for k in range(1, QUIET_HOURS)),
            by_hour[f"hour_{start}"],
        )
        for start in range(24)
    ]
    quietest = ibis.least(*windows)
    return by_hour.select("account_id", quiet_share=quietest.cast("float64") / by_hour.total)


def _request_shape(exchanges: ir.Table) -> dict[str, ir.Value]:
    """Extraction parameters, conversation use and reasoning tokens: per-account reductions
    of ``exchanges``, computed in the pass of :func:`behaviour_features`."""
    single = exchanges.n_messages <= 1
    return {
        "strict_single_turn_share": single.cast("float64").mean(),
        "conversation_share": exchanges.conversation_id.notnull().cast("float64").mean(),
        "one_shot_share": (single & exchanges.conversation_id.isnull()).cast("float64").mean(),
        "mean_generated_tokens": (
            exchanges.output_tokens.fill_null(0) + exchanges.reasoning_tokens.fill_null(0)
        ).mean(),
        "mean_reasoning_tokens": exchanges.reasoning_tokens.fill_null(0).mean(),
        "median_output_tokens": exchanges.output_tokens.median(),
        "max_tokens_mean": exchanges.max_tokens.mean(),
        "big_max_tokens_share": (exchanges.max_tokens.fill_null(0) >= BIG_MAX_TOKENS)
        .cast("float64")
        .mean(),
        "high_effort_share": (exchanges.reasoning_effort.fill_null("") == "high")
        .cast("float64")
        .mean(),
        "multi_sample_share": (exchanges.n.fill_null(1) > 1).cast("float64").mean(),
    }


def _active_hours(exchanges: ir.Table) -> ir.Table:
    """UTC clock hours with traffic, from the per-hour counts behaviour_features reads."""
    return hourly_counts(exchanges).group_by("account_id").aggregate(active_hours=_.count())


def _address_prefixes(exchanges: ir.Table) -> ir.Table:
    """Distinct address prefixes (IPv4 /24, IPv6 first three groups; an address that is
    neither counts as itself), matched once per distinct (account, address)."""
    ips = client_ips(exchanges)
    ip = ips.client_ip
    v4 = ip.re_extract(r"^(\d+\.\d+\.\d+)\.\d+$", 1)
    v6 = ip.re_extract(r"^([0-9A-Fa-f]*:[0-9A-Fa-f]*:[0-9A-Fa-f]*)", 1)
    prefix = ibis.cases((v4 != "", v4), (v6 != "", v6), else_=ip)
    return ips.group_by("account_id").aggregate(distinct_prefixes=prefix.nunique())


def _fingerprint_text(exchanges: ir.Table) -> ir.StringValue:
    """The parameter tuple of each row as ``temperature|top_p|...`` (``-`` where absent)."""
    parts = [exchanges[name].cast("string").fill_null("-") for name in PARAM_FIELDS]
    text: ir.StringValue = parts[0]
    for part in parts[1:]:
        text = text.concat("|", part)
    return text


def _parameter_fingerprint(exchanges: ir.Table) -> ir.Table:
    """The account's most common parameter tuple (as text) and the share it covers.

    Ties go to the lexically first tuple so the result does not depend on the engine.
    The tuples are counted first and only the distinct ones written as text (an account
    sends few of them), then counted again by text, since two tuples can read the same (a
    missing value and the text ``-``).  Floats are grouped by their text: an engine groups
    -0.0 with 0.0, whose texts differ.
    """
    keys = {
        name: exchanges[name].cast("string") if exchanges[name].type().is_floating() else name
        for name in PARAM_FIELDS
    }
    tuples = exchanges.group_by("account_id", **keys).aggregate(uses=_.count())
    counted = (
        tuples.mutate(fingerprint=_fingerprint_text(tuples))
        .group_by(["account_id", "fingerprint"])
        .aggregate(n=_.uses.sum())
    )
    ranked = counted.mutate(
        rank=ibis.row_number().over(
            ibis.window(group_by="account_id", order_by=[ibis.desc("n"), "fingerprint"])
        ),
        total=_.n.sum().over(ibis.window(group_by="account_id")),
    )
    return ranked.filter(_.rank == 0).select(
        "account_id",
        param_fingerprint=_.fingerprint,
        param_fingerprint_share=_.n.cast("float64") / _.total,
    )


def _identity(exchanges: ir.Table) -> ir.StringColumn:
    """A request's identity: its ``organization_id``, or the account itself without one, so
    one company's several accounts share their product's instruction privately, while a
    fleet that hands one instruction to unrelated accounts does not."""
    return exchanges.organization_id.fill_null(exchanges.account_id)


def _own_value(rows: ir.Table, totals: ir.Table, name: str) -> ir.Table:
    """``<name>_share``: the share of each account's requests (``totals``) that carry its most
    used value of ``rows`` (columns ``account_id``, ``identity``, ``value``, ``n``
    requests), where no other identity sends that value (0 otherwise); and ``<name>``, that
    value where it is the account's own (null otherwise).  Ties go to the lexically first
    value, so the result does not depend on the engine."""
    owners = rows.group_by("value").aggregate(identities=_.identity.nunique())
    used = rows.group_by(["account_id", "value"]).aggregate(n=_.n.sum())
    ranked = used.mutate(
        rank=ibis.row_number().over(
            ibis.window(group_by="account_id", order_by=[ibis.desc("n"), "value"])
        )
    )
    top = ranked.filter(_.rank == 0).join(owners, "value")
    top = top.select("account_id", "n", "identities", "value")
    joined = totals.left_join(top, totals.account_id == top.account_id)
    own = joined.identities == 1
    share = ibis.ifelse(own, joined.n.cast("float64") / joined.total, 0.0).fill_null(0.0)
    return joined.select(
        joined.account_id,
        **{
            f"{name}_share": share,
            name: ibis.ifelse(own, joined.value, ibis.null("string")),
        },
    )


def _own_instruction(exchanges: ir.Table, totals: ir.Table) -> ir.Table:
    """``own_instruction_share`` and ``own_instruction``: the account's most common system
    prompt where no other identity sends it (:func:`_own_value`): an application's own
    standing instruction, which the prompt signals read on every request it wraps."""
    prompted = exchanges.filter(exchanges.system_prompt.notnull())
    rows = prompted.group_by(
        account_id=prompted.account_id,
        identity=_identity(prompted),
        value=prompted.system_prompt,
    ).aggregate(n=_.count())
    return _own_value(rows, totals, "own_instruction")


def _own_preamble(exchanges: ir.Table, prompts: ir.Table, totals: ir.Table) -> ir.Table:
    """``own_preamble_share`` and ``own_preamble``: the account's most common preamble where
    no other identity sends it (:func:`_own_value`): an application's own instruction written
    above every question in the user text, rather than into the system prompt.

    The preamble is the prompt's first paragraph, when a blank line sets it apart from what
    follows (a prompt of one paragraph has none): it stays the same while the questions
    below it change.  The prompt's wrapper does not serve here: a product that labels each
    question ("Student question:") has that label for its wrapper, shared with other
    products, and its instruction paragraph is read as part of the task.  Each distinct
    prompt is split once (``prompts``), not each request.

    The requests are joined to the opened prompts before they are counted: counting every
    request by (account, identity, prompt) first made 13.3M groups of 16M simulated
    exchanges, most of them of prompts without a preamble; on their 16M store this part
    alone took 12.0 s that way and 6.4 s this way (same rows).
    """
    cut = prompts.prompt_text.find("\n\n")
    opened = prompts.filter(cut > 0)
    opened = opened.select("pair_id", value=opened.prompt_text.substr(0, cut))
    sent = exchanges.select("account_id", "pair_id", identity=_identity(exchanges))
    rows = (
        sent.join(opened, "pair_id")
        .group_by(["account_id", "identity", "value"])
        .aggregate(n=_.count())
    )
    return _own_value(rows, totals, "own_preamble")


def strongest_signal(features: ir.Table) -> ir.FloatingColumn:
    """Each exchange's largest prompt-signal probability: how strongly it asks for any
    harvestable output (reasoning, reconstruction, grading, tool trajectory, rewrite)."""
    return ibis.greatest(*(features[f"p_{name}"] for name in SIGNALS)).cast("float64")


def asks_for_harvest(features: ir.Table) -> ir.BooleanColumn:
    """Whether an exchange carries any harvest signal (above :data:`SIGNAL_THRESHOLD`)."""
    return strongest_signal(features) > SIGNAL_THRESHOLD


def _signal_features(features: ir.Table) -> ir.Table:
    """Prompt-signal means, shares and counts, template and wrapper concentration, and the
    capability mix of an account's prompts, from ``exchange_features``."""
    aggregates: dict[str, ir.Value] = {"featured_exchanges": features.count()}
    for name in SIGNALS:
        column = features[f"p_{name}"].cast("float64")
        above = (column > SIGNAL_THRESHOLD).cast("int64")
        aggregates[f"mean_p_{name}"] = column.mean()
        aggregates[f"share_p_{name}"] = above.cast("float64").mean()
        aggregates[f"count_p_{name}"] = above.sum()
    aggregates["mean_p_any"] = strongest_signal(features).mean()
    aggregates["share_p_any"] = asks_for_harvest(features).cast("float64").mean()
    aggregates["count_p_any"] = asks_for_harvest(features).cast("int64").sum()
    for name in CAPABILITIES:
        aggregates[f"capability_{name}"] = (features.capability == name).cast("float64").mean()
    aggregates["distinct_templates"] = features.template_id.nunique()
    table = features.group_by("account_id").aggregate(**aggregates)
    # Per wrapper counts give the top wrapper's share and, counting the wrappers that are
    # not null, the distinct wrappers, without a second distinct count over every prompt.
    wrappers = features.group_by(["account_id", "wrapper_id"]).aggregate(n=_.count())
    top = wrappers.group_by("account_id").aggregate(
        distinct_wrappers=_.wrapper_id.count(), top_wrapper_n=_.n.max(), wrapper_total=_.n.sum()
    )
    top = top.select(
        "account_id",
        "distinct_wrappers",
        top_wrapper_share=_.top_wrapper_n.cast("float64") / _.wrapper_total,
    )
    return _join(table, top)


def account_expression(context: ScanContext) -> ir.Table:
    """The unexecuted per-account expression over the store's tables (see module doc)."""
    exchanges = context.con.table("exchanges")
    accounts = context.con.table("accounts") if _has_table(context, "accounts") else None
    shape = _request_shape(exchanges)
    # The request-shape reductions ride in behaviour_features' one pass over the exchanges;
    # ``columns`` keeps the frame's column order as it was when they were a separate table.
    table = behaviour_features(exchanges, accounts, extra=shape)
    columns = [c for c in table.columns if c not in shape]
    for part in (_burst_timing(exchanges), _quiet_hours(exchanges), _active_hours(exchanges)):
        table = _join(table, part)
        columns += [c for c in part.columns if c != "account_id"]
    columns += list(shape)
    totals = exchanges.group_by("account_id").aggregate(total=_.count())
    parts = [_address_prefixes(exchanges), _parameter_fingerprint(exchanges)]
    parts.append(_own_instruction(exchanges, totals))
    if _has_table(context, PROMPTS_TABLE) and "pair_id" in exchanges.columns:
        parts.append(_own_preamble(exchanges, context.con.table(PROMPTS_TABLE), totals))
    for part in parts:
        table = _join(table, part)
        columns += [c for c in part.columns if c != "account_id"]
    table = table.select(*columns)
    table = table.mutate(
        output_input_ratio=ibis.ifelse(
            _.sum_input_tokens > 0,
            _.sum_output_tokens.cast("float64") / _.sum_input_tokens,
            None,
        ),
        span_days=_.last_ts.delta(_.first_ts, unit="microsecond").cast("float64") / MICROS_PER_DAY,
    )
    if _has_table(context, "exchange_features"):
        table = _join(table, _signal_features(context.con.table("exchange_features")))
    return table.order_by("account_id")


def _build(context: ScanContext) -> pd.DataFrame:
    frame = utc_columns(context.con.to_pandas(account_expression(context)))
    if "account_age_days" not in frame.columns:
        frame["account_age_days"] = float("nan")
    for column in FEATURE_COLUMNS:
        if column not in frame.columns:
            frame[column] = float("nan")
    frame["exchanges"] = frame["exchanges"].astype("int64")
    return frame.set_index("account_id", drop=False)


def account_frame(context: ScanContext) -> pd.DataFrame:
    """One row per account (indexed by ``account_id``), built once per scan and cached.

    Columns: volume (``exchanges``, ``active_days``, ``active_hours``, ``peak_hour``,
    ``peak_day``, ``mean_per_active_day``, ``first_ts``, ``last_ts``, ``span_days``),
    timing (``burst_gap_cv``, ``regular_gap_share``, ``burst_gaps``, ``hour_entropy``,
    ``quiet_share``), request shape (``single_turn_share``, ``strict_single_turn_share``,
    ``conversation_share``, ``one_shot_share`` (single-turn and outside any named
    conversation), token means, ``mean_generated_tokens`` (output plus reasoning),
    ``median_output_tokens``, ``output_input_ratio``,
    ``max_tokens_mean``, ``big_max_tokens_share``, ``high_effort_share``,
    ``multi_sample_share``, ``param_fingerprint`` and its share, ``own_instruction_share``:
    requests under the account's own private system prompt, and ``own_preamble_share``:
    requests whose prompt opens with its own private paragraph, with their texts,
    ``own_instruction`` and ``own_preamble``, null where not private), infrastructure
    (``distinct_ips``, ``distinct_prefixes``, ``distinct_user_agents``, ``distinct_models``,
    ``top_model_share``), ``account_age_days`` and the :data:`FEATURE_COLUMNS`.
    """
    return context.frame(FRAME_NAME, _build)
