"""Timestamps read back from any engine, as UTC with a zone.

The canonical tables keep timestamps in UTC (schema/tables.py).  DuckDB hands them back
with their zone; Spark's TIMESTAMP comes back without one (it is in the session's zone,
which distillguard sets to UTC).  Code that turns query results into datetimes goes
through here, so a result does not depend on the engine that produced it.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

RESOLUTION = "datetime64[us, UTC]"
"""The canonical tables' resolution (microseconds), with the zone."""


def as_utc(value: object) -> datetime:
    """One timestamp as an aware UTC datetime (a zone-less one is taken to be UTC)."""
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    moment: datetime = stamp.to_pydatetime()
    return moment


def utc_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every datetime column as UTC microseconds (zone-less ones taken as UTC)."""
    for name in frame.columns:
        column = frame[name]
        if not pd.api.types.is_datetime64_any_dtype(column):
            continue
        if column.dt.tz is None:
            column = column.dt.tz_localize("UTC")
        frame[name] = column.dt.tz_convert("UTC").astype(RESOLUTION)
    return frame
