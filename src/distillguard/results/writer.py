"""Write a results directory exactly as CONTRACT.md describes it, byte-identically.

The same records always give the same bytes: accounts and clusters are sorted by id,
reasons strongest first, floats rounded to six places and ``summary.json`` keys sorted.
That makes two scans diffable and lets tests pin outputs.  Anything a reader would
reject is refused here first, so a bad detector fails loudly instead of shipping a
results directory that breaks the evaluation or the enforcement list downstream.

The directory is one set: ``summary.json`` records the SHA-256 and size of the
``accounts.jsonl`` and ``clusters.jsonl`` it was written with (under ``files``) and is
written after them.  Each file is replaced atomically, but not together, so a reader
that lands between two replacements (the guard reloading verdicts while a scan
rewrites them) sees files that disagree with the summary and waits for the set to be
whole (:func:`~distillguard.results.reader.read_results`), instead of serving a
cluster list of one scan with the accounts of another.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from distillguard.results.model import (
    AccountResult,
    ClusterResult,
    Indicator,
    Reason,
    score_problem,
    verdict_problem,
    weight_problem,
)
from distillguard.schema import CONTRACT_VERSION, VERDICTS

ACCOUNTS_FILE = "accounts.jsonl"
CLUSTERS_FILE = "clusters.jsonl"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"

FILES_KEY = "files"
"""``summary.json`` key holding ``{file name: {"sha256": hex, "bytes": size}}`` of the set."""

FLOAT_PLACES = 6

ReportBuilder = Callable[[Sequence[AccountResult], Sequence[ClusterResult], Mapping[str, Any]], str]
"""Builds ``report.html`` from the validated records and the final summary."""


def round_float(value: float) -> float:
    """Round to the contract's six places; ``-0.0`` becomes ``0.0`` so bytes stay stable."""
    rounded = round(float(value), FLOAT_PLACES)
    return 0.0 if rounded == 0 else rounded


def format_time(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a ``Z``; naive times are refused because their zone is a guess."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"time {value.isoformat()} has no time zone; pass an aware UTC time")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def sorted_reasons(reasons: Sequence[Reason]) -> list[Reason]:
    """Strongest (largest absolute weight) first; ties broken by text for stable output."""
    return sorted(reasons, key=lambda r: (-abs(r.weight), r.detector, r.summary))


def reason_to_json(reason: Reason) -> dict[str, Any]:
    """One ``{detector, summary, weight}`` object."""
    return {
        "detector": reason.detector,
        "summary": reason.summary,
        "weight": round_float(reason.weight),
    }


def account_to_json(account: AccountResult) -> dict[str, Any]:
    """One ``accounts.jsonl`` object, fields in contract order."""
    return {
        "account_id": account.account_id,
        "score": round_float(account.score),
        "verdict": account.verdict,
        "cluster_id": account.cluster_id,
        "reasons": [reason_to_json(r) for r in sorted_reasons(account.reasons)],
    }


def indicator_to_json(indicator: Indicator) -> dict[str, Any]:
    """One ``{kind, value, accounts}`` object."""
    return {"kind": indicator.kind, "value": indicator.value, "accounts": indicator.accounts}


def cluster_to_json(cluster: ClusterResult) -> dict[str, Any]:
    """One ``clusters.jsonl`` object, fields in contract order, lists sorted."""
    indicators = sorted(cluster.indicators, key=lambda i: (-i.accounts, i.kind, i.value))
    return {
        "cluster_id": cluster.cluster_id,
        "account_ids": sorted(cluster.account_ids),
        "score": round_float(cluster.score),
        "verdict": cluster.verdict,
        "exchanges": cluster.exchanges,
        "capabilities": sorted(cluster.capabilities),
        "first_seen": format_time(cluster.first_seen),
        "last_seen": format_time(cluster.last_seen),
        "reasons": [reason_to_json(r) for r in sorted_reasons(cluster.reasons)],
        "indicators": [indicator_to_json(i) for i in indicators],
    }


def _check_reasons(where: str, reasons: Sequence[Reason]) -> None:
    for index, reason in enumerate(reasons):
        problem = weight_problem(reason.weight)
        if problem:
            raise ValueError(f"{where}: reasons[{index}].weight {problem}")
        if not reason.detector or not reason.summary:
            raise ValueError(f"{where}: reasons[{index}] needs a detector and a summary")


def validate_records(accounts: Sequence[AccountResult], clusters: Sequence[ClusterResult]) -> None:
    """Refuse records that the contract's readers would reject.

    Checks scores, verdicts and reason weights, unique ids, and that accounts and
    clusters agree: an account's ``cluster_id`` names a cluster that lists it back.
    Raises ``ValueError``: bad records are a bug in the producer, not the user's input.
    """
    cluster_members: dict[str, set[str]] = {}
    for cluster in clusters:
        where = f"cluster {cluster.cluster_id!r}"
        if cluster.cluster_id in cluster_members:
            raise ValueError(f"{where} appears twice")
        for name, problem in (
            ("score", score_problem(cluster.score)),
            ("verdict", verdict_problem(cluster.verdict)),
        ):
            if problem:
                raise ValueError(f"{where}: {name} {problem}")
        if cluster.exchanges < 0:
            raise ValueError(f"{where}: exchanges must be >= 0, got {cluster.exchanges}")
        if len(set(cluster.account_ids)) != len(cluster.account_ids):
            raise ValueError(f"{where}: account_ids lists an account twice")
        _check_reasons(where, cluster.reasons)
        format_time(cluster.first_seen)
        format_time(cluster.last_seen)
        cluster_members[cluster.cluster_id] = set(cluster.account_ids)

    seen: set[str] = set()
    placed: dict[str, set[str]] = {cid: set() for cid in cluster_members}
    for account in accounts:
        where = f"account {account.account_id!r}"
        if account.account_id in seen:
            raise ValueError(f"{where} appears twice")
        seen.add(account.account_id)
        for name, problem in (
            ("score", score_problem(account.score)),
            ("verdict", verdict_problem(account.verdict)),
        ):
            if problem:
                raise ValueError(f"{where}: {name} {problem}")
        _check_reasons(where, account.reasons)
        if account.cluster_id is not None:
            if account.cluster_id not in cluster_members:
                raise ValueError(f"{where}: cluster_id {account.cluster_id!r} is not a cluster")
            placed[account.cluster_id].add(account.account_id)
    for cluster_id, members in cluster_members.items():
        if members != placed[cluster_id]:
            raise ValueError(
                f"cluster {cluster_id!r}: account_ids must be exactly the accounts whose "
                f"cluster_id is {cluster_id!r}"
            )


def _round_floats(value: Any) -> Any:
    """Round every float in a JSON-like value, so wall times and parameters stay stable.

    NaN and infinities become ``null``: JSON cannot carry them.
    """
    if isinstance(value, float):
        return round_float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _round_floats(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_round_floats(v) for v in value]
    return value


def build_summary(
    accounts: Sequence[AccountResult],
    clusters: Sequence[ClusterResult],
    summary: Mapping[str, Any],
) -> dict[str, Any]:
    """The caller's summary plus what the writer knows for sure.

    Adds ``contract_version`` and, under ``counts``, the numbers of accounts, clusters
    and accounts per verdict (derived from the records, so they cannot disagree with
    them); the caller's own counts (exchanges read, quarantined...) are kept.
    """
    verdicts = Counter(a.verdict for a in accounts)
    out = dict(summary)
    counts = dict(out.get("counts") or {})
    counts["accounts"] = len(accounts)
    counts["clusters"] = len(clusters)
    counts["verdicts"] = {v: verdicts.get(v, 0) for v in VERDICTS}
    out["counts"] = counts
    out["contract_version"] = CONTRACT_VERSION
    rounded: dict[str, Any] = _round_floats(out)
    return rounded


def file_record(data: bytes) -> dict[str, Any]:
    """What ``summary.json`` records of a results file: its SHA-256 and size."""
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def _write_atomic(path: Path, data: bytes) -> None:
    """Write via a sibling temporary file so a crash never leaves half a results file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _jsonl(objects: Sequence[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(o) + b"\n" for o in objects)


def write_results(
    out_dir: Path,
    accounts: Sequence[AccountResult],
    clusters: Sequence[ClusterResult],
    summary: Mapping[str, Any],
    report_html_builder: ReportBuilder | None = None,
) -> dict[str, Any]:
    """Validate and write ``accounts.jsonl``, ``clusters.jsonl``, ``summary.json``, ``report.html``.

    ``summary.json`` also records each results file's SHA-256 and size (``files``).
    ``report_html_builder`` defaults to the built-in static report.  Returns the summary
    as written.  Raises ``ValueError`` for records the contract does not allow.
    """
    validate_records(accounts, clusters)
    accounts_sorted = sorted(accounts, key=lambda a: a.account_id)
    clusters_sorted = sorted(clusters, key=lambda c: c.cluster_id)
    accounts_bytes = _jsonl([account_to_json(a) for a in accounts_sorted])
    clusters_bytes = _jsonl([cluster_to_json(c) for c in clusters_sorted])
    final_summary = build_summary(accounts_sorted, clusters_sorted, summary)
    final_summary[FILES_KEY] = {
        ACCOUNTS_FILE: file_record(accounts_bytes),
        CLUSTERS_FILE: file_record(clusters_bytes),
    }
    if report_html_builder is None:
        from distillguard.report.html import build_report_html

        report_html_builder = build_report_html
    html = report_html_builder(accounts_sorted, clusters_sorted, final_summary)

    out_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(out_dir / ACCOUNTS_FILE, accounts_bytes)
    _write_atomic(out_dir / CLUSTERS_FILE, clusters_bytes)
    _write_atomic(  # last: a reader trusts the set only once the summary agrees with it
        out_dir / SUMMARY_FILE,
        orjson.dumps(final_summary, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2, default=str)
        + b"\n",
    )
    _write_atomic(out_dir / REPORT_FILE, html.encode("utf-8"))
    return final_summary
