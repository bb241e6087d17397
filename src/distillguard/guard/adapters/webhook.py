"""The HTTP verdict webhook: request in, ``{verdict, action, score, reasons}`` out.

The shape gateways use for external guardrails (Kong, Envoy ext_proc bridges, LiteLLM's
generic guardrail API, an nginx ``auth_request``): ``POST /v1/decide`` with the request's
account, prompt and caller; the answer is always HTTP 200 with ``allowed`` and the action
to take, so a gateway never confuses "refuse this caller" with "the guard is broken".
A malformed body gets HTTP 422 naming the field.

Each decision has a deadline (``timeout_ms``).  Past it, or when the state store is down,
the policy's ``fail_mode`` answers: ``open`` serves the request (``allowed: true``),
``closed`` refuses it; ``degraded`` says why.  ``GET /healthz`` reports the store, the
policy revision and any reload error.
"""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from distillguard.guard.request import MalformedRequest, parse_request
from distillguard.guard.settings import GuardRuntime
from distillguard.policy.model import Action, FailMode

DECISION_THREADS = 4


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def deadline_answer(runtime: GuardRuntime, account_id: str, why: str) -> dict[str, Any]:
    """The fail-mode answer when no decision came in time."""
    policy = runtime.policy.value
    fail_open = policy.fail_mode is FailMode.OPEN
    return {
        "decision_id": uuid.uuid4().hex,
        "account_id": account_id,
        "verdict": "unscored",
        "action": (Action.ALLOW if fail_open else Action.BLOCK).value,
        "allowed": fail_open,
        "score": 0.0,
        "reasons": [{"detector": "DG-790", "summary": why, "weight": 0.0}],
        "rule": f"fail-{policy.fail_mode.value}",
        "protect_outputs": "none",
        "cluster_id": None,
        "retry_after_seconds": None,
        "degraded": why,
        "policy_revision": policy.revision,
    }


def create_app(runtime: GuardRuntime) -> FastAPI:
    """The webhook app around a runtime (started and closed with the app)."""
    executor = ThreadPoolExecutor(max_workers=DECISION_THREADS, thread_name_prefix="guard")
    timeout = runtime.settings.timeout_ms / 1000.0

    async def lifespan(app: FastAPI) -> Any:
        runtime.start()
        yield
        executor.shutdown(wait=False)
        runtime.close()

    app = FastAPI(title="distillguard verdict webhook", lifespan=lifespan)

    @app.post("/v1/decide")
    async def decide(request: Request) -> Response:
        raw = await request.body()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            return _json({"error": f"body: not valid JSON ({error})"}, 422)
        try:
            guard_request = parse_request(body)
        except MalformedRequest as error:
            return _json({"error": str(error)}, 422)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(executor, runtime.guard.decide, guard_request)
        try:
            decision = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            why = f"no decision within {runtime.settings.timeout_ms:g} ms"
            return _json(deadline_answer(runtime, guard_request.account_id, why))
        return _json(decision.to_json())

    @app.get("/healthz")
    async def health() -> Response:
        return _json(runtime.health())

    return app
