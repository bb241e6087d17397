"""Arbitrary input never crashes a reader and never loses a record."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from distillguard.engine.store import open_store
from distillguard.ingest import ingest_files

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)
near_records = st.fixed_dictionaries(
    {},
    optional={
        "exchange_id": st.one_of(st.text(max_size=3), st.integers(-5, 5)),
        "timestamp": st.one_of(st.integers(-(2**63), 2**63), st.floats(), st.text(max_size=25)),
        "account_id": st.one_of(st.text(max_size=3), st.none()),
        "model": st.text(max_size=3),
        "messages": st.one_of(json_values, st.just([{"role": "user", "content": "x"}])),
        "params": json_values,
        "tools": json_values,
        "input_tokens": json_values,
        "resourceSpans": json_values,
        "request_id": st.text(max_size=3),
    },
)
lines = st.one_of(
    st.binary(max_size=40).map(lambda data: data.replace(b"\n", b" ")),
    json_values.map(orjson.dumps),
    near_records.map(orjson.dumps),
)
SETTINGS = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _non_blank(content: list[bytes]) -> int:
    """Non-blank lines; a UTF-8 byte-order mark opening the file marks its encoding and is
    no part of its first line (a file of nothing but the mark holds no record)."""
    lines = list(content)
    if lines and lines[0].startswith(b"\xef\xbb\xbf"):
        lines[0] = lines[0][3:]
    return sum(1 for line in lines if line.strip())


def _ingest(tmp_path: Path, name: str, data: bytes, fmt: str) -> Any:
    path = tmp_path / name
    path.write_bytes(data)
    return ingest_files(
        open_store(), [path], fmt=fmt, quarantine_path=tmp_path / "q.jsonl", progress=False
    )


@SETTINGS
@given(content=st.lists(lines, max_size=12), fmt=st.sampled_from(["contract", "litellm", "auto"]))
def test_jsonl_readers_account_for_every_line(
    tmp_path: Path, content: list[bytes], fmt: str
) -> None:
    data = b"\n".join(content)
    # A file that starts with the gzip magic is read as gzip (one record if it is broken);
    # one that starts with the Parquet magic is read as Parquet (a clear error if it is not).
    assume(not data.startswith((b"\x1f\x8b", b"PAR1")))
    report = _ingest(tmp_path, "in.jsonl", data, fmt)
    if report.files[0].format == "otel":
        assert report.read == report.loaded + report.quarantined
        return
    assert report.read == _non_blank(content)
    assert report.loaded + report.quarantined == report.read


@SETTINGS
@given(content=st.lists(lines, max_size=8), cut=st.integers(min_value=0, max_value=400))
def test_gzip_truncation_never_crashes(tmp_path: Path, content: list[bytes], cut: int) -> None:
    data = gzip.compress(b"\n".join(content))
    report = _ingest(tmp_path, "in.jsonl.gz", data[: max(cut, 10)], "contract")
    assert report.loaded + report.quarantined == report.read


@SETTINGS
@given(spans=st.lists(near_records | json_values, max_size=4), raw=st.binary(max_size=30))
def test_otel_reader_survives_arbitrary_documents(
    tmp_path: Path, spans: list[Any], raw: bytes
) -> None:
    documents = [
        {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]},
        {"resourceLogs": [{"scopeLogs": [{"logRecords": spans}]}]},
    ]
    data = (
        b"\n".join(orjson.dumps(document) for document in documents)
        + b"\n"
        + raw.replace(b"\n", b"")
    )
    report = _ingest(tmp_path, "in.jsonl", data, "otel")
    assert report.loaded + report.quarantined == report.read
