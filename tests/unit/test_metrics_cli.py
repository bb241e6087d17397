"""`distillguard evaluate` end to end on tiny files, and the labels reader's errors."""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson
import pytest

from distillguard.cli import evaluate as evaluate_cli
from distillguard.errors import UserError
from distillguard.evaluation.labels import read_labels
from distillguard.results import AccountResult, ClusterResult, Reason, write_results


def _write_labels(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


LABEL_ROWS: list[dict[str, object]] = [
    {"account_id": "a1", "population": "p", "label": "distillation", "campaign": "reasoning_cot",
     "exchanges": 40},
    {"account_id": "a2", "population": "p", "label": "distillation", "campaign": "reasoning_cot",
     "exchanges": 10},
    {"account_id": "b1", "population": "labeling_firm", "label": "benign", "campaign": None,
     "exchanges": 5},
    {"account_id": "b2", "population": "casual_chat", "label": "benign", "campaign": None,
     "exchanges": 5},
]  # fmt: skip


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    evaluate_cli.register(parser)
    return parser.parse_args(argv)


def test_evaluate_cli_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = _write_labels(tmp_path / "labels.jsonl", LABEL_ROWS)
    results = tmp_path / "results"
    write_results(
        results,
        [
            AccountResult("a1", 0.9, "distillation", "c1", [Reason("t", "shared template", 0.9)]),
            AccountResult("a2", 0.6, "review", "c1"),
            AccountResult("b1", 0.7, "review"),
            AccountResult("b2", 0.1, "benign"),
        ],
        [ClusterResult("c1", ["a1", "a2"], 0.9, "distillation", 50)],
        {},
    )
    status = evaluate_cli.run(_parse(["--labels", str(labels), "--results", str(results)]))
    assert status == 0
    printed = capsys.readouterr().out
    assert "labeling_firm" in printed and "reasoning_cot" in printed

    report = orjson.loads((results / "evaluation.json").read_bytes())["evaluation"]
    assert report["flagged"]["recall"] == 1.0
    assert report["flagged"]["precision"] == pytest.approx(2 / 3)
    assert report["distillation"]["precision"] == 1.0
    assert report["roc_auc"] == 0.75  # a2 (0.6) ranks below b1 (0.7): 3 of 4 pairs
    assert report["clusters"]["purity"] == 1.0
    assert report["clusters"]["completeness"] == 1.0
    populations = {p["population"]: p for p in report["benign_populations"]}
    assert populations["labeling_firm"]["flag_rate"] == 1.0

    out = tmp_path / "elsewhere" / "eval.json"
    evaluate_cli.run(
        _parse(["--labels", str(labels), "--results", str(results), "--json", str(out)])
    )
    assert orjson.loads(out.read_bytes())["evaluation"]["coverage"]["labelled_accounts"] == 4


def test_evaluate_cli_reports_missing_results(tmp_path: Path) -> None:
    labels = _write_labels(tmp_path / "labels.jsonl", LABEL_ROWS)
    with pytest.raises(UserError, match=r"accounts\.jsonl is missing"):
        evaluate_cli.run(_parse(["--labels", str(labels), "--results", str(tmp_path)]))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"{not json", "line 2: invalid JSON"),
        (b'{"population": "p", "label": "benign", "exchanges": 1}', "line 2, field 'account_id'"),
        (
            b'{"account_id": "x", "population": "p", "label": "evil", "exchanges": 1}',
            "line 2, field 'label'",
        ),
        (
            b'{"account_id": "x", "population": "p", "label": "benign", "exchanges": -1}',
            "line 2, field 'exchanges'",
        ),
        (
            b'{"account_id": "x", "population": "p", "label": "benign", "exchanges": "9"}',
            "line 2, field 'exchanges'",
        ),
        (
            b'{"account_id": "a1", "population": "p", "label": "benign", "exchanges": 1}',
            "line 2, field 'account_id'.*earlier line",
        ),
    ],
)
def test_labels_errors_name_line_and_field(tmp_path: Path, line: bytes, message: str) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_bytes(orjson.dumps(LABEL_ROWS[0]) + b"\n" + line + b"\n")
    with pytest.raises(UserError, match=message):
        read_labels(path)


def test_labels_accept_gzip_and_open_population_names(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "labels.jsonl.gz"
    rows = [*LABEL_ROWS, {"account_id": "n1", "population": "brand_new_population",
                          "label": "benign", "campaign": None, "exchanges": 0}]  # fmt: skip
    path.write_bytes(gzip.compress(b"".join(orjson.dumps(r) + b"\n" for r in rows)))
    labels = read_labels(path)
    assert labels["n1"].population == "brand_new_population"
    assert labels["a1"].is_distillation
