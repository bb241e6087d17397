"""The ingest driver: round trips, every kind of bad input, duplicates, counts, CLI."""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from distillguard.cli import ingest as ingest_cli
from distillguard.engine.store import open_store
from distillguard.engine.texts import with_prompt_text
from distillguard.errors import UserError
from distillguard.ingest import IngestReport, ingest_files


def record(index: int, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "exchange_id": f"ex-{index}",
        "timestamp": 1_740_830_400 + index,
        "account_id": f"acct-{index % 3}",
        "model": "frontier-1",
        "messages": [{"role": "user", "content": f"question {index}"}],
        "params": {"temperature": 0.5},
        "output_tokens": index,
    }
    base.update(changes)
    return base


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    data = b"".join(
        (line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines
    )
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def run(
    tmp_path: Path, exchanges: list[Path], accounts: list[Path] = (), **options: Any
) -> tuple[Any, IngestReport]:  # type: ignore[assignment]
    con = open_store()
    report = ingest_files(
        con, exchanges, accounts, quarantine_path=tmp_path / "q.jsonl", progress=False, **options
    )
    return con, report


def quarantined(report: IngestReport) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in report.quarantine_path.read_bytes().splitlines()]


def loaded(con: Any, table: str = "exchanges") -> list[dict[str, Any]]:
    rows = con.table(table)
    if table == "exchanges":
        rows = with_prompt_text(con, rows)
    return rows.order_by("source_line").to_pyarrow().to_pylist()  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", ["ex.jsonl", "ex.jsonl.gz", "ex.json"])
def test_jsonl_round_trip(tmp_path: Path, name: str) -> None:
    path = write_jsonl(tmp_path / name, [record(i) for i in range(5)])
    con, report = run(tmp_path, [path], batch_rows=2)
    rows = loaded(con)
    assert [row["exchange_id"] for row in rows] == [f"ex-{i}" for i in range(5)]
    assert [row["source_line"] for row in rows] == [1, 2, 3, 4, 5]
    assert rows[3]["prompt_text"] == "question 3" and rows[3]["temperature"] == 0.5
    assert rows[3]["ts"].timestamp() == 1_740_830_403
    assert (report.read, report.loaded, report.quarantined) == (5, 5, 0)


def test_parquet_round_trip_with_nested_messages(
    tmp_path: Path, canonical_exchanges: dict[str, dict[str, Any]]
) -> None:
    records = [record(i) for i in range(4)]
    records[1]["messages"] = [{"role": "user", "content": "only text"}]
    table = pa.Table.from_pylist(records)
    pq.write_table(table, tmp_path / "ex.parquet", row_group_size=2)
    con, report = run(tmp_path, [tmp_path / "ex.parquet"])
    rows = loaded(con)
    assert [row["exchange_id"] for row in rows] == ["ex-0", "ex-1", "ex-2", "ex-3"]
    assert (rows[1]["n_messages"], rows[1]["prompt_text"]) == (1, "only text")
    assert not (rows[1]["has_image"] or rows[1]["has_tool_parts"] or rows[1]["has_system_message"])
    assert "messages" not in canonical_exchanges["ex-1"]  # searched once per distinct text
    assert "messages" not in rows[1]  # the store keeps flags, not the conversation JSON
    assert report.files[0].format == "contract" and report.loaded == 4


def test_parquet_with_json_text_messages(tmp_path: Path) -> None:
    rows = [dict(record(0), messages=orjson.dumps(record(0)["messages"]).decode())]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "ex.parquet")
    con, report = run(tmp_path, [tmp_path / "ex.parquet"])
    assert report.loaded == 1 and loaded(con)[0]["prompt_text"] == "question 0"


def test_every_bad_line_is_quarantined_with_reason_and_line(tmp_path: Path) -> None:
    lines: list[Any] = [
        record(0),
        b"{not json",
        b"[1, 2]",
        record(3, account_id=None),
        record(4, timestamp="soon"),
        record(5, messages="hi"),
        b'{"exchange_id": "x\xff"}',
        b"",
        record(0),  # duplicate of line 1
        record(9),
    ]
    path = write_jsonl(tmp_path / "ex.jsonl", lines)
    con, report = run(tmp_path, [path])
    assert [row["exchange_id"] for row in loaded(con)] == ["ex-0", "ex-9"]
    rejected = {entry["source_line"]: entry for entry in quarantined(report)}
    assert sorted(rejected) == [2, 3, 4, 5, 6, 7, 9]
    assert rejected[2]["reason"].startswith("not valid JSON")
    assert rejected[3]["reason"] == "expected a JSON object, got list"
    assert rejected[4]["field"] == "account_id"
    assert rejected[4]["reason"] == "account_id: required field is missing"
    assert rejected[5]["field"] == "timestamp" and "RFC 3339" in rejected[5]["reason"]
    assert rejected[6]["reason"] == "messages: expected a list, got str"
    assert "not valid UTF-8" in rejected[7]["reason"] and "\\xff" in rejected[7]["raw"]
    assert rejected[9]["field"] == "exchange_id" and "duplicate" in rejected[9]["reason"]
    assert (report.read, report.loaded, report.quarantined) == (9, 2, 7)
    assert report.reasons["invalid_json"] == 1 and report.reasons["exchange_id: duplicate"] == 1
    assert con.table("quarantine").count().execute() == 7


def test_duplicates_against_the_store_and_across_batches(tmp_path: Path) -> None:
    first = write_jsonl(tmp_path / "a.jsonl", [record(i) for i in range(6)])
    second = write_jsonl(tmp_path / "b.jsonl", [record(i) for i in range(4, 10)] + [record(8)])
    store = tmp_path / "store.duckdb"
    con = open_store(store)
    ingest_files(con, [first], quarantine_path=tmp_path / "q1.jsonl", progress=False)
    con.disconnect()
    con = open_store(store)
    report = ingest_files(
        con, [second], quarantine_path=tmp_path / "q2.jsonl", progress=False, batch_rows=2
    )
    assert (report.loaded, report.quarantined) == (4, 3)
    assert sorted(entry["source_line"] for entry in quarantined(report)) == [1, 2, 7]
    assert con.table("exchanges").count().execute() == 10


def test_truncated_gzip_keeps_lines_before_the_cut(tmp_path: Path) -> None:
    data = gzip.compress(b"".join(orjson.dumps(record(i)) + b"\n" for i in range(200)))
    path = tmp_path / "ex.jsonl.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    _, report = run(tmp_path, [path])
    entries = quarantined(report)
    assert len(entries) == 1
    assert "gzip stream ends early" in entries[0]["reason"] or "cut off" in entries[0]["reason"]
    assert report.loaded == report.read - 1 > 0
    assert report.reasons["gzip_truncated"] == 1


def test_raw_is_truncated_in_quarantine(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "ex.jsonl", [record(0, model=None, note="x" * 10_000)])
    _, report = run(tmp_path, [path])
    raw = quarantined(report)[0]["raw"]
    assert len(raw) < 4200 and raw.endswith("characters in all]")


def test_accounts_are_loaded_and_checked(tmp_path: Path) -> None:
    exchanges = write_jsonl(tmp_path / "ex.jsonl", [record(0)])
    accounts = write_jsonl(
        tmp_path / "acc.jsonl",
        [
            {"account_id": "acct-0", "country": "fr", "program": "paid"},
            {"account_id": "acct-0", "country": "fr"},
            {"account_id": "acct-1", "verification": "retina"},
        ],
    )
    con, report = run(tmp_path, [exchanges], [accounts])
    assert [row["country"] for row in loaded(con, "accounts")] == ["FR"]
    assert report.files[1].reasons == {"account_id: duplicate": 1, "verification: bad_value": 1}
    assert report.loaded_into("accounts") == 1


def test_missing_file_is_a_user_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"nope\.jsonl: no such file"):
        run(tmp_path, [tmp_path / "nope.jsonl"])
    with pytest.raises(UserError, match="is a directory"):
        run(tmp_path, [tmp_path])


def test_format_auto_sniffs_each_file() -> None:
    from distillguard.ingest import sniff_format

    fixtures = Path(__file__).parent.parent / "fixtures" / "ingest"
    assert sniff_format(fixtures / "otel_current.jsonl") == "otel"
    assert sniff_format(fixtures / "litellm_standard.jsonl") == "litellm"
    assert sniff_format(fixtures / "litellm_spendlogs.jsonl") == "litellm"


def test_cli_prints_summary_and_exits_zero_with_quarantine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "ex.jsonl", [record(0), b"oops"])
    parser = argparse.ArgumentParser()
    ingest_cli.register(parser)
    args = parser.parse_args(
        ["--exchanges", str(path), "--store", str(tmp_path / "s.duckdb"), "--no-progress"]
    )
    assert ingest_cli.run(args) == 0
    out = capsys.readouterr().out
    assert "quarantined" in out and "s.duckdb.quarantine.jsonl" in out.replace("\n", "")
    assert (tmp_path / "s.duckdb.quarantine.jsonl").exists()
