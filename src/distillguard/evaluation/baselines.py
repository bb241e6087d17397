"""The baseline detectors, behind one interface, written as contract results.

Baselines are the yardstick's lower bar: what a provider gets today from a rate
limiter or an off-the-shelf anomaly detector.  Each one reads the store's ``exchanges``
(and ``accounts`` when it holds sign-up times) through Ibis and writes a results
directory exactly as a scan does, so ``distillguard evaluate`` scores them the same way.
"""

from __future__ import annotations

import time
import typing
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from distillguard.errors import UserError
from distillguard.evaluation import isolation_forest, rate_limit
from distillguard.evaluation.run import BaselineRun
from distillguard.results.writer import write_results


@dataclass(frozen=True)
class Baseline:
    """A registered baseline: its name, version, default parameters and runner."""

    name: str
    version: str
    description: str
    defaults: Any
    run: Callable[[ir.Table, ir.Table | None, Any], BaselineRun]


BASELINES: dict[str, Baseline] = {
    rate_limit.NAME: Baseline(
        rate_limit.NAME,
        rate_limit.VERSION,
        "per-account volume against tier limits (requests per hour, per day, in total)",
        rate_limit.RateLimitParams(),
        rate_limit.run_rate_limit,
    ),
    isolation_forest.NAME: Baseline(
        isolation_forest.NAME,
        isolation_forest.VERSION,
        "IsolationForest over per-account behaviour features, verdicts by rank",
        isolation_forest.IsolationForestParams(),
        isolation_forest.run_isolation_forest,
    ),
}


def get_baseline(name: str) -> Baseline:
    """The registered baseline called ``name``; a ``UserError`` listing them otherwise."""
    if name not in BASELINES:
        raise UserError(f"unknown baseline {name!r}; choose one of: {', '.join(BASELINES)}")
    return BASELINES[name]


def parse_params(defaults: Any, pairs: typing.Sequence[str]) -> Any:
    """Apply ``key=value`` overrides to a parameters dataclass, checking names and values."""
    hints = typing.get_type_hints(type(defaults))
    known = {f.name for f in fields(defaults)}
    changes: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or key not in known:
            raise UserError(
                f"--param {pair!r}: expected NAME=VALUE with NAME one of {', '.join(sorted(known))}"
            )
        kind = hints[key]
        try:
            changes[key] = kind(text.strip())
        except ValueError:
            raise UserError(f"--param {key}: {text!r} is not a valid {kind.__name__}") from None
    params = replace(defaults, **changes)
    problems = params.problems()
    if problems:
        raise UserError("invalid --param: " + "; ".join(problems))
    return params


def _accounts_with_signup(con: BaseBackend) -> ir.Table | None:
    """The ``accounts`` table when present and holding at least one sign-up time."""
    if "accounts" not in con.list_tables():
        return None
    accounts = con.table("accounts")
    if "created_at" not in accounts.columns:
        return None
    known = accounts.created_at.notnull().sum().to_pyarrow().as_py()
    return accounts if known else None


def run_baseline(
    name: str, con: BaseBackend, out_dir: Path, param_pairs: typing.Sequence[str] = ()
) -> dict[str, Any]:
    """Run a baseline over the store behind ``con`` and write its results to ``out_dir``.

    Returns the summary written to ``summary.json``: the baseline's name, version and
    parameters, the exchange count and the wall time of each stage.
    """
    baseline = get_baseline(name)
    params = parse_params(baseline.defaults, param_pairs)
    if "exchanges" not in con.list_tables():
        raise UserError("the store has no exchanges table: run `distillguard ingest` first")
    exchanges = con.table("exchanges")
    if not exchanges.count().to_pyarrow().as_py():
        raise UserError("the store holds no exchanges: run `distillguard ingest` first")
    started = time.perf_counter()
    run = baseline.run(exchanges, _accounts_with_signup(con), params)
    stages = dict(run.stage_seconds)
    stages["total"] = time.perf_counter() - started
    summary: dict[str, Any] = {
        "baseline": {
            "name": baseline.name,
            "version": baseline.version,
            "description": baseline.description,
            "parameters": asdict(params),
        },
        "engine": {"backend": con.name, "ibis": ibis.__version__},
        "counts": {"exchanges": run.exchanges},
        "wall_time_s": stages,
    }
    return write_results(out_dir, run.accounts, [], summary)


def describe_parameters(baseline: Baseline) -> Mapping[str, Any]:
    """Default parameters of a baseline, for help texts."""
    return asdict(baseline.defaults)
