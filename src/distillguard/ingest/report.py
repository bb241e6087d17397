"""What an ingest run did, file by file: the numbers behind "nothing silently dropped"."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


class AccountingError(AssertionError):
    """loaded + quarantined != read: a bug in ingest, never a user's fault."""


@dataclass
class FileReport:
    """Counts for one input file.

    ``read`` counts records (non-blank lines, Parquet rows, GenAI spans and operation
    events); every one is either ``loaded`` or ``quarantined``.  ``skipped`` counts input
    items that are not records at all (non-GenAI spans, message events merged into their
    span), with the reason, so they are visible too.
    """

    path: str
    table: str
    format: str
    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    def check(self) -> None:
        """Raise AccountingError if a record went missing."""
        if self.loaded + self.quarantined != self.read:
            raise AccountingError(
                f"{self.path}: read {self.read} records but loaded {self.loaded} and "
                f"quarantined {self.quarantined}"
            )


@dataclass
class IngestReport:
    """Counts for a whole run; ``quarantine_path`` holds every rejected record."""

    files: list[FileReport]
    quarantine_path: Path
    seconds: float = 0.0

    def _total(self, table: str | None, attribute: str) -> int:
        return sum(
            getattr(report, attribute)
            for report in self.files
            if table is None or report.table == table
        )

    @property
    def read(self) -> int:
        """Records read, all files."""
        return self._total(None, "read")

    @property
    def loaded(self) -> int:
        """Records loaded, all files."""
        return self._total(None, "loaded")

    @property
    def quarantined(self) -> int:
        """Records quarantined, all files."""
        return self._total(None, "quarantined")

    def loaded_into(self, table: str) -> int:
        """Records loaded into one table (``exchanges`` or ``accounts``)."""
        return self._total(table, "loaded")

    def read_for(self, table: str) -> int:
        """Records read from the files of one table."""
        return self._total(table, "read")

    def quarantined_for(self, table: str) -> int:
        """Records of one table's files that went to quarantine."""
        return self._total(table, "quarantined")

    @property
    def reasons(self) -> Counter[str]:
        """Quarantine reasons over all files, as ``field: kind`` keys."""
        total: Counter[str] = Counter()
        for report in self.files:
            total.update(report.reasons)
        return total

    @property
    def skipped(self) -> Counter[str]:
        """Items that were not records, by reason, over all files."""
        total: Counter[str] = Counter()
        for report in self.files:
            total.update(report.skipped)
        return total
