"""Relations several stages read, worked out once per scan.

``account_prompt_uses``: each account's requests per distinct (prompt, system prompt)
pair, ``(account_id, pair_id, uses)``.  The band and sentence views, the inheritance
detector's six queries and the semantic frame's counts each count an account's prompts
this way.  At 16M exchanges the table takes 4–6 s to make, and the inheritance
detector's queries took 51.8 s reading it against 70.1 s grouping every exchange each
time (``/work/prof9/dg502_sql.py``, docs/benchmarks.md ninth round).  On DuckDB it
is a temporary table (in memory, spilled by DuckDB when short of it; never written to the
store file); on Spark a temporary view over the same query.  A backend without it gives
the same rows from the query (:func:`account_prompt_uses`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ibis.expr.types as ir
    from ibis.backends import BaseBackend

ACCOUNT_PROMPT_USES = "account_prompt_uses"
USES_SQL = (
    "SELECT account_id, pair_id, count(*) AS uses FROM exchanges GROUP BY account_id, pair_id"
)


def create_account_prompt_uses_duckdb(duck: Any) -> None:
    """The temporary table on a DuckDB connection (replaced on every scan)."""
    duck.execute(f"CREATE OR REPLACE TEMP TABLE {ACCOUNT_PROMPT_USES} AS {USES_SQL}")


def account_prompt_uses(con: BaseBackend) -> ir.Table:
    """``(account_id, pair_id, uses)`` from the scan's relation, or the query where the
    backend does not hold it (a store opened outside a scan)."""
    if ACCOUNT_PROMPT_USES in set(con.list_tables()):
        return con.table(ACCOUNT_PROMPT_USES)
    x = con.table("exchanges")
    return x.group_by(["account_id", "pair_id"]).aggregate(uses=x.count())
