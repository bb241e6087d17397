"""OpenAI-style chat messages (what LiteLLM logs and what old GenAI conventions carried)
-> the contract's ``{role, content}`` messages.

The contract keeps four part types.  Mapping decisions: ``image_url``/``input_image`` and
other non-text media (audio, files) become ``image`` parts with the original type kept in
``source_type``; assistant ``tool_calls`` become ``tool_call`` parts; ``tool``/``function``
role messages become one ``tool_result`` part; unknown part types become ``text`` parts
holding whatever text they carry, again with ``source_type``.  Nothing is dropped.
"""

from __future__ import annotations

from typing import Any

import orjson

_MEDIA_TYPES = frozenset(
    {"image_url", "input_image", "image", "input_audio", "audio", "file", "input_file"}
)


def convert_messages(value: Any) -> Any:
    """Convert a LiteLLM/OpenAI ``messages`` value; shapes it does not know pass through
    unchanged so that validation reports them."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return value
    return [convert_message(message) for message in value]


def convert_message(message: Any) -> Any:
    """One OpenAI-style message -> one contract message (see module doc)."""
    if not isinstance(message, dict):
        return message
    role = message.get("role")
    content = message.get("content")
    if role in ("tool", "function"):
        result = {"type": "tool_result", "text": text_of(content)}
        call_id = message.get("tool_call_id")
        if call_id is not None:
            result["id"] = call_id
        return {"role": role, "content": [result]}
    parts: list[dict[str, Any]] | None = None
    if isinstance(content, list):
        parts = [convert_part(part) for part in content]
    calls = message.get("tool_calls") or (
        [{"function": message["function_call"]}] if message.get("function_call") else None
    )
    if isinstance(calls, list) and calls:
        if parts is None:
            parts = (
                [{"type": "text", "text": content}] if isinstance(content, str) and content else []
            )
        parts.extend(_tool_call_part(call) for call in calls)
    if parts is None:
        return {"role": role, "content": "" if content is None else content}
    return {"role": role, "content": parts}


def convert_part(part: Any) -> dict[str, Any]:
    """One OpenAI/Anthropic content part -> one contract part."""
    if not isinstance(part, dict):
        return {"type": "text", "text": text_of(part)}
    kind = part.get("type")
    if kind == "text" or kind == "input_text" or kind == "output_text":
        converted = {"type": "text", "text": text_of(part.get("text"))}
    elif kind in _MEDIA_TYPES:
        return {"type": "image", "source_type": kind}
    elif kind == "tool_use":
        return {"type": "tool_call", "name": part.get("name"), "id": part.get("id"),
                "arguments": part.get("input")}  # fmt: skip
    elif kind == "tool_result":
        return {
            "type": "tool_result",
            "text": text_of(part.get("content")),
            "id": part.get("tool_use_id"),
        }
    else:
        text = part.get("text", part.get("thinking", part.get("content")))
        return {"type": "text", "text": text_of(text), "source_type": kind}
    return converted


def _tool_call_part(call: Any) -> dict[str, Any]:
    function = call.get("function") if isinstance(call, dict) else None
    function = function if isinstance(function, dict) else {}
    part: dict[str, Any] = {"type": "tool_call", "name": function.get("name")}
    if isinstance(call, dict) and call.get("id") is not None:
        part["id"] = call["id"]
    if function.get("arguments") is not None:
        part["arguments"] = function["arguments"]
    return part


def text_of(value: Any) -> str:
    """Plain text of a content value: strings as they are, text parts joined, else JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = [
            item if isinstance(item, str) else item.get("text", item.get("content", ""))
            for item in value
            if isinstance(item, str | dict)
        ]
        strings = [text for text in texts if isinstance(text, str)]
        if len(strings) == len(texts):
            return "\n".join(strings)
    return orjson.dumps(value, default=str).decode()


def response_text_and_finish(response: Any) -> tuple[str | None, str | None]:
    """Answer text and finish reason of an OpenAI-style response (dict or text)."""
    if isinstance(response, str):
        return response, None
    if not isinstance(response, dict):
        return None, None
    choices = response.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        choice = choices[0]
        message = choice.get("message")
        if isinstance(message, dict):
            text = message.get("content")
            text = None if text is None else text_of(text)
        else:
            text = choice.get("text") if isinstance(choice.get("text"), str) else None
        finish = choice.get("finish_reason")
        return text, finish if isinstance(finish, str) else None
    output_text = response.get("output_text")
    return (output_text if isinstance(output_text, str) else None), None


def flatten_tools(value: Any) -> Any:
    """OpenAI ``[{type: function, function: {name, ...}}]`` -> ``[{name, ...}]``."""
    if not isinstance(value, list):
        return value
    flat = []
    for tool in value:
        if isinstance(tool, dict) and "name" not in tool and isinstance(tool.get("function"), dict):
            flat.append({**tool["function"], "type": tool.get("type", "function")})
        else:
            flat.append(tool)
    return flat
