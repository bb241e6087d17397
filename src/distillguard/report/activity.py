"""What the report draws for each leading cluster: its traffic over time, per model, and
its capability mix, with the model releases found in the data.

Gathered once at the end of a scan by one relational query over the store (Ibis, so it runs
where the tables live) for the highest-scoring clusters only, and written into
``summary.json`` under ``cluster_activity`` so the report, and anyone else, can redraw it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd

from distillguard.results.model import ClusterResult

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

TOP_CLUSTERS = 20
"""Clusters (highest score first) that get a timeline and a capability mix."""
BUCKET_HOURS = 6
"""Width of a timeline bar: four a day keeps a two-week window readable."""
MODELS_SHOWN = 3
"""A cluster's busiest models get their own colour; the rest are counted as ``other``."""


def _members(clusters: Sequence[ClusterResult]) -> ibis.Table:
    rows = [(a, c.cluster_id) for c in clusters for a in c.account_ids]
    return ibis.memtable(pd.DataFrame(rows, columns=["member_id", "cluster_id"]))


def _iso(value: Any) -> str:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return str(stamp.tz_convert("UTC").isoformat())


def cluster_activity(
    con: BaseBackend, clusters: Sequence[ClusterResult], releases: Sequence[tuple[str, datetime]]
) -> dict[str, Any]:
    """Timeline buckets per model and capability shares of the leading clusters."""
    leading = sorted(clusters, key=lambda c: (-c.score, c.cluster_id))[:TOP_CLUSTERS]
    out: dict[str, Any] = {
        "bucket_hours": BUCKET_HOURS,
        "releases": [{"model": m, "first_seen": _iso(t)} for m, t in releases],
        "clusters": {},
    }
    if not leading:
        return out
    members = _members(leading)
    x = con.table("exchanges").select("account_id", "ts", "model")
    joined = x.join(members, x.account_id == members.member_id)
    hourly = joined.mutate(hour=joined.ts.truncate("h"))
    traffic = hourly.group_by(["cluster_id", "hour", "model"]).aggregate(n=hourly.count()).execute()
    mix = pd.DataFrame(columns=["cluster_id", "capability", "n"])
    if "exchange_features" in con.list_tables():
        f = con.table("exchange_features").select("account_id", "capability")
        fj = f.join(members, f.account_id == members.member_id)
        mix = fj.group_by(["cluster_id", "capability"]).aggregate(n=fj.count()).execute()
    for cluster in leading:
        rows = traffic[traffic["cluster_id"] == cluster.cluster_id]
        out["clusters"][cluster.cluster_id] = {
            "timeline": _timeline(rows),
            "capabilities": _mix(mix[mix["cluster_id"] == cluster.cluster_id]),
        }
    return out


def _timeline(rows: pd.DataFrame) -> dict[str, Any]:
    if rows.empty:
        return {"start": None, "models": [], "counts": []}
    hours = pd.to_datetime(rows["hour"], utc=True)
    start = hours.min().floor(f"{BUCKET_HOURS}h")
    index = ((hours - start).dt.total_seconds() // (3600 * BUCKET_HOURS)).astype(int)
    totals = rows.groupby("model")["n"].sum()
    ranked = sorted(totals.index, key=lambda m: (-int(totals[m]), str(m)))
    shown = [str(m) for m in ranked[:MODELS_SHOWN]]
    names = shown + (["other"] if len(ranked) > MODELS_SHOWN else [])
    width = int(index.max()) + 1
    counts = [[0] * width for _ in names]
    for position, model, n in zip(index, rows["model"], rows["n"], strict=True):
        slot = names.index(str(model)) if str(model) in shown else len(names) - 1
        counts[slot][int(position)] += int(n)
    return {"start": _iso(start), "models": names, "counts": counts}


def _mix(rows: pd.DataFrame) -> list[list[Any]]:
    total = int(rows["n"].sum()) if len(rows) else 0
    if not total:
        return []
    ranked = sorted(
        ((str(c), int(n)) for c, n in zip(rows["capability"], rows["n"], strict=True)),
        key=lambda cn: (-cn[1], cn[0]),
    )
    return [[name, round(n / total, 4)] for name, n in ranked]
