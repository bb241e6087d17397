"""Verdicts kept in the store between daily scans, so evidence is carried forward.

With ``--store`` the exchanges of earlier days stay in the store and every detector sees
them again, so evidence accumulates by itself.  What the data alone cannot remember is
what was *decided*: a campaign that rotates to fresh wrappers or goes quiet for a day must
not wash its accounts clean.  So each scan records its verdicts in ``verdict_history``
(keyed by the newest exchange time it saw, not by the wall clock, which keeps results
reproducible), and the next scan never lets an account judged ``distillation`` before fall
below ``review``: a person decides whether it is over.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import ibis
import pyarrow as pa
from ibis.backends.duckdb import Backend as DuckDBBackend

from distillguard.detectors.base import ATLAS, DetectorInfo
from distillguard.engine.store import append_arrow
from distillguard.results.model import AccountResult, Reason

TABLE = "verdict_history"
SCHEMA = pa.schema(
    [
        pa.field("data_until", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("verdict", pa.string(), nullable=False),
        pa.field("score", pa.float64(), nullable=False),
        pa.field("cluster_id", pa.string()),
    ]
)
INFO = DetectorInfo(
    id="DG-503",
    version="1.0",
    name="carried-forward verdict",
    description=(
        "An account judged distillation by an earlier scan of the same store stays at least "
        "under review until a person decides."
    ),
    family="drift",
    atlas=(ATLAS["extract_model"],),
)


@dataclass(frozen=True)
class PriorVerdict:
    """The most recent earlier `distillation` verdict of one account."""

    data_until: datetime
    score: float
    cluster_id: str | None


def _ensure(con: DuckDBBackend) -> None:
    if TABLE not in con.list_tables():
        con.create_table(TABLE, schema=ibis.schema(SCHEMA))


def data_until(con: DuckDBBackend) -> datetime | None:
    """The newest exchange time in the store: what a scan's verdicts are as of."""
    row = con.con.execute("SELECT max(ts) FROM exchanges").fetchone()
    return row[0] if row and row[0] is not None else None


def prior_distillation(con: DuckDBBackend, before: datetime) -> dict[str, PriorVerdict]:
    """Accounts judged `distillation` by an earlier scan (data older than ``before``)."""
    _ensure(con)
    rows = con.con.execute(
        f"SELECT account_id, max(data_until), arg_max(score, data_until), "
        f"arg_max(cluster_id, data_until) FROM {TABLE} "
        "WHERE verdict = 'distillation' AND data_until < ? GROUP BY account_id",
        [before],
    ).fetchall()
    return {str(a): PriorVerdict(when, float(score), cid) for a, when, score, cid in rows}


def carry_forward(
    results: list[AccountResult], prior: dict[str, PriorVerdict]
) -> list[AccountResult]:
    """Keep earlier `distillation` accounts at `review` at least, saying why."""
    out: list[AccountResult] = []
    for result in results:
        earlier = prior.get(result.account_id)
        if earlier is None or result.verdict != "benign":
            out.append(result)
            continue
        where = f" in cluster {earlier.cluster_id}" if earlier.cluster_id else ""
        reason = Reason(
            INFO.id,
            f"judged distillation{where} by the scan of data up to "
            f"{earlier.data_until:%Y-%m-%d %H:%M} UTC (score {earlier.score:.2f}); "
            "today's evidence alone is weaker, so a person should decide whether it stopped",
            round(earlier.score, 6),
        )
        reasons = sorted([reason, *result.reasons], key=lambda r: -r.weight)
        out.append(replace(result, verdict="review", reasons=reasons))
    return out


def record(con: DuckDBBackend, results: list[AccountResult], until: datetime) -> None:
    """Append this scan's verdicts (replacing an earlier record of the same data)."""
    _ensure(con)
    con.con.execute(f"DELETE FROM {TABLE} WHERE data_until = ?", [until])
    table = pa.Table.from_pylist(
        [
            {
                "data_until": until,
                "account_id": r.account_id,
                "verdict": r.verdict,
                "score": r.score,
                "cluster_id": r.cluster_id,
            }
            for r in results
        ],
        schema=SCHEMA,
    )
    append_arrow(con, TABLE, table)
