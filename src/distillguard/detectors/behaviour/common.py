"""Shared pieces of the behaviour and drift detectors: settings loading, strength ramps
and the number formats their summaries use.

Strengths are built from *ramps*: 0 below a low threshold, 1 above a high one, linear in
between (on a log scale for volumes, which span orders of magnitude).  A ramp is monotone
and never a hard 0/1 step, so a slightly smaller number never gives a larger strength, and
an account just past a threshold gets weak evidence rather than a verdict.  Conditions that
must hold together (high volume *and* single-turn *and* long answers) are multiplied.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from distillguard.errors import UserError

SettingsT = TypeVar("SettingsT")


def load_settings(cls: type[SettingsT], detector_id: str, values: Mapping[str, Any]) -> SettingsT:
    """Build a detector's settings dataclass from its configuration, defaults elsewhere.

    Unknown keys are an error (a misspelt threshold must not silently keep its default);
    each dataclass validates its own ranges in ``__post_init__``.
    """
    if not is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a settings dataclass")
    known = {item.name for item in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise UserError(
            f"{detector_id}: unknown setting(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    try:
        return cls(**dict(values))
    except (TypeError, ValueError) as error:
        raise UserError(f"{detector_id}: invalid settings: {error}") from error


def check_range(detector_id: str, name: str, low: float, high: float) -> None:
    """A ramp needs ``low < high``; raise a clear error otherwise."""
    if not low < high:
        raise ValueError(f"{detector_id}: {name} needs low < high, got {low} and {high}")


def check_unit(detector_id: str, name: str, value: float) -> None:
    """Weights, caps and shares live in [0, 1]."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{detector_id}: {name} must be in [0, 1], got {value}")


def ramp(values: pd.Series | np.ndarray | float, low: float, high: float) -> np.ndarray:
    """0 at or below ``low``, 1 at or above ``high``, linear between; missing values give 0."""
    array = np.asarray(values, dtype=float)
    out = np.clip((array - low) / (high - low), 0.0, 1.0)
    return np.nan_to_num(out, nan=0.0)


def log_ramp(values: pd.Series | np.ndarray | float, low: float, high: float) -> np.ndarray:
    """:func:`ramp` on log10 of the values (for counts that span orders of magnitude)."""
    array = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        logged = np.log10(np.where(array > 0, array, np.nan))
    return ramp(logged, math.log10(low), math.log10(high))


def rounded(value: float) -> float:
    """Strengths and details are rounded so output files do not churn in the last digits."""
    return round(float(value), 4)


def count(value: float) -> str:
    """1204 -> '1,204'."""
    return f"{round(float(value)):,}"


def percent(share: float) -> str:
    """0.973 -> '97%'."""
    return f"{100.0 * float(share):.0f}%"


def days(value: float) -> str:
    """Days in words, 1 decimal under 10 days."""
    value = float(value)
    return f"{value:.1f} days" if value < 10 else f"{value:.0f} days"
