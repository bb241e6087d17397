"""SeenIds flags exactly the ids a plain set would, across batches and a store's own ids."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.engine.store import open_store
from distillguard.ingest.dedupe import SeenIds

ids = st.text(alphabet="abcdef", min_size=0, max_size=3)


@settings(max_examples=60, deadline=None)
@given(
    stored=st.lists(ids, max_size=20, unique=True),
    batches=st.lists(st.lists(ids, max_size=40), max_size=8),
)
def test_flags_match_a_set(stored: list[str], batches: list[list[str]]) -> None:
    con = open_store()
    duck = con.con
    duck.execute("CREATE TABLE items (item_id VARCHAR)")
    if stored:
        duck.register("stored_ids", pa.table({"item_id": stored}))
        duck.execute("INSERT INTO items SELECT item_id FROM stored_ids")
        duck.unregister("stored_ids")
    seen_ids = SeenIds(duck, "items", "item_id")
    expected_seen = set(stored)
    for batch in batches:
        expected = []
        for value in batch:
            expected.append(value in expected_seen)
            expected_seen.add(value)
        assert seen_ids.duplicates(batch) == expected
        # What a caller keeps goes into the store, as ingest does before the next lookup.
        kept = [value for value, flag in zip(batch, expected, strict=True) if not flag]
        if kept:
            duck.register("kept_ids", pa.table({"item_id": kept}))
            duck.execute("INSERT INTO items SELECT item_id FROM kept_ids")
            duck.unregister("kept_ids")
