"""Prompt texts kept once: each exchange names its (prompt, system prompt) pair by a key.

Harvesting traffic sends the same prompts again and again (a campaign's task pool through
many accounts, an application's fixed template), so the store keeps each distinct pair's
text once, in ``prompts``, and every exchange carries only its ``pair_id``.  At 16M
simulated exchanges the per-exchange texts had made a 21.8 GB store, and every stage that
grouped or joined on them (finding the distinct prompts to feature, counting an account's
distinct prompts) hashed gigabytes of text again; the 16M input has 998,855 distinct pairs.

The key is fixed, so that stores written on different days and machines agree:
``xxh3_64`` (seed 0) over the byte length of the UTF-8 prompt as 8 little-endian bytes,
then the UTF-8 prompt, then the UTF-8 system prompt (``""`` when absent), read as a
signed 64-bit integer.  The length prefix keeps ("ab", "c") and ("a", "bc") apart.  Two
different pairs sharing a key would be read as one; among ten million distinct pairs the
chance is about 3 in a million (birthday bound, 2^-64 per pair of pairs).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from distillguard.engine.codes import dictionary_codes

PROMPTS_TABLE = "prompts"
PROMPT_SCHEMA = pa.schema(
    [
        pa.field("pair_id", pa.int64(), nullable=False),
        pa.field("prompt_text", pa.string(), nullable=False),
        pa.field("system", pa.string(), nullable=False),
    ]
)
"""The ``prompts`` table: one row per distinct (prompt text, system prompt) pair."""


def pair_id(prompt: str, system: str | None) -> int:
    """The key of one (prompt, system prompt) pair (see the module docstring)."""
    text = prompt.encode("utf-8")
    digest = xxhash.xxh3_64_intdigest(
        len(text).to_bytes(8, "little") + text + (system or "").encode("utf-8")
    )
    return digest - (1 << 64) if digest >= 1 << 63 else digest


def intern_prompts(
    prompts: pa.Array | pa.ChunkedArray, systems: pa.Array | pa.ChunkedArray
) -> tuple[pa.Array, pa.Table]:
    """Each row's ``pair_id`` and the batch's distinct pairs as :data:`PROMPT_SCHEMA` rows.

    The texts are grouped with Arrow's dictionary encoding first, so each distinct pair of
    the batch is hashed once however often it repeats.
    """
    prompt_codes, prompt_texts = dictionary_codes(prompts.cast(pa.string()))
    system_codes, system_texts = dictionary_codes(pc.fill_null(systems, "").cast(pa.string()))
    width = max(len(system_texts), 1)
    combined = prompt_codes * width + system_codes
    distinct, inverse = np.unique(combined, return_inverse=True)
    prompt_of = distinct // width
    system_of = distinct % width
    prompt_values = prompt_texts.to_pylist()
    system_values = system_texts.to_pylist()
    keys = np.fromiter(
        (
            pair_id(prompt_values[p], system_values[s])
            for p, s in zip(prompt_of.tolist(), system_of.tolist(), strict=True)
        ),
        dtype=np.int64,
        count=len(distinct),
    )
    rows = pa.Table.from_arrays(
        [
            pa.array(keys, pa.int64()),
            prompt_texts.take(pa.array(prompt_of)),
            system_texts.take(pa.array(system_of)),
        ],
        schema=PROMPT_SCHEMA,
    )
    return pa.array(keys[inverse.reshape(-1)], pa.int64()), rows


__all__ = ["PROMPTS_TABLE", "PROMPT_SCHEMA", "intern_prompts", "pair_id"]
