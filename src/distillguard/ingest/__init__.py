"""Ingestion: read contract, OpenTelemetry GenAI and LiteLLM logs into the canonical
tables, validating every record and quarantining, with its reason, each one that fails.

Public entry points: :func:`ingest_files` (the driver), :func:`validate_exchange` and
:func:`validate_account` (one record -> one canonical row), :func:`sniff_format`.
"""

from distillguard.ingest.pipeline import ingest_files
from distillguard.ingest.problems import FieldError, RecordInvalid
from distillguard.ingest.report import AccountingError, FileReport, IngestReport
from distillguard.ingest.sniff import FORMATS, sniff_format
from distillguard.ingest.validate import (
    ACCOUNT_ROW_FIELDS,
    EXCHANGE_ROW_FIELDS,
    validate_account,
    validate_exchange,
)

__all__ = [
    "ACCOUNT_ROW_FIELDS",
    "EXCHANGE_ROW_FIELDS",
    "FORMATS",
    "AccountingError",
    "FieldError",
    "FileReport",
    "IngestReport",
    "RecordInvalid",
    "ingest_files",
    "sniff_format",
    "validate_account",
    "validate_exchange",
]
