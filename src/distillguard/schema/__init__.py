"""Canonical records, Arrow schemas, validation and versions."""

from distillguard.schema.tables import (
    ACCOUNT_SCHEMA,
    CONTRACT_VERSION,
    EXCHANGE_FEATURE_SCHEMA,
    EXCHANGE_SCHEMA,
    PROGRAMS,
    QUARANTINE_SCHEMA,
    STORE_SCHEMA_VERSION,
    VERDICTS,
    VERIFICATION_LEVELS,
)

__all__ = [
    "ACCOUNT_SCHEMA",
    "CONTRACT_VERSION",
    "EXCHANGE_FEATURE_SCHEMA",
    "EXCHANGE_SCHEMA",
    "PROGRAMS",
    "QUARANTINE_SCHEMA",
    "STORE_SCHEMA_VERSION",
    "VERDICTS",
    "VERIFICATION_LEVELS",
]
