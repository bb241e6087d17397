"""Model releases, found in the data: a model that first appears well after the window
starts and then carries real traffic from several accounts.

A provider knows its release dates, but a scan of someone's logs may not; and what the
pivot detector needs is when the model became *reachable in this traffic*, which is the
first request on it.  Models present from the start (or nearly) are not releases: their
"first seen" is only where the logs begin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from ibis import _

from distillguard.detectors.context import ScanContext


@dataclass(frozen=True)
class Release:
    """A model and the time of its first request in the data (UTC)."""

    model: str
    first_seen: datetime


@dataclass(frozen=True)
class ReleaseRules:
    """When a newly seen model counts as a release."""

    min_hours_after_start: float = 48.0
    """First request at least this long after the window's first request."""
    min_exchanges: int = 50
    min_accounts: int = 3
    min_share_after: float = 0.02
    """Share of all traffic from its first request on that the model carries."""

    def __post_init__(self) -> None:
        if self.min_hours_after_start < 0 or self.min_exchanges < 1 or self.min_accounts < 1:
            raise ValueError("release rules: hours must be ≥ 0, counts ≥ 1")
        if not 0.0 <= self.min_share_after <= 1.0:
            raise ValueError("release rules: min_share_after must be in [0, 1]")


def _as_datetime(value: object) -> datetime:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    moment: datetime = stamp.to_pydatetime()
    return moment


def detect_releases(context: ScanContext, rules: ReleaseRules | None = None) -> list[Release]:
    """Releases in the scan's exchanges, oldest first (see :class:`ReleaseRules`)."""
    rules = rules or ReleaseRules()
    exchanges = context.con.table("exchanges")
    start_value = context.con.execute(exchanges.ts.min())
    if start_value is None or pd.isna(start_value):
        return []
    window_start = _as_datetime(start_value)
    models = context.con.to_pandas(
        exchanges.group_by("model").aggregate(
            first_seen=_.ts.min(), exchanges=_.count(), accounts=_.account_id.nunique()
        )
    )
    earliest = window_start + timedelta(hours=rules.min_hours_after_start)
    releases: list[Release] = []
    for row in models.sort_values(["first_seen", "model"]).itertuples(index=False):
        first_seen = _as_datetime(row.first_seen)
        if first_seen < earliest:
            continue
        if int(row.exchanges) < rules.min_exchanges or int(row.accounts) < rules.min_accounts:
            continue
        after = int(context.con.execute(exchanges.filter(exchanges.ts >= first_seen).count()))
        if after == 0 or int(row.exchanges) / after < rules.min_share_after:
            continue
        releases.append(Release(model=str(row.model), first_seen=first_seen))
    return releases
