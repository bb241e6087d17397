"""Typed reasons a record cannot be loaded.

Every rejected record ends up in the quarantine file with one of these, so the reasons
must name the field at fault and say what was expected; the short ``kind`` codes feed
the reasons histogram of the ingest report, where free text would not group.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One broken field of one record: ``kind`` groups, ``reason`` explains."""

    field: str
    kind: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class RecordInvalid(ValueError):
    """A record breaks the contract; carries every error found, not just the first."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors

    @property
    def field(self) -> str:
        """The fields at fault, comma-joined, for the quarantine's ``field`` column."""
        return ",".join(dict.fromkeys(error.field for error in self.errors))


# Record-level kinds (the record could not even be read as an object).
INVALID_JSON = "invalid_json"
INVALID_UTF8 = "invalid_utf8"
NOT_AN_OBJECT = "not_an_object"
GZIP_TRUNCATED = "gzip_truncated"
DUPLICATE = "duplicate"
ORPHAN_EVENT = "orphan_event"

# Field-level kinds.
MISSING = "missing"
WRONG_TYPE = "wrong_type"
BAD_TIME = "bad_time"
BAD_VALUE = "bad_value"
