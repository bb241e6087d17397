"""Canonical table layouts shared by ingestion, the store and every stage after it.

The contract (CONTRACT.md, version 1) fixes what users hand us; these Arrow schemas fix
how it is kept once validated.  Nested request parts (messages, tools, params) are kept
as canonical JSON text so that every engine (DuckDB, Spark, a warehouse) can store them,
and the handful of fields that detectors read often are lifted into typed columns once,
at ingest, instead of being parsed again by each detector.
"""

from __future__ import annotations

import pyarrow as pa

CONTRACT_VERSION = 1
"""Version of CONTRACT.md that readers accept and scans write."""

STORE_SCHEMA_VERSION = 3
"""Version of the stored tables; bump with a migration when they change (2: the store keeps
the message flags instead of the conversation JSON, see :data:`STORED_EXCHANGE_SCHEMA`; 3:
each prompt's text is kept once, in ``prompts``, see :data:`EXCHANGE_TABLE_SCHEMA`)."""

TIMESTAMP = pa.timestamp("us", tz="UTC")

EXCHANGE_SCHEMA = pa.schema(
    [
        pa.field("exchange_id", pa.string(), nullable=False),
        pa.field("ts", TIMESTAMP, nullable=False),
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("api_key_id", pa.string()),
        pa.field("organization_id", pa.string()),
        pa.field("client_ip", pa.string()),
        pa.field("user_agent", pa.string()),
        pa.field("model", pa.string(), nullable=False),
        pa.field("system_prompt", pa.string()),
        # Canonical JSON of the contract's `messages` list (content string or parts).
        pa.field("messages", pa.string(), nullable=False),
        pa.field("n_messages", pa.int32(), nullable=False),
        # Text of the last user message (parts joined), the prompt most detectors read.
        pa.field("prompt_text", pa.string(), nullable=False),
        pa.field("tools", pa.string()),
        pa.field("tool_names", pa.list_(pa.string())),
        pa.field("params", pa.string()),
        pa.field("temperature", pa.float64()),
        pa.field("top_p", pa.float64()),
        pa.field("max_tokens", pa.int64()),
        pa.field("n", pa.int64()),
        pa.field("stream", pa.bool_()),
        pa.field("seed", pa.int64()),
        pa.field("reasoning_effort", pa.string()),
        pa.field("input_tokens", pa.int64()),
        pa.field("output_tokens", pa.int64()),
        pa.field("reasoning_tokens", pa.int64()),
        pa.field("response_text", pa.string()),
        pa.field("finish_reason", pa.string()),
        pa.field("conversation_id", pa.string()),
        pa.field("status", pa.int64()),
        # Unknown input fields, kept as canonical JSON ("kept and ignored").
        pa.field("extra", pa.string()),
        # Where the record came from, for evidence and for quarantine cross-checks.
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_line", pa.int64(), nullable=False),
    ]
)

MESSAGE_FLAG_FIELDS = (
    # A message part of type image (the request shows the model a picture).
    pa.field("has_image", pa.bool_(), nullable=False),
    # A tool call, tool result or tool-role message in the conversation.
    pa.field("has_tool_parts", pa.bool_(), nullable=False),
    # A message with the system role inside the conversation (not the system_prompt field).
    pa.field("has_system_message", pa.bool_(), nullable=False),
)

DROPPED_FROM_STORE = ("messages", "tools")
"""Canonical columns the store does not keep: the conversation JSON and the tool
definitions.  Detection reads only what ingest lifts out of them (``prompt_text``,
``n_messages``, ``tool_names`` and the message flags), and the two JSON texts were most of
a stored row (1.3 of 2 KB per exchange in simulated traffic), which at 16M exchanges would
not fit the store's memory or this machine's disk.  The input files stay the record of
the full requests."""

STORED_EXCHANGE_SCHEMA = pa.schema(
    [
        *(field for field in EXCHANGE_SCHEMA if field.name not in DROPPED_FROM_STORE),
        *MESSAGE_FLAG_FIELDS,
    ]
)
"""A stored exchange: the canonical record without its JSON texts, with the message flags
derived from them at ingest (schema/stored.py)."""

EXCHANGE_TABLE_SCHEMA = pa.schema(
    [
        pa.field("pair_id", pa.int64(), nullable=False) if field.name == "prompt_text" else field
        for field in STORED_EXCHANGE_SCHEMA
    ]
)
"""The ``exchanges`` table: a stored exchange with its prompt text replaced by the key of its
(prompt, system prompt) pair, whose text is kept once in ``prompts`` (schema/prompts.py)."""

ACCOUNT_SCHEMA = pa.schema(
    [
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("created_at", TIMESTAMP),
        pa.field("organization_id", pa.string()),
        pa.field("email_domain", pa.string()),
        pa.field("payment_fingerprint", pa.string()),
        pa.field("country", pa.string()),
        pa.field("verification", pa.string()),
        pa.field("program", pa.string()),
        pa.field("signup_ip", pa.string()),
        pa.field("extra", pa.string()),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_line", pa.int64(), nullable=False),
    ]
)

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("table", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_line", pa.int64(), nullable=False),
        pa.field("field", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string()),
    ]
)

VERIFICATION_LEVELS = ("none", "email", "phone", "id", "business")
PROGRAMS = ("free", "paid", "education", "startup", "research", "enterprise")
VERDICTS = ("benign", "review", "distillation")
MESSAGE_PART_TYPES = ("text", "image", "tool_call", "tool_result")

EXCHANGE_FEATURE_SCHEMA = pa.schema(
    [
        pa.field("exchange_id", pa.string(), nullable=False),
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("ts", TIMESTAMP, nullable=False),
        pa.field("model", pa.string(), nullable=False),
        # Language of the prompt text: "en", "zh", "ru", ... or "und".
        pa.field("lang", pa.string(), nullable=False),
        pa.field("prompt_chars", pa.int32(), nullable=False),
        # 64-bit hash of the normalised prompt text (exact duplicates after normalisation).
        pa.field("text_hash", pa.int64(), nullable=False),
        # 64-bit id of the template skeleton (numbers, quoted spans, long task bodies masked).
        pa.field("template_id", pa.int64(), nullable=False),
        # 64-bit id of the wrapper: the instruction text around the task, task body removed.
        pa.field("wrapper_id", pa.int64(), nullable=False),
        # MinHash LSH band keys of the prompt's shingles (near-duplicate candidates).
        pa.field("lsh_bands", pa.list_(pa.int64()), nullable=False),
        # Hashes of the long sentences of the prompt's instruction lines (standing rules).
        pa.field("instruction_sentences", pa.list_(pa.int64()), nullable=False),
        # Prompt-signal probabilities from the trained classifier, each in [0, 1].
        pa.field("p_reasoning", pa.float32(), nullable=False),
        pa.field("p_reconstruct", pa.float32(), nullable=False),
        pa.field("p_grading", pa.float32(), nullable=False),
        pa.field("p_tool", pa.float32(), nullable=False),
        pa.field("p_rewrite", pa.float32(), nullable=False),
        # Capability targeted: reasoning, coding, tool_use, grading, vision, rewrite, chat.
        pa.field("capability", pa.string(), nullable=False),
        pa.field("truncated", pa.bool_(), nullable=False),
    ]
)
"""Per-exchange features as every detector reads them (the view ``exchange_features``: the
features of each distinct prompt, computed once, joined to its exchanges)."""
