"""Exchanges with their prompt text: the ``exchanges`` table joined with ``prompts``.

The store keeps each distinct prompt's text once (schema/prompts.py); the few readers that
need the words themselves (the semantic sample, sentence labels, shared indicators) join
them back for the exchanges they picked, not for all traffic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from distillguard.schema.prompts import PROMPTS_TABLE

if TYPE_CHECKING:
    import ibis.expr.types as ir
    from ibis.backends import BaseBackend


def with_prompt_text(con: BaseBackend, exchanges: ir.Table) -> ir.Table:
    """``exchanges`` (the table or a selection of it that keeps ``pair_id``) with the
    ``prompt_text`` of each row's pair added."""
    prompts = con.table(PROMPTS_TABLE).select("pair_id", "prompt_text")
    return exchanges.join(prompts, "pair_id")
