"""End to end: a real LiteLLM proxy with the distillguard guardrail and logger, a mock model,
the OpenAI SDK as client, a scripted campaign and a customer; then the batch scan on what
the proxy logged."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from guard_services import free_port
from test_guard_core import CHAT, WRAPPER, policy_text

from distillguard.cli.main import main
from distillguard.guard.adapters.litellm import protect_response
from distillguard.guard.adapters.litellm_config import write_proxy_files
from distillguard.policy.audit import read_audit
from distillguard.policy.model import Protection
from distillguard.results.reader import read_results

ANSWER = "The answer is 42."
MODELS = f"""
model_list:
  - model_name: mock-gpt
    litellm_params:
      model: openai/mock-gpt
      api_key: sk-unused
      mock_response: "{ANSWER}"
"""
SETTINGS = """
policy: policy.yaml
store: memory
audit: audit.jsonl
appeals: appeals.jsonl
exchange_log: exchanges.jsonl
"""


class Proxy:
    """`litellm --config` on a free loopback port, configured as docs/guard.md says."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # a 10-minute window: the campaign's rate builds up however slow the machine is
        policy = policy_text().replace("window_seconds: 60", "window_seconds: 600")
        (directory / "policy.yaml").write_text(policy)
        settings = write_proxy_files(directory, MODELS, SETTINGS)
        self.port = free_port()
        env = {
            **os.environ,
            "DISTILLGUARD_GUARD_SETTINGS": str(settings),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no network fetch at start-up
        }
        self.log = (directory / "proxy.log").open("wb")
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "litellm"),
                "--config", "config.yaml", "--host", "127.0.0.1", "--port", str(self.port),
            ],
            cwd=directory,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._wait_ready()
        self.client = openai.OpenAI(
            base_url=f"http://127.0.0.1:{self.port}/v1", api_key="sk-test", max_retries=0
        )

    def _wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}/health/liveliness"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"proxy exited: {(self.directory / 'proxy.log').read_text()}")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise TimeoutError("LiteLLM proxy did not come up")

    def ask(self, account: str, prompt: str) -> tuple[int, str]:
        try:
            reply = self.client.chat.completions.create(
                model="mock-gpt", messages=[{"role": "user", "content": prompt}], user=account
            )
        except openai.APIStatusError as error:
            return error.status_code, str(error.body)
        return 200, reply.choices[0].message.content or ""

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    service = Proxy(tmp_path_factory.mktemp("litellm"))
    yield service
    service.stop()


def test_campaign_is_throttled_then_blocked_while_a_customer_is_served(
    proxy: Proxy, tmp_path: Path
) -> None:
    campaign: list[int] = []
    for i in range(200):
        status, body = proxy.ask(f"camp-{i % 5}", WRAPPER.format(n=i, m=i * 3, k=i % 7 + 2))
        campaign.append(status)
        if status != 200:
            assert "distillguard" in body
        if i % 10 == 0:
            assert proxy.ask("customer-1", f"{CHAT[i % 3]} ({i})") == (200, ANSWER)
    assert campaign[0] == 200
    first_429, first_403 = campaign.index(429), campaign.index(403)
    assert first_429 < first_403
    assert set(campaign[first_403:]) == {403}
    assert set(campaign) == {200, 429, 403}

    audit = list(read_audit(proxy.directory / "audit.jsonl"))
    assert {e["action"] for e in audit if e["account_id"].startswith("camp-")} >= {
        "throttle",
        "block",
    }
    assert all(e["account_id"] != "customer-1" or e["allowed"] for e in audit)

    # the logged exchanges feed the batch scan, which does not flag the customer
    log = proxy.directory / "exchanges.jsonl"
    deadline = time.monotonic() + 10
    while log.read_text().count('"customer-1"') < 20 and time.monotonic() < deadline:
        time.sleep(0.1)  # the logger runs after the response
    out = tmp_path / "scan"
    assert main(["scan", "--exchanges", str(log), "--out", str(out)]) == 0
    results = read_results(out)
    verdicts = {a.account_id: a.verdict for a in results.accounts}
    assert verdicts["customer-1"] == "benign"
    assert {f"camp-{i}" for i in range(5)} <= verdicts.keys()
    assert results.summary


def test_refusals_carry_the_decision_and_bad_bodies_are_refused(proxy: Proxy) -> None:
    try:
        proxy.client.chat.completions.create(
            model="mock-gpt",
            messages=[{"role": "user", "content": WRAPPER.format(n=1, m=2, k=3)}],
            user="camp-0",
        )
    except openai.PermissionDeniedError as error:
        assert "block" in str(error.body) and "DG-70" in str(error.body)
    else:
        pytest.fail("a blocked account was served")
    no_user = httpx.post(
        f"http://127.0.0.1:{proxy.port}/v1/chat/completions",
        headers={"Authorization": "Bearer sk-test"},
        json={"model": "mock-gpt", "messages": "not a list", "user": "x"},
        timeout=10,
    )
    assert no_user.status_code in (400, 422)


def test_protect_outputs_withholds_or_shortens_reasoning() -> None:
    from litellm import ModelResponse

    def reply() -> ModelResponse:
        return ModelResponse(
            choices=[
                {
                    "message": {
                        "role": "assistant",
                        "content": ANSWER,
                        "reasoning_content": "step " * 200,
                    }
                }
            ]
        )

    withheld = reply()
    protect_response(withheld, Protection.WITHHOLD)
    assert getattr(withheld.choices[0].message, "reasoning_content", None) is None
    assert withheld.choices[0].message.content == ANSWER
    short = reply()
    protect_response(short, Protection.SUMMARISE)
    assert short.choices[0].message.reasoning_content.endswith("[shortened by distillguard]")
    assert len(short.choices[0].message.reasoning_content) < 300
