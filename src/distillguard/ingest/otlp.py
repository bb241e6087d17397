"""OTLP/JSON encoding: AnyValue and attribute lists -> plain Python values.

In OTLP/JSON (the collector's file exporter, ``otlpjsonfile``) every attribute is
``{"key": k, "value": AnyValue}`` where AnyValue holds exactly one of ``stringValue``,
``boolValue``, ``intValue`` (a decimal string, since JSON numbers lose 64-bit
precision, though some writers emit a number), ``doubleValue`` (``"NaN"``/``"Infinity"``
as strings), ``arrayValue.values``, ``kvlistValue.values`` or ``bytesValue`` (base64).
Span and log times are ``*TimeUnixNano`` decimal strings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def any_value(value: Any) -> Any:
    """Decode one AnyValue; unknown shapes come back as they are."""
    if not isinstance(value, dict):
        return value
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        number = value["intValue"]
        if isinstance(number, str):
            try:
                return int(number)
            except ValueError:
                return number
        return number
    if "doubleValue" in value:
        number = value["doubleValue"]
        if isinstance(number, str):
            try:
                return float(number)
            except ValueError:
                return number
        return number
    if "boolValue" in value:
        return value["boolValue"]
    if "arrayValue" in value:
        array = value["arrayValue"] or {}
        return [any_value(item) for item in array.get("values") or ()]
    if "kvlistValue" in value:
        kvlist = value["kvlistValue"] or {}
        return attributes(kvlist.get("values"))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def attributes(items: Any) -> dict[str, Any]:
    """``[{key, value: AnyValue}]`` -> ``{key: value}``; malformed entries are skipped."""
    result: dict[str, Any] = {}
    if not isinstance(items, list):
        return result
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            result[item["key"]] = any_value(item.get("value"))
    return result


def unix_nanos(value: Any) -> int | None:
    """A ``*TimeUnixNano`` field (string or number) -> int; None when absent, zero or bad."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and value > 0 else None


def iter_spans(document: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Yield ``(resource attributes, span)`` for every span of an OTLP traces document."""
    for resource_spans in _list(document.get("resourceSpans")):
        resource = attributes(_dict(resource_spans.get("resource")).get("attributes"))
        scopes = resource_spans.get("scopeSpans") or resource_spans.get(
            "instrumentationLibrarySpans"
        )
        for scope in _list(scopes):
            for span in _list(scope.get("spans")):
                yield resource, span


def iter_log_records(
    document: dict[str, Any],
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Yield ``(resource attributes, log record)`` for every record of an OTLP logs document."""
    for resource_logs in _list(document.get("resourceLogs")):
        resource = attributes(_dict(resource_logs.get("resource")).get("attributes"))
        scopes = resource_logs.get("scopeLogs") or resource_logs.get("instrumentationLibraryLogs")
        for scope in _list(scopes):
            for record in _list(scope.get("logRecords")):
                yield resource, record


def _list(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
