"""DG-204 new account at volume: signed up, and at full volume straight away.

Campaigns open fresh accounts (and replace banned ones) and use them hard from the first
day; a genuine customer's first days are usually exploratory.  Education cohorts also
sign up together, but send a few requests a day.  Needs ``accounts.created_at``; accounts
without a sign-up time are skipped.

    youth    = 1 − ramp(age, young_days, old_days)
    strength = youth × log_ramp(mean_per_active_day, min_per_day, full_per_day)
                     × log_ramp(exchanges, min_exchanges, full_exchanges)

``age`` is the age of the account's identity at its first request in the data: the
account's own (``account_age_days``), or its organisation's where it declares one whose
first account signed up earlier.  A seat added to an established customer is not a fresh
identity: a labelling firm's 21-day-old seat, working at 43 requests a day from its first
day, went to `review` on DG-204 beside its rubric grading (DG-205 1.0 read only the seat's
age; held-out `hydra-proxy` 3102 with the shared datasets' development split).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from ibis import _

from distillguard.detectors.base import ATLAS, DetectorInfo, Evidence
from distillguard.detectors.behaviour.common import (
    check_range,
    check_unit,
    count,
    days,
    load_settings,
    log_ramp,
    ramp,
    rounded,
)
from distillguard.detectors.behaviour.frame import account_frame
from distillguard.detectors.context import ScanContext

INFO = DetectorInfo(
    id="DG-204",
    version="1.1",
    name="new account at volume",
    description="An account that sends at high volume within days of signing up.",
    family="behaviour",
    atlas=(ATLAS["establish_accounts"],),
)


@dataclass(frozen=True)
class Settings:
    """An account is fully "young" for its first ``young_days`` and no longer after
    ``old_days``; the volume ramps are per active day and in total."""

    young_days: float = 3.0
    old_days: float = 30.0
    min_per_day: float = 10.0
    full_per_day: float = 60.0
    min_exchanges: float = 20.0
    full_exchanges: float = 100.0
    emit_above: float = 0.05

    def __post_init__(self) -> None:
        check_range(INFO.id, "age days", self.young_days, self.old_days)
        check_range(INFO.id, "per_day", self.min_per_day, self.full_per_day)
        check_range(INFO.id, "exchanges", self.min_exchanges, self.full_exchanges)
        if self.min_per_day <= 0 or self.min_exchanges <= 0:
            raise ValueError(f"{INFO.id}: volume thresholds must be positive")
        check_unit(INFO.id, "emit_above", self.emit_above)


def detect(context: ScanContext) -> list[Evidence]:
    """Evidence for each young account that is already sending at volume."""
    settings = load_settings(Settings, INFO.id, context.settings(INFO.id))
    frame = account_frame(context)
    frame = frame[frame["account_age_days"].notna()]
    if frame.empty:
        return []
    identity_ages = np.fmax(
        frame["account_age_days"].to_numpy(dtype=np.float64),
        organisation_age(context, frame),
    )
    youth = 1.0 - ramp(np.clip(identity_ages, 0.0, None), settings.young_days, settings.old_days)
    strength = (
        youth
        * log_ramp(frame["mean_per_active_day"], settings.min_per_day, settings.full_per_day)
        * log_ramp(frame["exchanges"], settings.min_exchanges, settings.full_exchanges)
    )
    evidence: list[Evidence] = []
    rows = zip(
        frame.itertuples(index=False), strength.tolist(), identity_ages.tolist(), strict=True
    )
    for row, value, identity_age in rows:
        if value <= settings.emit_above:
            continue
        age = max(float(row.account_age_days), 0.0)
        identity = max(float(identity_age), 0.0)
        evidence.append(
            Evidence(
                detector=INFO.id,
                family=INFO.family,
                subject=str(row.account_id),
                strength=rounded(value),
                summary=(
                    f"first request {days(age)} after sign-up, then {count(row.exchanges)} "
                    f"requests on {int(row.active_days)} active days "
                    f"({count(row.mean_per_active_day)} a day, peak {count(row.peak_hour)} "
                    f"in one hour)"
                ),
                details={
                    "account_age_days": rounded(age),
                    "identity_age_days": rounded(identity),
                    "exchanges": int(row.exchanges),
                    "active_days": int(row.active_days),
                    "mean_per_active_day": rounded(row.mean_per_active_day),
                    "peak_hour": int(row.peak_hour),
                },
            )
        )
    return evidence


def organisation_age(context: ScanContext, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
    """Per frame row: days from the first sign-up among the accounts of the account's
    declared organisation to the account's first request; NaN without an organisation, a
    sign-up time or an ``accounts`` table."""
    missing = np.full(len(frame), np.nan)
    if "accounts" not in context.con.list_tables() or "first_ts" not in frame.columns:
        return missing
    accounts = context.con.table("accounts")
    if not {"organization_id", "created_at", "account_id"} <= set(accounts.columns):
        return missing
    declared = accounts.filter(accounts.organization_id.notnull() & accounts.created_at.notnull())
    founded = declared.group_by("organization_id").aggregate(founded=declared.created_at.min())
    seats = (
        declared.select("account_id", "organization_id")
        .join(founded, "organization_id")
        .group_by("account_id")
        .aggregate(founded=_.founded.min())
    )
    table = context.con.to_pandas(seats)
    if table.empty:
        return missing
    founded_at = pd.to_datetime(table.set_index("account_id")["founded"], utc=True)
    first = pd.to_datetime(frame["first_ts"], utc=True)
    start = founded_at.reindex(frame["account_id"].astype(str)).to_numpy()
    days = (first.to_numpy() - start) / np.timedelta64(1, "D")
    return np.asarray(days, dtype=np.float64)
