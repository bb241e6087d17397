"""The words of the instruction sentences that tie clusters, for reasons a person reads.

Features keep an instruction sentence as a hash (:mod:`distillguard.features.templates`),
which is what indicators, the guard and peers match on; but "share a standing instruction
sentence (8709157547705848447)" tells an analyst nothing.  For every cluster tied by such a
sentence, one request of a member that holds it is read back and the sentence is cut out of
it again, so DG-401 and DG-406 can quote it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import pandas as pd

from distillguard.engine.texts import with_prompt_text
from distillguard.features.templates import instruction_sentence_texts
from distillguard.features.text import prepare

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from distillguard.detectors.coordination.profile import ClusterProfile

VIEW = "instruction_sentence"


def label_sentences(
    con: BaseBackend, clusters: dict[str, list[str]], profiles: dict[str, ClusterProfile]
) -> None:
    """Set ``label`` on each cluster's instruction-sentence tie to the sentence's text (one
    query for all clusters); a sentence that cannot be read back keeps no label."""
    wanted = {
        cid: int(tie.top[0][0])
        for cid, profile in profiles.items()
        for tie in profile.ties
        if tie.view == VIEW and tie.top
    }
    if not wanted or "exchange_features" not in con.list_tables():
        return
    rows = [(member, cid, wanted[cid]) for cid in sorted(wanted) for member in clusters[cid]]
    members = ibis.memtable(
        pd.DataFrame(rows, columns=["account_id", "cluster_id", "sentence"]).astype(
            {"sentence": "int64"}
        )
    )
    features = con.table("exchange_features")
    joined = features.join(members, "account_id")
    holds = joined.instruction_sentences.contains(joined.sentence)
    examples = (
        joined.filter(holds)
        .group_by("cluster_id")
        .aggregate(exchange_id=joined.exchange_id.min())
        .execute()
    )
    exchanges = con.table("exchanges")
    ids = sorted(set(examples["exchange_id"].astype(str)))
    picked = exchanges.filter(exchanges.exchange_id.isin(ids)).select("exchange_id", "pair_id")
    prompts = with_prompt_text(con, picked).select("exchange_id", "prompt_text")
    text_of = dict(prompts.execute().itertuples(index=False, name=None))
    for cid, exchange in zip(examples["cluster_id"], examples["exchange_id"], strict=True):
        prompt = text_of.get(exchange)
        if prompt is None:
            continue
        text = instruction_sentence_texts(prepare(str(prompt)).text).get(wanted[str(cid)])
        if text:
            for tie in profiles[str(cid)].ties:
                if tie.view == VIEW:
                    tie.label = text
