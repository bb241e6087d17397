"""The results writer is deterministic and strict; the reader names file, line and field."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from distillguard.errors import UserError
from distillguard.results import (
    AccountResult,
    ClusterResult,
    Indicator,
    Reason,
    read_results,
    write_results,
)
from distillguard.results.reader import MismatchedResults

T0 = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


def _records() -> tuple[list[AccountResult], list[ClusterResult]]:
    accounts = [
        AccountResult("b", 0.1234567891, "benign"),
        AccountResult(
            "a",
            0.9,
            "distillation",
            "c1",
            [Reason("DG-1", "weak", 0.2), Reason("DG-2", "strong", 0.7)],
        ),
        AccountResult("c", 0.7, "review", "c1"),
    ]
    clusters = [
        ClusterResult(
            "c1",
            ["c", "a"],
            0.85,
            "distillation",
            1200,
            ["reasoning", "coding"],
            T0,
            datetime(2026, 2, 2, tzinfo=UTC),
            [Reason("DG-9", "same template across 2 accounts", 0.8)],
            [Indicator("client_ip", "203.0.113.0/24", 2)],
        )
    ]
    return accounts, clusters


def test_output_is_sorted_rounded_and_byte_identical(tmp_path: Path) -> None:
    accounts, clusters = _records()
    summary = write_results(tmp_path / "one", accounts, clusters, {"stage": {"t": 1.23456789}})
    write_results(
        tmp_path / "two", list(reversed(accounts)), clusters, {"stage": {"t": 1.23456789}}
    )
    for name in ("accounts.jsonl", "clusters.jsonl", "summary.json", "report.html"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()

    lines = [
        orjson.loads(x) for x in (tmp_path / "one" / "accounts.jsonl").read_bytes().splitlines()
    ]
    assert [x["account_id"] for x in lines] == ["a", "b", "c"]
    assert list(lines[0]) == ["account_id", "score", "verdict", "cluster_id", "reasons"]
    assert [r["summary"] for r in lines[0]["reasons"]] == ["strong", "weak"]
    assert lines[1]["score"] == 0.123457
    cluster = orjson.loads((tmp_path / "one" / "clusters.jsonl").read_bytes())
    assert cluster["account_ids"] == ["a", "c"]
    assert cluster["first_seen"] == "2026-02-01T12:00:00Z"
    assert cluster["indicators"] == [
        {"kind": "client_ip", "value": "203.0.113.0/24", "accounts": 2}
    ]
    assert summary["contract_version"] == 1
    assert summary["counts"]["verdicts"] == {"benign": 1, "review": 1, "distillation": 1}
    assert summary["stage"]["t"] == 1.234568
    text = (tmp_path / "one" / "summary.json").read_text()
    assert text.index('"contract_version"') < text.index('"counts"')  # keys sorted


def test_round_trip(tmp_path: Path) -> None:
    accounts, clusters = _records()
    write_results(tmp_path, accounts, clusters, {"counts": {"exchanges_read": 5}})
    results = read_results(tmp_path)
    by_id = {a.account_id: a for a in results.accounts}
    assert by_id["a"].reasons[0] == Reason("DG-2", "strong", 0.7)
    assert results.clusters[0].first_seen == T0
    assert results.summary["counts"]["exchanges_read"] == 5


@pytest.mark.parametrize(
    ("account", "message"),
    [
        (AccountResult("x", 1.5, "benign"), "score must be a number in"),
        (AccountResult("x", float("nan"), "benign"), "score must be a number in"),
        (AccountResult("x", 0.5, "suspicious"), "verdict must be one of"),
        (AccountResult("x", 0.5, "review", "nope"), "not a cluster"),
        (
            AccountResult("x", 0.5, "review", None, [Reason("d", "s", float("inf"))]),
            r"reasons\[0\].weight",
        ),
    ],
)
def test_writer_refuses_invalid_records(
    tmp_path: Path, account: AccountResult, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        write_results(tmp_path, [account], [], {})
    assert not (tmp_path / "accounts.jsonl").exists()


def test_writer_refuses_inconsistent_clusters_and_naive_times(tmp_path: Path) -> None:
    accounts, clusters = _records()
    bad = ClusterResult("c1", ["a"], 0.5, "review", 1)
    with pytest.raises(ValueError, match="exactly the accounts"):
        write_results(tmp_path, accounts, [bad], {})
    naive = ClusterResult("c1", ["a", "c"], 0.5, "review", 1, first_seen=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="no time zone"):
        write_results(tmp_path, accounts, [naive], {})
    with pytest.raises(ValueError, match="appears twice"):
        write_results(tmp_path, [accounts[1], accounts[1]], clusters, {})


def _corrupt(
    directory: Path, name: str, line: int, change: dict[str, object], *, foreign: bool = True
) -> None:
    """Change one line; ``foreign``: as another tool would write it, with no checksums in
    ``summary.json`` (ours records them, and a hand edit is then refused as such)."""
    path = directory / name
    rows = [orjson.loads(x) for x in path.read_bytes().splitlines()]
    rows[line - 1].update(change)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    if foreign:
        summary = orjson.loads((directory / "summary.json").read_bytes())
        del summary["files"]
        (directory / "summary.json").write_bytes(orjson.dumps(summary))


@pytest.mark.parametrize(
    ("name", "line", "change", "message"),
    [
        ("accounts.jsonl", 2, {"score": 2}, "accounts.jsonl, line 2, field 'score'"),
        ("accounts.jsonl", 2, {"score": "high"}, "accounts.jsonl, line 2, field 'score'"),
        ("accounts.jsonl", 3, {"verdict": "maybe"}, "accounts.jsonl, line 3, field 'verdict'"),
        ("accounts.jsonl", 1, {"account_id": None}, "accounts.jsonl, line 1, field 'account_id'"),
        (
            "accounts.jsonl",
            1,
            {"reasons": [{"detector": "d", "summary": "s", "weight": "x"}]},
            r"accounts.jsonl, line 1, field 'reasons\[0\].weight'",
        ),
        ("accounts.jsonl", 2, {"account_id": "a"}, "line 2, field 'account_id'.*earlier line"),
        ("accounts.jsonl", 2, {"cluster_id": "zz"}, "line 2, field 'cluster_id'.*not a cluster"),
        ("clusters.jsonl", 1, {"first_seen": "yesterday"}, "line 1, field 'first_seen'"),
        ("clusters.jsonl", 1, {"account_ids": ["a"]}, "line 1, field 'account_ids'"),
        ("clusters.jsonl", 1, {"exchanges": -3}, "line 1, field 'exchanges'"),
        (
            "clusters.jsonl",
            1,
            {"indicators": [{"kind": "ip"}]},
            r"line 1, field 'indicators\[0\].value'",
        ),
    ],
)
def test_reader_names_file_line_and_field(
    tmp_path: Path, name: str, line: int, change: dict[str, object], message: str
) -> None:
    accounts, clusters = _records()
    write_results(tmp_path, accounts, clusters, {})
    _corrupt(tmp_path, name, line, change)
    with pytest.raises(UserError, match=message):
        read_results(tmp_path)


def test_reader_reads_the_files_as_one_set(tmp_path: Path) -> None:
    """A reader landing between the writer's replacements (the guard reloading while a scan
    rewrites the directory) is told to wait, never handed one scan's accounts with another
    scan's clusters."""
    accounts, clusters = _records()
    old, new = tmp_path / "old", tmp_path / "new"
    write_results(old, accounts, clusters, {})
    renamed = [replace(a, cluster_id="c2" if a.cluster_id else None) for a in accounts]
    write_results(new, renamed, [replace(clusters[0], cluster_id="c2")], {})
    summary = orjson.loads((new / "summary.json").read_bytes())
    assert summary["files"]["accounts.jsonl"] == {
        "sha256": hashlib.sha256((new / "accounts.jsonl").read_bytes()).hexdigest(),
        "bytes": (new / "accounts.jsonl").stat().st_size,
    }
    for name in ("accounts.jsonl", "clusters.jsonl"):  # the writer's order
        shutil.copyfile(new / name, old / name)
        with pytest.raises(MismatchedResults, match=r"accounts\.jsonl is not the file summary"):
            read_results(old)
    shutil.copyfile(new / "summary.json", old / "summary.json")
    assert [c.cluster_id for c in read_results(old).clusters] == ["c2"]


def test_reader_refuses_a_hand_edited_file_and_a_malformed_checksum_record(
    tmp_path: Path,
) -> None:
    accounts, clusters = _records()
    write_results(tmp_path, accounts, clusters, {})
    _corrupt(tmp_path, "clusters.jsonl", 1, {"score": 0.1}, foreign=False)
    with pytest.raises(MismatchedResults, match=r"clusters\.jsonl.*changed by hand"):
        read_results(tmp_path)
    summary = orjson.loads((tmp_path / "summary.json").read_bytes())
    summary["files"] = ["accounts.jsonl"]
    (tmp_path / "summary.json").write_bytes(orjson.dumps(summary))
    with pytest.raises(UserError, match=r"summary\.json: field 'files' must be an object"):
        read_results(tmp_path)


def test_reader_reports_invalid_json_and_missing_files(tmp_path: Path) -> None:
    accounts, clusters = _records()
    write_results(tmp_path, accounts, clusters, {})
    with (tmp_path / "accounts.jsonl").open("ab") as handle:
        handle.write(b"{oops\n")
    with pytest.raises(UserError, match=r"accounts\.jsonl, line 4: invalid JSON"):
        read_results(tmp_path)
    (tmp_path / "summary.json").unlink()
    (tmp_path / "accounts.jsonl").write_bytes(b"")
    (tmp_path / "clusters.jsonl").write_bytes(b"")
    with pytest.raises(UserError, match=r"summary\.json is missing"):
        read_results(tmp_path)
    with pytest.raises(UserError, match="not a directory"):
        read_results(tmp_path / "nowhere")


def test_unknown_fields_are_ignored(tmp_path: Path) -> None:
    accounts, clusters = _records()
    write_results(tmp_path, accounts, clusters, {})
    _corrupt(tmp_path, "accounts.jsonl", 1, {"future_field": [1, 2]})
    assert len(read_results(tmp_path).accounts) == 3


def test_report_escapes_user_data_and_is_offline(tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>"
    accounts = [
        AccountResult(evil, 0.9, "distillation", None, [Reason("d", f"prompt said {evil}", 1.0)]),
        AccountResult("ok", 0.1, "benign"),
    ]
    write_results(tmp_path, accounts, [], {"note": evil})
    html = (tmp_path / "report.html").read_text()
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "src=" not in html and "<link" not in html
    assert "<svg" in html  # the score histogram is inline
