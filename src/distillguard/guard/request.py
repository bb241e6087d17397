"""One request as the guard sees it, validated, and the fast fingerprints taken from it.

Adapters (LiteLLM, the webhook) turn their own shapes into a :class:`GuardRequest`; a
malformed one raises :class:`MalformedRequest` naming the field, which the webhook answers
with HTTP 422 instead of a guess.  Fingerprints follow the batch scan's definitions
(:mod:`distillguard.features.text` and :mod:`~distillguard.features.templates` on the last
user message) so that indicators from a scan's ``clusters.jsonl`` match live traffic.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from distillguard.features.templates import (
    fingerprints,
    mask,
    sentence_hashes,
    split_wrapper,
    stable_hash,
)
from distillguard.features.text import prepare, truncate

MAX_ID_CHARS = 512
HOT_PATH_CHARS = 800
"""Prompts are fingerprinted on their first 600 and last 200 characters (the batch scan reads
up to 20,000): scripted wrappers sit at the head and tail, and the fingerprint code costs
about 2 microseconds a character, which a request path cannot pay for a 20k-character paste.
Prompts up to this length get exactly the batch scan's ids."""
_V4_PREFIX = re.compile(r"^(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}$")
_V6_PREFIX = re.compile(r"^([0-9a-f]{1,4}:[0-9a-f]{1,4}:[0-9a-f]{1,4}):")


class MalformedRequest(ValueError):
    """The request cannot be scored as sent; the message names the field."""


@dataclass(frozen=True)
class GuardRequest:
    """What the guard needs from a request (contract field names)."""

    account_id: str
    prompt_text: str = ""
    """The last user message's text: what the batch scan fingerprints."""
    client_ip: str | None = None
    organization_id: str | None = None
    model: str | None = None
    timestamp: float | None = None
    """Epoch seconds; the guard's clock when absent."""


@dataclass(frozen=True)
class RequestFeatures:
    """Fast fingerprints of one request."""

    wrapper: str
    template: str
    instruction_wrapper: bool
    """Whether the prompt has instruction lines around its task (a scripted wrapper shape);
    only such wrappers feed the shared-wrapper signal, so plain chat never does."""
    client_subnet: str | None
    instruction_sentences: tuple[str, ...] = ()
    """Hashes of the instruction lines' long sentences, as the batch scan writes them: a
    paraphrasing campaign's house rules, matched against flagged clusters' indicators."""


def _text_of(content: object, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise MalformedRequest(f"{where}: must be a string or a list of parts")
    texts = []
    for index, part in enumerate(content):
        if not isinstance(part, dict):
            raise MalformedRequest(f"{where}[{index}]: must be an object with 'type'")
        text = part.get("text")
        if isinstance(text, str):
            texts.append(text)
    return "\n".join(texts)


def last_user_text(messages: object) -> str:
    """The text of the last ``user`` message (parts joined by line breaks)."""
    if messages is None:
        return ""
    if not isinstance(messages, list):
        raise MalformedRequest("messages: must be a list of {role, content}")
    text = ""
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise MalformedRequest(f"messages[{index}]: must be an object with role and content")
        if message.get("role") == "user":
            text = _text_of(message.get("content"), f"messages[{index}].content")
    return text


def _optional_text(body: dict[str, Any], field: str) -> str | None:
    value = body.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_ID_CHARS:
        raise MalformedRequest(f"{field}: must be a string of at most {MAX_ID_CHARS} characters")
    return value


def parse_request(body: object) -> GuardRequest:
    """Validate a JSON body ``{account_id, messages?, prompt_text?, client_ip?, ...}``."""
    if not isinstance(body, dict):
        raise MalformedRequest("body: must be a JSON object")
    account = _optional_text(body, "account_id")
    if account is None:
        raise MalformedRequest("account_id: is required (the paying account of the request)")
    prompt = body.get("prompt_text")
    if prompt is not None and not isinstance(prompt, str):
        raise MalformedRequest("prompt_text: must be a string")
    if prompt is None:
        prompt = last_user_text(body.get("messages"))
    stamp = body.get("timestamp")
    if stamp is not None and (not isinstance(stamp, int | float) or isinstance(stamp, bool)):
        raise MalformedRequest("timestamp: must be epoch seconds (a number)")
    return GuardRequest(
        account_id=account,
        prompt_text=prompt,
        client_ip=_optional_text(body, "client_ip"),
        organization_id=_optional_text(body, "organization_id"),
        model=_optional_text(body, "model"),
        timestamp=float(stamp) if stamp is not None else None,
    )


def client_subnet(ip: str | None) -> str | None:
    """The /24 of an IPv4 or the /48 of an IPv6 address, exactly as the batch scan writes it
    (``coordination.views.ip_prefix``: the first three groups as written)."""
    if not ip:
        return None
    low = ip.strip().lower()
    match = (_V6_PREFIX if ":" in low else _V4_PREFIX).match(low)
    if match is None:
        return None
    return match.group(1) + ("::/48" if ":" in low else ".0/24")


def request_features(request: GuardRequest) -> RequestFeatures:
    """Fingerprints of the prompt (normal form, template and wrapper ids) and the subnet."""
    cut, _ = truncate(request.prompt_text, HOT_PATH_CHARS)
    normal = prepare(cut).text
    skeleton, instruction_lines = split_wrapper(mask(normal))
    if instruction_lines:
        template_id = stable_hash("\n".join(skeleton))
        wrapper_id = stable_hash("\n".join(instruction_lines))
    else:  # nothing separable: the batch definition falls back to the text itself
        _, template_id, wrapper_id = fingerprints(normal)
    return RequestFeatures(
        wrapper=str(wrapper_id),
        template=str(template_id),
        instruction_wrapper=bool(instruction_lines),
        client_subnet=client_subnet(request.client_ip),
        instruction_sentences=tuple(str(h) for h in sentence_hashes(instruction_lines)),
    )


def now_or(request: GuardRequest) -> float:
    """The request's time, or now."""
    return request.timestamp if request.timestamp is not None else time.time()
