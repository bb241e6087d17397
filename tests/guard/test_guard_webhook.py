"""The verdict webhook as deployed: `distillguard guard serve` in a subprocess, real HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from guard_services import free_port, wait_for_port, write_verdicts
from test_guard_core import WRAPPER, policy_text

from distillguard.cli.main import main


class Webhook:
    def __init__(self, directory: Path, *extra: str, fail_mode: str = "open") -> None:
        self.directory = directory
        self.policy = directory / "policy.yaml"
        self.policy.write_text(policy_text(fail_mode))
        self.results = write_verdicts(directory / "scan", ["bad-1"], benign=["good-1"])
        self.appeals = directory / "appeals.jsonl"
        self.audit = directory / "audit.jsonl"
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "distillguard", "guard", "serve",
                "--policy", str(self.policy), "--results", str(self.results),
                "--appeals", str(self.appeals), "--audit", str(self.audit),
                "--port", str(self.port), *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(directory / "serve.log", "wb"),  # noqa: SIM115 - closed with the process
        )  # fmt: skip
        wait_for_port(self.port, timeout=60)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    def decide(self, body: object) -> httpx.Response:
        return self.client.post("/v1/decide", json=body)

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        self.process.wait(timeout=20)


@pytest.fixture(scope="module")
def webhook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webhook]:
    """One server for the module (tests run in order; the last one changes its files)."""
    service = Webhook(tmp_path_factory.mktemp("webhook"))
    yield service
    service.stop()


def eventually(check: object, timeout: float = 10.0) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.1)


def test_webhook_answers_verdict_action_score_reasons(webhook: Webhook) -> None:
    good = webhook.decide({"account_id": "good-1", "messages": [{"role": "user", "content": "hi"}]})
    assert good.status_code == 200
    body = good.json()
    assert {"verdict", "action", "score", "reasons", "allowed"} <= body.keys()
    assert (body["verdict"], body["action"], body["allowed"]) == ("benign", "allow", True)
    bad = webhook.decide({"account_id": "bad-1", "prompt_text": "hello"}).json()
    assert (bad["action"], bad["allowed"], bad["cluster_id"]) == ("cluster_takedown", False, "c-1")
    assert bad["reasons"][0]["summary"]
    health = webhook.client.get("/healthz").json()
    assert health["store"] == "up" and health["verdicts"]["accounts"] == 2


def test_malformed_requests_get_422_naming_the_field(webhook: Webhook) -> None:
    cases = {
        b"{not json": "not valid JSON",
        b'{"messages": []}': "account_id: is required",
        b'{"account_id": "a", "messages": "hi"}': "messages: must be a list",
        b'{"account_id": 7}': "account_id: must be a string",
        b"[]": "body: must be a JSON object",
    }
    for raw, expected in cases.items():
        response = webhook.client.post(
            "/v1/decide", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, raw
        assert expected in response.json()["error"]
    assert webhook.decide({"account_id": "good-1"}).status_code == 200  # still serving


def test_appeal_and_new_files_take_effect_without_restart(webhook: Webhook) -> None:
    refused = webhook.decide({"account_id": "bad-1"}).json()
    assert not refused["allowed"]
    status = main(
        [
            "appeal", "bad-1", "--analyst", "maria", "--reason", "verified research lab",
            "--appeals", str(webhook.appeals), "--audit", str(webhook.audit),
            "--decision", refused["decision_id"],
        ]
    )  # fmt: skip
    assert status == 0
    eventually(lambda: webhook.decide({"account_id": "bad-1"}).json()["allowed"])
    assert webhook.decide({"account_id": "bad-1"}).json()["rule"] == "appeal"
    # a broken policy is refused; the previous one keeps serving
    webhook.policy.write_text("version: 1\nrules: [{action: explode}]\n")
    eventually(lambda: webhook.client.get("/healthz").json()["policy"]["error"] is not None)
    assert "rules[0].action" in webhook.client.get("/healthz").json()["policy"]["error"]
    assert webhook.decide({"account_id": "good-1"}).json()["policy_revision"] == "r1"
    # the verdict file replaced while serving: good-1 is now in a flagged cluster
    write_verdicts(webhook.results, ["good-1"], cluster_id="c-2", score=0.97)
    eventually(lambda: webhook.decide({"account_id": "good-1"}).json()["cluster_id"] == "c-2")
    kinds = [line for line in webhook.audit.read_text().splitlines() if '"kind":"appeal"' in line]
    assert len(kinds) == 1


def test_decision_deadline_applies_the_fail_mode(tmp_path: Path) -> None:
    # A "Redis" that accepts connections and never answers: every store call takes the
    # store's full socket timeout (50 ms), longer than the webhook's 10 ms deadline.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    store = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
    service = Webhook(tmp_path, "--timeout-ms", "10", "--store", store, fail_mode="open")
    prompt = WRAPPER.format(n=1, m=2, k=3)
    try:
        body = service.decide({"account_id": "anyone", "prompt_text": prompt}).json()
        assert body["degraded"] and "no decision within 10 ms" in body["degraded"]
        assert (body["allowed"], body["action"], body["verdict"]) == (True, "allow", "unscored")
        service.policy.write_text(policy_text("closed").replace("revision: r1", "revision: r2"))
        eventually(lambda: service.client.get("/healthz").json()["policy"]["revision"] == "r2")
        for _ in range(3):  # past the deadline, or the store's open circuit: both fail closed
            body = service.decide({"account_id": "anyone", "prompt_text": prompt}).json()
            assert body["degraded"] and (body["allowed"], body["action"]) == (False, "block")
    finally:
        service.stop()
        silent.close()
