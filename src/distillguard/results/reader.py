"""Read a results directory back, refusing anything the contract does not allow.

Evaluation, reports and enforcement read results written by other tools as well as our
own, so every problem is reported as a ``UserError`` that names the file, the line and
the field, instead of surfacing later as a wrong number.

A directory is read as one set: where ``summary.json`` records the SHA-256 of the
``accounts.jsonl`` and ``clusters.jsonl`` it was written with (our writer always does),
the bytes read must match, so a reader that lands while a scan replaces the files one by
one is told to wait rather than handed one scan's accounts with another's clusters.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from distillguard.errors import UserError
from distillguard.results.model import (
    AccountResult,
    ClusterResult,
    Indicator,
    Reason,
    score_problem,
    verdict_problem,
    weight_problem,
)
from distillguard.results.writer import ACCOUNTS_FILE, CLUSTERS_FILE, FILES_KEY, SUMMARY_FILE

FIX_HINT = "fix that line, or re-run the scan or baseline that wrote this directory"


class MismatchedResults(UserError):
    """The results files disagree with the checksums ``summary.json`` records for them."""


@dataclass(frozen=True)
class Results:
    """A validated results directory."""

    accounts: list[AccountResult]
    clusters: list[ClusterResult]
    summary: dict[str, Any]


class _Line:
    """Field access for one JSON line that reports problems with file, line and field."""

    def __init__(self, path: Path, number: int, record: dict[str, Any], prefix: str = "") -> None:
        self.path = path
        self.number = number
        self.record = record
        self.prefix = prefix

    def fail(self, field: str, problem: str) -> UserError:
        return UserError(
            f"{self.path}, line {self.number}, field '{self.prefix}{field}': {problem}; {FIX_HINT}"
        )

    def nested(self, field: str, raw: object, shape: str) -> _Line:
        """A view of one object inside a list field, so its errors name the full path."""
        if not isinstance(raw, dict):
            raise self.fail(field, f"must be an object {shape}")
        return _Line(self.path, self.number, raw, prefix=f"{self.prefix}{field}.")

    def get(self, field: str, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
        if field not in self.record:
            if optional:
                return None
            raise self.fail(field, "is missing")
        value = self.record[field]
        if value is None and optional:
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.fail(field, f"must be {names}, got {type(value).__name__}")
        return value

    def checked(self, field: str, problem: str | None) -> None:
        if problem:
            raise self.fail(field, problem)

    def strings(self, field: str) -> list[str]:
        values = self.get(field, list)
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise self.fail(f"{field}[{index}]", "must be a string")
        return list(values)

    def time(self, field: str) -> datetime | None:
        text = self.get(field, str, optional=True)
        if text is None:
            return None
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise self.fail(field, f"is not an RFC 3339 time: {text!r}") from None
        if value.tzinfo is None:
            raise self.fail(field, f"has no time zone: {text!r}")
        return value

    def reasons(self) -> list[Reason]:
        out = []
        for index, raw in enumerate(self.get("reasons", list)):
            item = self.nested(f"reasons[{index}]", raw, "{detector, summary, weight}")
            weight = item.get("weight", (int, float))
            item.checked("weight", weight_problem(weight))
            out.append(
                Reason(
                    detector=item.get("detector", str),
                    summary=item.get("summary", str),
                    weight=float(weight),
                )
            )
        return out

    def indicators(self) -> list[Indicator]:
        out = []
        for index, raw in enumerate(self.get("indicators", list)):
            item = self.nested(f"indicators[{index}]", raw, "{kind, value, accounts}")
            out.append(
                Indicator(
                    kind=item.get("kind", str),
                    value=item.get("value", str),
                    accounts=item.get("accounts", int),
                )
            )
        return out


def _require(path: Path) -> None:
    if not path.is_file():
        raise UserError(
            f"{path} is missing: point at the --out directory of `distillguard scan` or "
            "`distillguard baseline`"
        )


def _lines(path: Path) -> tuple[list[_Line], str]:
    """The file's non-blank lines as JSON objects, and the SHA-256 of the bytes read."""
    _require(path)
    out = []
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            digest.update(raw)
            if not raw.strip():
                continue
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as error:
                raise UserError(
                    f"{path}, line {number}: invalid JSON ({error}); {FIX_HINT}"
                ) from None
            if not isinstance(record, dict):
                raise UserError(f"{path}, line {number}: must be a JSON object; {FIX_HINT}")
            out.append(_Line(path, number, record))
    return out, digest.hexdigest()


def _read_account(line: _Line) -> AccountResult:
    score = line.get("score", (int, float))
    line.checked("score", score_problem(score))
    verdict = line.get("verdict", str)
    line.checked("verdict", verdict_problem(verdict))
    return AccountResult(
        account_id=line.get("account_id", str),
        score=float(score),
        verdict=verdict,
        cluster_id=line.get("cluster_id", str, optional=True),
        reasons=line.reasons(),
    )


def _read_cluster(line: _Line) -> ClusterResult:
    score = line.get("score", (int, float))
    line.checked("score", score_problem(score))
    verdict = line.get("verdict", str)
    line.checked("verdict", verdict_problem(verdict))
    exchanges = line.get("exchanges", int)
    line.checked("exchanges", None if exchanges >= 0 else f"must be >= 0, got {exchanges}")
    return ClusterResult(
        cluster_id=line.get("cluster_id", str),
        account_ids=line.strings("account_ids"),
        score=float(score),
        verdict=verdict,
        exchanges=exchanges,
        capabilities=line.strings("capabilities"),
        first_seen=line.time("first_seen"),
        last_seen=line.time("last_seen"),
        reasons=line.reasons(),
        indicators=line.indicators(),
    )


def _read_summary(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UserError(f"{path} is missing: every results directory has a summary.json")
    try:
        summary = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise UserError(f"{path}: invalid JSON ({error}); {FIX_HINT}") from None
    if not isinstance(summary, dict):
        raise UserError(f"{path}: must be a JSON object; {FIX_HINT}")
    return summary


def _check_set(directory: Path, summary: dict[str, Any], digests: dict[str, str]) -> None:
    """Raise :class:`MismatchedResults` where a file is not the one the summary records."""
    files = summary.get(FILES_KEY)
    if files is None:
        return  # written by a tool that records no checksums: nothing to check against
    if not isinstance(files, dict):
        raise UserError(
            f"{directory / SUMMARY_FILE}: field {FILES_KEY!r} must be an object of "
            f"{{file: {{sha256, bytes}}}}; {FIX_HINT}"
        )
    for name, digest in digests.items():
        record = files.get(name)
        expected = record.get("sha256") if isinstance(record, dict) else None
        if expected is None:
            continue
        if expected != digest:
            raise MismatchedResults(
                f"{directory / name} is not the file {SUMMARY_FILE} was written with "
                f"(SHA-256 {digest[:12]}…, the summary records {str(expected)[:12]}…): a scan "
                "is rewriting this directory (read it again once it has finished) or the "
                "file was changed by hand (re-run the scan; overrides belong in an appeals "
                "file, not in the results)"
            )


def read_results(directory: Path) -> Results:
    """Read and validate ``accounts.jsonl``, ``clusters.jsonl`` and ``summary.json``.

    Besides each field, checks that ids are unique, that accounts and clusters agree
    (an account's ``cluster_id`` names a cluster that lists it) and that both files are
    the ones ``summary.json`` records (:class:`MismatchedResults` otherwise).  Unknown
    fields are ignored, as the contract allows additions.
    """
    if not directory.is_dir():
        raise UserError(f"{directory} is not a directory: pass the --out directory of a scan")
    for name in (ACCOUNTS_FILE, CLUSTERS_FILE):
        _require(directory / name)
    clusters: dict[str, tuple[ClusterResult, _Line]] = {}
    cluster_lines, clusters_digest = _lines(directory / CLUSTERS_FILE)
    account_lines, accounts_digest = _lines(directory / ACCOUNTS_FILE)
    summary = _read_summary(directory / SUMMARY_FILE)
    for line in cluster_lines:
        cluster = _read_cluster(line)
        if cluster.cluster_id in clusters:
            raise line.fail("cluster_id", f"{cluster.cluster_id!r} appears on an earlier line")
        clusters[cluster.cluster_id] = (cluster, line)
    accounts: dict[str, tuple[AccountResult, _Line]] = {}
    for line in account_lines:
        account = _read_account(line)
        if account.account_id in accounts:
            raise line.fail("account_id", f"{account.account_id!r} appears on an earlier line")
        accounts[account.account_id] = (account, line)

    # Each file is valid alone; whether they belong together is asked of the summary
    # first, so a set caught mid-rewrite is named as such, not as a missing cluster.
    _check_set(directory, summary, {ACCOUNTS_FILE: accounts_digest, CLUSTERS_FILE: clusters_digest})
    placed: dict[str, set[str]] = {cid: set() for cid in clusters}
    for account, line in accounts.values():
        if account.cluster_id is not None:
            if account.cluster_id not in clusters:
                raise line.fail(
                    "cluster_id", f"{account.cluster_id!r} is not a cluster in {CLUSTERS_FILE}"
                )
            placed[account.cluster_id].add(account.account_id)

    for cluster_id, (cluster, line) in clusters.items():
        if set(cluster.account_ids) != placed[cluster_id]:
            raise line.fail(
                "account_ids",
                f"must list exactly the accounts whose cluster_id is {cluster_id!r} in "
                f"{ACCOUNTS_FILE}",
            )
    return Results(
        accounts=[a for a, _ in accounts.values()],
        clusters=[c for c, _ in clusters.values()],
        summary=summary,
    )
