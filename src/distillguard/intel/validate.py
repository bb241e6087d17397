"""Check a bundle with the OASIS STIX 2.1 validator before it leaves (or after it arrives).

The validator runs offline: its JSON schemas ship inside the package, and the checks that
would reach the network are not used (see docs/intel.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distillguard.errors import UserError


@dataclass(frozen=True)
class ValidationReport:
    """What the validator said: errors fail, warnings are shown."""

    valid: bool
    errors: list[str]
    warnings: list[str]


def validate_bundle(bundle: dict[str, Any]) -> ValidationReport:
    """Run stix2-validator (STIX 2.1, default checks) on one bundle."""
    from stix2validator import ValidationOptions, validate_instance

    options = ValidationOptions(version="2.1", silent=True)
    result = validate_instance(bundle, options)
    errors: list[str] = []
    warnings: list[str] = []
    for object_result in getattr(result, "object_results", None) or [result]:
        errors.extend(str(e.message) for e in getattr(object_result, "errors", []) or [])
        warnings.extend(str(w) for w in getattr(object_result, "warnings", []) or [])
    return ValidationReport(bool(result.is_valid), errors, warnings)


def require_valid(bundle: dict[str, Any], origin: str) -> ValidationReport:
    """Validate, and refuse an invalid bundle with the validator's first errors."""
    report = validate_bundle(bundle)
    if not report.valid:
        shown = "; ".join(report.errors[:5]) or "no detail given"
        raise UserError(
            f"{origin}: not a valid STIX 2.1 bundle ({shown}); check it with "
            "`stix2_validator` and fix or re-export it"
        )
    return report
