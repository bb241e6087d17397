"""What a baseline hands back before it is written as a results directory."""

from __future__ import annotations

from dataclasses import dataclass

from distillguard.results.model import AccountResult


@dataclass(frozen=True)
class BaselineRun:
    """Per-account results of one baseline run, with its input size and stage timings."""

    accounts: list[AccountResult]
    exchanges: int
    stage_seconds: dict[str, float]
