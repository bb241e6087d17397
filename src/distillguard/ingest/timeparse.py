"""Contract timestamps -> microseconds since the epoch, UTC.

The contract allows an RFC 3339 string or epoch seconds.  Decisions, so that the same
input always means the same instant:

* strings without an offset are taken as UTC (the contract says timestamps are UTC, and
  many exporters drop the ``Z``); a date without a time of day is rejected;
* numbers are seconds; values that only make sense as milliseconds, microseconds or
  nanoseconds are rejected with the unit they most likely are, rather than guessed;
* ``datetime`` objects (Parquet timestamp columns) are accepted; naive ones are UTC;
* instants before 1970 or after 2100 are rejected: they are corrupt data, not traffic.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_MAX_SECONDS = 4_102_444_800  # 2100-01-01T00:00:00Z
_MAX_US = _MAX_SECONDS * 1_000_000


class TimeError(ValueError):
    """The value is not a usable contract timestamp; the message says why."""


def parse_timestamp_us(value: object) -> int:
    """Return microseconds since the epoch (UTC) or raise :class:`TimeError`."""
    if type(value) is str:
        return _from_string(value)
    if type(value) is int and 0 <= value < _MAX_SECONDS:
        return value * 1_000_000
    if isinstance(value, bool):
        raise TimeError("expected an RFC 3339 string or epoch seconds, got a boolean")
    if isinstance(value, int | float):
        return _from_seconds(value)
    if isinstance(value, datetime):
        return _from_datetime(value)
    raise TimeError(f"expected an RFC 3339 string or epoch seconds, got {type(value).__name__}")


def us_from_unix_nanos(nanos: int) -> int:
    """OTLP ``*TimeUnixNano`` -> microseconds, with the same range check as the rest."""
    micros = nanos // 1000
    if not 0 <= micros < _MAX_US:
        raise TimeError(f"{nanos} ns since the epoch is outside 1970..2100")
    return micros


def _from_string(text: str) -> int:
    stripped = text.strip()
    if len(stripped) <= 10 or stripped[10] not in "Tt ":
        raise TimeError(f"{text[:40]!r} has no time of day; expected RFC 3339")
    try:
        parsed = datetime.fromisoformat(stripped)
    except ValueError:
        raise TimeError(f"{text[:40]!r} is not an RFC 3339 timestamp") from None
    return _from_datetime(parsed)


def _from_datetime(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    micros = (moment - _EPOCH) // _ONE_US
    if not 0 <= micros < _MAX_US:
        raise TimeError(f"{moment.isoformat()} is outside 1970..2100")
    return micros


def _from_seconds(seconds: float) -> int:
    if isinstance(seconds, float) and not math.isfinite(seconds):
        raise TimeError(f"{seconds} is not a finite number of epoch seconds")
    if seconds < 0:
        raise TimeError(f"{seconds} epoch seconds is before 1970")
    if seconds >= _MAX_SECONDS:
        raise TimeError(f"{seconds} is too large for epoch seconds{_unit_hint(seconds)}")
    if isinstance(seconds, int):
        return seconds * 1_000_000
    return round(seconds * 1_000_000)


def _unit_hint(value: float) -> str:
    for scale, unit in ((1e3, "milliseconds"), (1e6, "microseconds"), (1e9, "nanoseconds")):
        if value / scale < _MAX_SECONDS:
            return f"; it looks like epoch {unit}: divide by {int(scale)} or write RFC 3339"
    return "; expected seconds since 1970-01-01T00:00:00Z"
