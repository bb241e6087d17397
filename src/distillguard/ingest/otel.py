"""OpenTelemetry GenAI telemetry (OTLP/JSON) -> contract records.

One exchange is made from each span that carries ``gen_ai.*`` attributes, and from each
``gen_ai.client.inference.operation.details`` log event (which carries the same
attributes as the span).  Spans without ``gen_ai.*`` attributes (HTTP, database, …) are
not exchanges: they are counted in the report as skipped, never loaded.

Both the current semantic conventions and the deprecated ones are read:

* current: ``gen_ai.input.messages`` / ``gen_ai.output.messages`` /
  ``gen_ai.system_instructions`` / ``gen_ai.tool.definitions`` (JSON text or structured
  AnyValue; messages are ``{role, parts: [{type: text|tool_call|tool_call_response|…}]}``),
  ``gen_ai.usage.input_tokens``/``output_tokens``/``reasoning.output_tokens``, ``user.id``,
  ``http.response.status_code``;
* deprecated: ``gen_ai.prompt``/``gen_ai.completion`` (JSON text, or OpenLLMetry's
  indexed ``gen_ai.prompt.0.role``/``.content``), ``gen_ai.usage.prompt_tokens``/
  ``completion_tokens``, ``enduser.id``, ``gen_ai.system``, ``http.status_code``, and the
  event-based content — ``gen_ai.system.message``, ``gen_ai.user.message``,
  ``gen_ai.assistant.message``, ``gen_ai.tool.message``, ``gen_ai.choice`` — whether they
  arrive as span events or as log records; log records are joined to their span by
  ``traceId``/``spanId`` across all the files of a run (see :class:`OtelEventIndex`).

Mapping: ``exchange_id`` is ``gen_ai.response.id``, else ``<traceId>-<spanId>``;
``account_id`` is the first of :data:`DEFAULT_ACCOUNT_ATTRIBUTES` that is set (span
attributes over resource attributes); ``model`` is ``gen_ai.request.model``, else
``gen_ai.response.model``; ``timestamp`` is the span's ``startTimeUnixNano``.
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from distillguard.ingest.jsonlines import decode_object
from distillguard.ingest.openai_messages import convert_message, convert_messages, text_of
from distillguard.ingest.otlp import any_value, attributes, iter_log_records, iter_spans, unix_nanos
from distillguard.ingest.problems import INVALID_JSON, ORPHAN_EVENT, FieldError
from distillguard.ingest.source import (
    GZIP_MAGIC,
    ByteProgress,
    SourceRecord,
    iter_lines,
    no_progress,
    open_binary,
)

DEFAULT_ACCOUNT_ATTRIBUTES: tuple[str, ...] = ("user.id", "enduser.id")
DETAILS_EVENT = "gen_ai.client.inference.operation.details"
MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
CHOICE_EVENT = "gen_ai.choice"
_CONTENT_EVENTS = frozenset({*MESSAGE_EVENTS, CHOICE_EVENT})
_LEGACY_SPAN_EVENTS = {
    "gen_ai.content.prompt": "gen_ai.prompt",
    "gen_ai.content.completion": "gen_ai.completion",
}
SKIPPED_NOT_GENAI = "span without gen_ai.* attributes"
SKIPPED_OTHER_LOG = "log record that is not a GenAI event"
SKIPPED_JOINED = "gen_ai message event joined to its span"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NOT_OTLP = "not_otlp"


def missing_hints(account_attributes: Sequence[str]) -> dict[str, str]:
    """Words for validation errors: which OTel attributes were looked for."""
    return {
        "exchange_id": "span has no gen_ai.response.id and no traceId/spanId",
        "timestamp": "span has no startTimeUnixNano",
        "account_id": "span has none of the attributes " + ", ".join(account_attributes),
        "model": "span has neither gen_ai.request.model nor gen_ai.response.model",
        "messages": "span has no gen_ai.input.messages, gen_ai.prompt or message events",
    }


@dataclass(slots=True)
class GenAiEvent:
    """A message event, from a span event or a log record, waiting for its span."""

    time: int
    name: str
    body: dict[str, Any]
    source_file: str
    line: int
    raw: object


class OtelEventIndex:
    """Message-event log records of a run, keyed by ``(traceId, spanId)``.

    Event-based GenAI instrumentations log message content as log records that name
    their span; the collector writes logs and traces to different files.  One pre-pass
    over every OTel file (skipping lines without ``resourceLogs``) gathers these events,
    so spans can be completed in a streaming second pass.  Memory grows with the content
    carried by such events only.  Events no span claims are reported as orphans.
    """

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str], list[GenAiEvent]] = {}
        self.joined: Counter[str] = Counter()

    def add_file(self, path: Path) -> None:
        """Gather the message events of one file."""
        for item in iter_documents(path, must_contain=b"resourceLogs"):
            if item.record is None:
                continue  # the second pass reports it
            for _, record in iter_log_records(item.record):
                name = _event_name(record, attributes(record.get("attributes")))
                if name in _CONTENT_EVENTS:
                    key = (str(record.get("traceId") or ""), str(record.get("spanId") or ""))
                    event = GenAiEvent(
                        unix_nanos(record.get("timeUnixNano")) or 0,
                        name,
                        _event_body(record.get("body"), attributes(record.get("attributes"))),
                        str(path),
                        item.line,
                        record,
                    )
                    self._pending.setdefault(key, []).append(event)

    def claim(self, trace_id: str, span_id: str) -> list[GenAiEvent]:
        """The events logged for a span, removed from the index."""
        if not trace_id or not span_id:
            return []
        events = self._pending.pop((trace_id, span_id), [])
        for event in events:
            self.joined[event.source_file] += 1
        return events

    def orphans(self) -> Iterator[GenAiEvent]:
        """Events no span claimed (so far), in input order."""
        for events in self._pending.values():
            yield from events


def iter_documents(
    path: Path, progress: ByteProgress = no_progress, *, must_contain: bytes | None = None
) -> Iterator[SourceRecord]:
    """OTLP JSON documents: one per line, or one pretty-printed document per file.

    ``must_contain`` skips, before decoding, lines that cannot hold what the caller wants.
    """
    lines = iter_lines(path, progress)
    first = next(lines, None)
    if first is None:
        return
    decode_object(first)
    if _starts_multiline_document(first):
        whole = _read_document(path)
        if whole is not None:
            lines.close()
            yield whole
            return
    yield first
    for item in lines:
        if must_contain is None or must_contain in item.raw:  # type: ignore[operator]
            yield decode_object(item)


def _starts_multiline_document(first: SourceRecord) -> bool:
    if first.problem is None or first.problem.kind != INVALID_JSON:
        return False
    head = first.raw.strip() if isinstance(first.raw, bytes) else b""
    return head.startswith(b"{") and not head.endswith(b"}")


def _read_document(path: Path) -> SourceRecord | None:
    with open_binary(path) as handle:
        data = handle.read()
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            return None
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return SourceRecord(1, value, value) if isinstance(value, dict) else None


def read_otel(
    path: Path,
    progress: ByteProgress = no_progress,
    *,
    index: OtelEventIndex | None = None,
    skipped: Counter[str] | None = None,
    account_attributes: Sequence[str] = DEFAULT_ACCOUNT_ATTRIBUTES,
) -> Iterator[SourceRecord]:
    """Contract-shaped records from one OTLP JSON file.

    Without an ``index`` the file's own log records are joined to its spans; the ingest
    driver passes one index built over every OTel file of the run instead.
    """
    if index is None:
        index = OtelEventIndex()
        index.add_file(path)
    skipped = Counter() if skipped is None else skipped
    for item in iter_documents(path, progress):
        document = item.record
        if document is None:
            yield item
            continue
        if "resourceSpans" not in document and "resourceLogs" not in document:
            item.record = None
            item.problem = FieldError(
                "", _NOT_OTLP, "not an OTLP JSON document: no resourceSpans or resourceLogs"
            )
            yield item
            continue
        for resource, span in iter_spans(document):
            span_attributes = {**resource, **attributes(span.get("attributes"))}
            if not any(key.startswith("gen_ai.") for key in span_attributes):
                skipped[SKIPPED_NOT_GENAI] += 1
                continue
            trace_id, span_id = str(span.get("traceId") or ""), str(span.get("spanId") or "")
            events = _span_events(span, str(path), item.line) + index.claim(trace_id, span_id)
            record = to_contract(
                span_attributes,
                events,
                trace_id=trace_id,
                span_id=span_id,
                start_nanos=unix_nanos(span.get("startTimeUnixNano")),
                account_attributes=account_attributes,
            )
            record["span_name"] = span.get("name")
            yield SourceRecord(item.line, record, span)
        for resource, log_record in iter_log_records(document):
            log_attributes = {**resource, **attributes(log_record.get("attributes"))}
            name = _event_name(log_record, log_attributes)
            if name == DETAILS_EVENT:
                trace_id = str(log_record.get("traceId") or "")
                span_id = str(log_record.get("spanId") or "")
                record = to_contract(
                    log_attributes,
                    [],
                    trace_id=trace_id,
                    span_id=span_id,
                    start_nanos=unix_nanos(log_record.get("timeUnixNano"))
                    or unix_nanos(log_record.get("observedTimeUnixNano")),
                    account_attributes=account_attributes,
                )
                yield SourceRecord(item.line, record, log_record)
            elif name not in _CONTENT_EVENTS:
                skipped[SKIPPED_OTHER_LOG] += 1


def orphan_problem(event: GenAiEvent) -> FieldError:
    """Why a message event that no span claimed is quarantined."""
    trace_id = event.raw.get("traceId") if isinstance(event.raw, dict) else None
    span_id = event.raw.get("spanId") if isinstance(event.raw, dict) else None
    return FieldError(
        "spanId",
        ORPHAN_EVENT,
        f"{event.name} log record names traceId {trace_id!r} / spanId {span_id!r}, but no "
        "GenAI span with those ids was ingested; pass the traces file in the same run",
    )


def to_contract(
    attrs: dict[str, Any],
    events: list[GenAiEvent],
    *,
    trace_id: str,
    span_id: str,
    start_nanos: int | None,
    account_attributes: Sequence[str] = DEFAULT_ACCOUNT_ATTRIBUTES,
) -> dict[str, Any]:
    """Map GenAI attributes (+ message events) to one contract record."""
    get = attrs.get
    events = sorted(events, key=lambda event: event.time)
    response_text, output_finish = _output(attrs, events)
    finish_reasons = get("gen_ai.response.finish_reasons")
    if isinstance(finish_reasons, str):
        finish_reasons = _json(finish_reasons)
    finish = finish_reasons[0] if isinstance(finish_reasons, list) and finish_reasons else None
    exchange_id = get("gen_ai.response.id") or (
        f"{trace_id}-{span_id}" if trace_id and span_id else None
    )
    return {
        "exchange_id": exchange_id,
        "timestamp": _time(start_nanos),
        "account_id": next((get(key) for key in account_attributes if get(key)), None),
        "client_ip": get("client.address"),
        "user_agent": get("user_agent.original"),
        "model": get("gen_ai.request.model") or get("gen_ai.response.model"),
        "system_prompt": _system_prompt(attrs, events),
        "messages": _input_messages(attrs, events),
        "tools": _tools(get("gen_ai.tool.definitions")),
        "params": _params(attrs),
        "input_tokens": _first(attrs, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
        "output_tokens": _first(
            attrs, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"
        ),
        "reasoning_tokens": get("gen_ai.usage.reasoning.output_tokens"),
        "response_text": response_text,
        "finish_reason": finish if isinstance(finish, str) else output_finish,
        "conversation_id": get("gen_ai.conversation.id"),
        "status": _first(attrs, "http.response.status_code", "http.status_code"),
        "provider": get("gen_ai.provider.name") or get("gen_ai.system"),
        "operation": get("gen_ai.operation.name"),
        "response_model": get("gen_ai.response.model"),
        "trace_id": trace_id or None,
        "span_id": span_id or None,
    }


def _first(attrs: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if attrs.get(key) is not None:
            return attrs[key]
    return None


def _time(nanos: int | None) -> datetime | None:
    return None if nanos is None else _EPOCH + timedelta(microseconds=nanos // 1000)


def _json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _event_name(record: dict[str, Any], attrs: dict[str, Any]) -> str | None:
    name = record.get("eventName") or attrs.get("event.name")
    return name if isinstance(name, str) else None


def _event_body(body: Any, attrs: dict[str, Any]) -> dict[str, Any]:
    value = any_value(body) if body is not None else None
    value = _json(value)
    if isinstance(value, dict):
        return value
    if value is not None:
        return {"content": value}
    content = _json(attrs.get("gen_ai.event.content"))
    if isinstance(content, dict):
        return content
    return {
        key: _json(attrs[key])
        for key in ("content", "role", "tool_calls", "message", "finish_reason", "id", "index")
        if key in attrs
    }


def _span_events(span: dict[str, Any], source_file: str, line: int) -> list[GenAiEvent]:
    events = []
    for event in span.get("events") or ():
        if not isinstance(event, dict):
            continue
        name = event.get("name")
        attrs = attributes(event.get("attributes"))
        time = unix_nanos(event.get("timeUnixNano")) or 0
        if name in _CONTENT_EVENTS:
            events.append(
                GenAiEvent(time, name, _event_body(None, attrs), source_file, line, event)
            )
        elif name in _LEGACY_SPAN_EVENTS:
            key = _LEGACY_SPAN_EVENTS[name]
            events.append(
                GenAiEvent(time, key, {"content": attrs.get(key)}, source_file, line, event)
            )
    return events


def _input_messages(attrs: dict[str, Any], events: list[GenAiEvent]) -> Any:
    current = _json(attrs.get("gen_ai.input.messages"))
    if isinstance(current, list):
        return [_from_parts_message(message) for message in current]
    if current is not None:
        return current  # wrong shape: validation says so
    legacy = _legacy_messages(attrs, "gen_ai.prompt", events)
    if legacy is not None:
        return legacy
    messages = []
    for event in events:
        role = MESSAGE_EVENTS.get(event.name)
        if role is not None:
            body = dict(event.body)
            body["role"] = body.get("role") or role
            if role == "tool" and "tool_call_id" not in body and "id" in body:
                body["tool_call_id"] = body["id"]
            messages.append(convert_message(body))
    return messages or None


def _legacy_messages(attrs: dict[str, Any], prefix: str, events: list[GenAiEvent]) -> Any:
    """``gen_ai.prompt`` / ``gen_ai.completion``: JSON text, indexed attributes or span event."""
    value = attrs.get(prefix)
    if value is None:
        for event in events:
            if event.name == prefix:
                value = event.body.get("content")
    if value is not None:
        parsed = _json(value)
        return convert_messages(parsed) if isinstance(parsed, list | dict | str) else parsed
    indexed = []
    index = 0
    while f"{prefix}.{index}.content" in attrs or f"{prefix}.{index}.role" in attrs:
        indexed.append(
            convert_message(
                {
                    "role": attrs.get(f"{prefix}.{index}.role") or "user",
                    "content": _json(attrs.get(f"{prefix}.{index}.content")),
                }
            )
        )
        index += 1
    return indexed or None


_PART_TYPES = {"text": "text", "tool_call": "tool_call", "tool_call_response": "tool_result"}


def _from_parts_message(message: Any) -> Any:
    """Current-convention ``{role, parts}`` -> contract ``{role, content}``."""
    if not isinstance(message, dict):
        return message
    parts = message.get("parts")
    if not isinstance(parts, list):
        return convert_message(message) if "content" in message else message
    converted = [_from_part(part) for part in parts]
    if len(converted) == 1 and converted[0].get("type") == "text":
        return {"role": message.get("role"), "content": converted[0]["text"]}
    return {"role": message.get("role"), "content": converted}


def _from_part(part: Any) -> dict[str, Any]:
    if not isinstance(part, dict):
        return {"type": "text", "text": text_of(part)}
    kind = part.get("type")
    if kind == "text" or kind == "reasoning":
        converted: dict[str, Any] = {"type": "text", "text": text_of(part.get("content"))}
        if kind == "reasoning":
            converted["source_type"] = kind
        return converted
    if kind == "tool_call":
        return {"type": "tool_call", "name": part.get("name"), "id": part.get("id"),
                "arguments": part.get("arguments")}  # fmt: skip
    if kind == "tool_call_response":
        return {"type": "tool_result", "text": text_of(part.get("response")), "id": part.get("id")}
    if kind in ("blob", "file", "uri", "image"):
        return {"type": "image", "source_type": kind, "modality": part.get("modality")}
    return {"type": "text", "text": text_of(part.get("content")), "source_type": kind}


def _output(attrs: dict[str, Any], events: list[GenAiEvent]) -> tuple[str | None, str | None]:
    current = _json(attrs.get("gen_ai.output.messages"))
    if isinstance(current, list) and current and isinstance(current[0], dict):
        first = _from_parts_message(current[0])
        finish = current[0].get("finish_reason")
        return text_of(first.get("content")), finish if isinstance(finish, str) else None
    legacy = _legacy_messages(attrs, "gen_ai.completion", events)
    if isinstance(legacy, list) and legacy and isinstance(legacy[0], dict):
        finish = attrs.get("gen_ai.completion.0.finish_reason")
        return text_of(legacy[0].get("content")), finish if isinstance(finish, str) else None
    choices = [event.body for event in events if event.name == CHOICE_EVENT]
    if choices:
        choices.sort(key=lambda body: body.get("index") or 0)
        message = _json(choices[0].get("message"))
        content = message.get("content") if isinstance(message, dict) else None
        finish = choices[0].get("finish_reason")
        return text_of(content), finish if isinstance(finish, str) else None
    return None, None


def _system_prompt(attrs: dict[str, Any], events: list[GenAiEvent]) -> str | None:
    instructions = _json(attrs.get("gen_ai.system_instructions"))
    if instructions is not None:
        if isinstance(instructions, list):
            return "\n".join(
                text_of(part.get("content")) if isinstance(part, dict) else text_of(part)
                for part in instructions
            )
        return text_of(instructions)
    texts = [
        text_of(event.body.get("content"))
        for event in events
        if event.name == "gen_ai.system.message"
    ]
    return "\n".join(texts) if texts else None


def _tools(value: Any) -> Any:
    tools = _json(value)
    if not isinstance(tools, list):
        return tools
    flat = []
    for tool in tools:
        if isinstance(tool, dict) and "name" not in tool and isinstance(tool.get("function"), dict):
            flat.append({**tool["function"], "type": tool.get("type", "function")})
        else:
            flat.append(tool)
    return flat


_PARAM_PREFIX = "gen_ai.request."
_PARAM_NAMES = {"choice.count": "n"}


def _params(attrs: dict[str, Any]) -> dict[str, Any] | None:
    params = {
        _PARAM_NAMES.get(
            key[len(_PARAM_PREFIX) :], key[len(_PARAM_PREFIX) :].replace(".", "_")
        ): value
        for key, value in attrs.items()
        if key.startswith(_PARAM_PREFIX) and key != "gen_ai.request.model"
    }
    return params or None


__all__ = [
    "DEFAULT_ACCOUNT_ATTRIBUTES",
    "OtelEventIndex",
    "iter_documents",
    "missing_hints",
    "orphan_problem",
    "read_otel",
    "to_contract",
]
