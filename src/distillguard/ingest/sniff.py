"""``--format auto``: tell contract, OTel and LiteLLM files apart from their first record.

Parquet files are contract files.  For JSON Lines the first non-blank line decides:
``resourceSpans``/``resourceLogs`` mean OTLP JSON, ``exchange_id``/``account_id`` with
``timestamp`` mean the contract, and LiteLLM's own keys (``request_id``,
``standard_logging_object``, or ``startTime`` with ``model_parameters``/``call_type``/
``id``) mean LiteLLM.  Anything else is read as the contract, whose validation then names
the missing fields — a more useful message than "unknown format".
"""

from __future__ import annotations

from pathlib import Path

from distillguard.ingest.jsonlines import decode_object
from distillguard.ingest.source import PARQUET_MAGIC, iter_lines, read_head

CONTRACT = "contract"
OTEL = "otel"
LITELLM = "litellm"
FORMATS = (CONTRACT, OTEL, LITELLM)
_LITELLM_HINTS = ("model_parameters", "call_type", "id")


def sniff_format(path: Path) -> str:
    """The format of one file: ``contract``, ``otel`` or ``litellm``."""
    if read_head(path, 4) == PARQUET_MAGIC:
        return CONTRACT
    lines = iter_lines(path)
    try:
        first = next(lines, None)
    finally:
        lines.close()
    if first is None or first.problem is not None:
        return CONTRACT
    raw = first.raw if isinstance(first.raw, bytes) else b""
    record = decode_object(first).record
    if record is None:
        # A pretty-printed OTLP document starts with a lone "{" line.
        return OTEL if raw.strip() == b"{" and _mentions_otlp(path) else CONTRACT
    return format_of_record(record)


def format_of_record(record: dict[str, object]) -> str:
    """The format a decoded first record belongs to."""
    if "resourceSpans" in record or "resourceLogs" in record:
        return OTEL
    if "exchange_id" in record:
        return CONTRACT
    if "request_id" in record or "standard_logging_object" in record:
        return LITELLM
    if "startTime" in record and any(key in record for key in _LITELLM_HINTS):
        return LITELLM
    return CONTRACT


def _mentions_otlp(path: Path) -> bool:
    for item in iter_lines(path):
        raw = item.raw if isinstance(item.raw, bytes) else b""
        if b'"resourceSpans"' in raw or b'"resourceLogs"' in raw:
            return True
        if item.line > 50:
            return False
    return False
