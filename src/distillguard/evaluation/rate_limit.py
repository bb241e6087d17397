"""Baseline (a): what a plain per-account rate limiter would catch.

Providers already enforce per-account tier limits; a distillation campaign that spreads
its harvest across thousands of accounts stays under them by design.  This baseline
measures exactly that: an account is flagged only for volume, against limits a real
provider might set, so the evaluation shows how much a volume-only defence misses.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import ibis.expr.types as ir

from distillguard.evaluation.account_features import volume_features
from distillguard.evaluation.run import BaselineRun
from distillguard.results.model import AccountResult, Reason

NAME = "rate-limit"
VERSION = "1"
DETECTOR = "baseline.rate-limit"

HARD_LIMIT_SCORE_BASE = 0.2
"""score = 1 - 0.2 ** (value / hard limit): 0 at no traffic, 0.8 at a hard limit, → 1."""


@dataclass(frozen=True)
class RateLimitParams:
    """Soft (review) and hard (distillation) limits per metric; exceeding means strictly above.

    Defaults follow common paid-tier limits: 600 requests/hour and 2,000 requests/day
    hard, half of that to ask for a review; a sustained 1,000 requests on every active
    day, and 50,000 requests over the whole period (a monthly quota).
    """

    hour_soft: float = 300
    hour_hard: float = 600
    day_soft: float = 1000
    day_hard: float = 2000
    mean_day_soft: float = 500
    mean_day_hard: float = 1000
    total_soft: float = 20000
    total_hard: float = 50000

    def problems(self) -> list[str]:
        """Why these parameters cannot be used (empty when they can)."""
        out = []
        values = asdict(self)
        for name, value in values.items():
            if value <= 0:
                out.append(f"{name} must be > 0, got {value:g}")
        for metric in ("hour", "day", "mean_day", "total"):
            soft, hard = values[f"{metric}_soft"], values[f"{metric}_hard"]
            if soft > hard:
                out.append(f"{metric}_soft ({soft:g}) must not exceed {metric}_hard ({hard:g})")
        return out


# metric column, params prefix, how a reason reads it, unit after the limit
_METRICS = (
    ("peak_hour", "hour", "peak {value} requests in one hour", "/h"),
    ("peak_day", "day", "peak {value} requests in one day", "/day"),
    ("mean_per_active_day", "mean_day", "{value} requests per active day on average", "/day"),
    ("exchanges", "total", "{value} requests in total", " total"),
)


def _n(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:,.1f}".removesuffix(".0")


def judge(row: dict[str, float], params: RateLimitParams) -> tuple[float, str, list[Reason]]:
    """Score, verdict and reasons of one account's volume metrics."""
    limits = asdict(params)
    ratio = 0.0
    verdict = "benign"
    reasons = []
    for column, prefix, text, unit in _METRICS:
        value = float(row[column])
        soft, hard = limits[f"{prefix}_soft"], limits[f"{prefix}_hard"]
        ratio = max(ratio, value / hard)
        weight = 1.0 - HARD_LIMIT_SCORE_BASE ** (value / hard)
        said = text.format(value=_n(value))
        if value > hard:
            verdict = "distillation"
            reasons.append(Reason(DETECTOR, f"{said}, above the {_n(hard)}{unit} limit", weight))
        elif value > soft:
            if verdict == "benign":
                verdict = "review"
            reasons.append(
                Reason(
                    DETECTOR,
                    f"{said}, above the {_n(soft)}{unit} review threshold (limit {_n(hard)}{unit})",
                    weight,
                )
            )
    return 1.0 - HARD_LIMIT_SCORE_BASE**ratio, verdict, reasons


def run_rate_limit(
    exchanges: ir.Table, accounts: ir.Table | None, params: RateLimitParams
) -> BaselineRun:
    """Aggregate volume per account in the engine, then judge each account against limits."""
    del accounts  # a rate limiter sees only traffic
    started = time.perf_counter()
    table = volume_features(exchanges).order_by("account_id").to_pyarrow()
    features_s = time.perf_counter() - started
    started = time.perf_counter()
    results = []
    for row in table.to_pylist():
        score, verdict, reasons = judge(row, params)
        results.append(AccountResult(row["account_id"], score, verdict, None, reasons))
    return BaselineRun(
        accounts=results,
        exchanges=int(sum(r["exchanges"] for r in table.select(["exchanges"]).to_pylist())),
        stage_seconds={"features": features_s, "scoring": time.perf_counter() - started},
    )
