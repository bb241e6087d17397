"""Baseline (b): a generic anomaly detector on per-account behaviour.

This is what a team would try first without distillation-specific signals: an
IsolationForest over volume, timing, request-shape and infrastructure features.  It
ranks accounts by how unusual they are, which catches loud harvesters but also flags
unusual yet legitimate customers (benchmark companies, labeling firms); the evaluation
shows both.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import ibis.expr.types as ir
import numpy as np

from distillguard.evaluation.account_features import behaviour_features
from distillguard.evaluation.run import BaselineRun
from distillguard.results.model import AccountResult, Reason

NAME = "isolation-forest"
VERSION = "1"
DETECTOR = "baseline.isolation-forest"
MIN_REASON_DEVIATION = 2.0
"""Robust z-score a feature must reach to be named as a reason."""


@dataclass(frozen=True)
class IsolationForestParams:
    """Model and verdict settings.

    ``contamination`` is the share of accounts called ``distillation`` (the most
    anomalous), ``review_share`` the share called ``review`` after them; both are cut by
    rank and rounded down, so a small population may get no verdict at all.
    """

    contamination: float = 0.01
    review_share: float = 0.04
    n_estimators: int = 200
    random_state: int = 0
    top_reasons: int = 3

    def problems(self) -> list[str]:
        """Why these parameters cannot be used (empty when they can)."""
        out = []
        if not 0 < self.contamination <= 0.5:
            out.append(f"contamination must be in (0, 0.5], got {self.contamination:g}")
        if not 0 <= self.review_share < 1 or self.contamination + self.review_share > 1:
            out.append(f"review_share must be in [0, 1 - contamination], got {self.review_share:g}")
        if self.n_estimators < 1:
            out.append(f"n_estimators must be >= 1, got {self.n_estimators}")
        if self.top_reasons < 0:
            out.append(f"top_reasons must be >= 0, got {self.top_reasons}")
        return out


def _num(value: float) -> str:
    value = float(value) + 0.0  # no "-0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


@dataclass(frozen=True)
class Feature:
    """One model input: how it is derived, shown, and transformed for the forest."""

    name: str
    describe: str  # "{value}" and "{typical}" are filled with formatted raw values
    derive: Callable[[dict[str, np.ndarray]], np.ndarray]
    fmt: Callable[[float], str] = _num
    log: bool = False


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


FEATURES = (
    Feature("volume", "{value} requests (typical {typical})", lambda c: c["exchanges"], log=True),
    Feature(
        "active_days", "active on {value} days (typical {typical})", lambda c: c["active_days"]
    ),
    Feature(
        "peak_hour",
        "peak {value} requests in one hour (typical {typical})",
        lambda c: c["peak_hour"],
        log=True,
    ),
    Feature(
        "gap_mean",
        "{value} s between requests on average (typical {typical} s)",
        lambda c: c["gap_mean"],
        log=True,
    ),
    Feature(
        "gap_cv",
        "timing regularity: gap variation {value} (typical {typical}; low means scripted)",
        lambda c: _ratio(c["gap_std"], c["gap_mean"]),
    ),
    Feature(
        "hour_entropy",
        "hour-of-day spread {value} nats (typical {typical}; high means around the clock)",
        lambda c: c["hour_entropy"],
    ),
    Feature(
        "single_turn_share",
        "{value} single-turn requests (typical {typical})",
        lambda c: c["single_turn_share"],
        fmt=_pct,
    ),
    Feature(
        "mean_input_tokens",
        "{value} input tokens per request (typical {typical})",
        lambda c: c["mean_input_tokens"],
        log=True,
    ),
    Feature(
        "mean_output_tokens",
        "{value} output tokens per request (typical {typical})",
        lambda c: c["mean_output_tokens"],
        log=True,
    ),
    Feature(
        "output_input_ratio",
        "{value} output tokens per input token (typical {typical})",
        lambda c: _ratio(c["sum_output_tokens"], np.maximum(c["sum_input_tokens"], 1)),
        log=True,
    ),
    Feature(
        "max_tokens_share",
        "max_tokens set on {value} of requests (typical {typical})",
        lambda c: c["max_tokens_share"],
        fmt=_pct,
    ),
    Feature("distinct_ips", "{value} client IPs (typical {typical})", lambda c: c["distinct_ips"]),
    Feature(
        "distinct_user_agents",
        "{value} user agents (typical {typical})",
        lambda c: c["distinct_user_agents"],
    ),
    Feature(
        "distinct_models", "{value} models (typical {typical})", lambda c: c["distinct_models"]
    ),
    Feature(
        "top_model_share",
        "{value} of traffic on one model (typical {typical})",
        lambda c: c["top_model_share"],
        fmt=_pct,
    ),
)

ACCOUNT_AGE = Feature(
    "account_age_days",
    "first request {value} days after sign-up (typical {typical})",
    lambda c: c["account_age_days"],
)


def _fill(values: np.ndarray) -> np.ndarray:
    """Replace missing values with the column median (0 when the column has none)."""
    finite = values[np.isfinite(values)]
    fill = float(np.median(finite)) if finite.size else 0.0
    return np.where(np.isfinite(values), values, fill)


def robust_z(matrix: np.ndarray) -> np.ndarray:
    """Per-column (x - median) / (1.4826 · MAD), falling back to the standard deviation
    where most accounts share one value; constant columns give 0."""
    median = np.median(matrix, axis=0)
    scale = 1.4826 * np.median(np.abs(matrix - median), axis=0)
    std = matrix.std(axis=0)
    scale = np.where(scale > 0, scale, std)
    return np.where(scale > 0, (matrix - median) / np.where(scale > 0, scale, 1), 0.0)


def rank_normalise(anomaly: np.ndarray) -> np.ndarray:
    """Average ranks mapped to [0, 1]: 0 for the least, 1 for the most anomalous."""
    if anomaly.size <= 1:
        return np.zeros_like(anomaly, dtype=float)
    from scipy.stats import rankdata

    return (np.asarray(rankdata(anomaly, method="average")) - 1.0) / (anomaly.size - 1)


def _verdicts(order: np.ndarray, n: int, params: IsolationForestParams) -> list[str]:
    n_distillation = math.floor(params.contamination * n + 1e-9)
    n_flagged = math.floor((params.contamination + params.review_share) * n + 1e-9)
    verdicts = ["benign"] * n
    for position, index in enumerate(order):
        if position < n_distillation:
            verdicts[index] = "distillation"
        elif position < n_flagged:
            verdicts[index] = "review"
    return verdicts


def run_isolation_forest(
    exchanges: ir.Table, accounts: ir.Table | None, params: IsolationForestParams
) -> BaselineRun:
    """Aggregate features in the engine, fit the forest in memory, rank and explain."""
    started = time.perf_counter()
    table = behaviour_features(exchanges, accounts).order_by("account_id").to_pyarrow()
    features_s = time.perf_counter() - started
    started = time.perf_counter()
    ids = table.column("account_id").to_pylist()
    columns = {
        name: np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=float)
        for name in table.column_names
        if name not in ("account_id", "first_ts", "last_ts")
    }
    features = list(FEATURES)
    if "account_age_days" in columns and np.isfinite(columns["account_age_days"]).any():
        features.append(ACCOUNT_AGE)
    raw = np.column_stack([_fill(f.derive(columns)) for f in features])
    model_input = np.column_stack(
        [np.log1p(np.maximum(raw[:, j], 0)) if f.log else raw[:, j] for j, f in enumerate(features)]
    )

    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(
        n_estimators=params.n_estimators, random_state=params.random_state, n_jobs=1
    )
    forest.fit(model_input)
    anomaly = -forest.score_samples(model_input)
    scores = rank_normalise(anomaly)
    order = np.array(sorted(range(len(ids)), key=lambda i: (-anomaly[i], ids[i])), dtype=int)
    verdicts = _verdicts(order, len(ids), params)

    deviation = robust_z(model_input)
    typical = np.median(raw, axis=0)
    results = []
    for i, account_id in enumerate(ids):
        strongest = np.argsort(-np.abs(deviation[i]), kind="stable")[: params.top_reasons]
        reasons = [
            Reason(
                DETECTOR,
                features[j].describe.format(
                    value=features[j].fmt(raw[i, j]), typical=features[j].fmt(typical[j])
                ),
                abs(deviation[i, j]) / (1.0 + abs(deviation[i, j])),
            )
            for j in strongest
            if abs(deviation[i, j]) >= MIN_REASON_DEVIATION
        ]
        results.append(AccountResult(account_id, float(scores[i]), verdicts[i], None, reasons))
    return BaselineRun(
        accounts=results,
        exchanges=int(columns["exchanges"].sum()),
        stage_seconds={"features": features_s, "scoring": time.perf_counter() - started},
    )
