"""The contract's scan outputs: typed records, their writer and their reader."""

from distillguard.results.model import (
    FLAGGED_VERDICTS,
    AccountResult,
    ClusterResult,
    Indicator,
    Reason,
)
from distillguard.results.reader import Results, read_results
from distillguard.results.writer import write_results

__all__ = [
    "FLAGGED_VERDICTS",
    "AccountResult",
    "ClusterResult",
    "Indicator",
    "Reason",
    "Results",
    "read_results",
    "write_results",
]
