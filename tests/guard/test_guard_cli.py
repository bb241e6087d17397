"""The guard's CLI refuses bad input with one clear message and status 2, before serving."""

from __future__ import annotations

from pathlib import Path

import pytest

from distillguard.cli.main import main


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # rich wraps error messages at the terminal width


def test_serve_refuses_a_broken_policy_before_listening(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nbands: {review: 0.9, distillation: 0.5}\n")
    assert main(["guard", "serve", "--policy", str(policy), "--port", "1"]) == 2
    assert "field 'bands.review': must not be above bands.distillation" in capsys.readouterr().err


def test_serve_needs_a_policy_and_a_known_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["guard", "serve"]) == 2
    assert "needs --policy FILE" in capsys.readouterr().err
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\n")
    assert main(["guard", "serve", "--policy", str(policy), "--store", "mongodb://x"]) == 2
    assert "use 'memory' or a Redis URL" in capsys.readouterr().err
    settings = tmp_path / "guard.yaml"
    settings.write_text("policy: policy.yaml\ncolour: red\n")
    assert main(["guard", "serve", "--settings", str(settings)]) == 2
    assert "field 'colour': unknown" in capsys.readouterr().err


def test_appeal_needs_who_by_whom_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    appeals = tmp_path / "appeals.jsonl"
    assert main(["appeal", "acct-1", "--appeals", str(appeals)]) == 2
    assert "an appeal needs --analyst, --reason" in capsys.readouterr().err
    assert (
        main(["appeal", "acct-1", "--appeals", str(appeals), "--analyst", "ana", "--reason", "ok"])
        == 0
    )
    assert main(["appeal", "--list", "--appeals", str(appeals)]) == 0
    assert "acct-1" in capsys.readouterr().out
    appeals.write_text(appeals.read_text() + '{"account_id": 3}\n')
    assert main(["appeal", "--list", "--appeals", str(appeals)]) == 2
    assert "line 2, field 'appeal_id'" in capsys.readouterr().err
