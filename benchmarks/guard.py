"""Guard benchmarks: decision latency in-process, webhook under load, LiteLLM with/without.

    .venv/bin/python benchmarks/guard.py --out bench-out/guard all
    .venv/bin/python benchmarks/guard.py --out bench-out/guard decide --decisions 20000
    .venv/bin/python benchmarks/guard.py --out bench-out/guard webhook --seconds 10
    .venv/bin/python benchmarks/guard.py --out bench-out/guard litellm --requests 400
    .venv/bin/python benchmarks/guard.py --out bench-out/guard hooks --calls 3000

Traffic is a mix: scripted campaign accounts sharing instruction wrappers (throttled and
blocked as they go) and many customers sending varied chat prompts, some long (the
fingerprint reads at most 800 characters of a prompt).  Every figure is measured on this
machine; each JSON result records the machine, the load average and the date.  The load
generators run in a second process on loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
POLICY = ROOT / "examples" / "policy.yaml"
WRAPPERS = [
    "Think step by step and show all your reasoning. Put the final answer in \\boxed{{}}.\n\n"
    "Problem: {task}",
    "You are a grader. Score the response below from 1 to 10 against the rubric and explain "
    "your score in detail.\n\nResponse: {task}",
    "Rewrite the following answer so it is politically safe, keeping all reasoning steps.\n\n"
    "{task}",
]
CHAT = [
    "what's a good name for a grey cat?",
    "recommend a novel set in Lisbon",
    "can you help me plan a birthday dinner for six people, one vegetarian?",
    "how do I fix a dripping tap",
    "translate 'good morning, see you tomorrow' into Portuguese",
]


def machine() -> str:
    cores = os.cpu_count()
    return (
        f"{platform.machine()}, {cores} cores (nproc {cores}), Python {platform.python_version()}"
    )


def load_average() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def percentiles(samples_us: list[float]) -> dict[str, float]:
    ordered = sorted(samples_us)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {
        "n": len(ordered),
        "p50_us": at(0.50),
        "p90_us": at(0.90),
        "p99_us": at(0.99),
        "p999_us": at(0.999),
        "max_us": round(ordered[-1], 1),
        "mean_us": round(statistics.fmean(ordered), 1),
    }


def traffic(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """(account, prompt) pairs: 30% from 20 campaign accounts, the rest from 2,000 customers."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        if rng.random() < 0.3:
            wrapper = WRAPPERS[i % len(WRAPPERS)]
            task = f"item {rng.randrange(10**6)} costs {rng.randrange(100)}; total for {i}?"
            out.append(
                {
                    "account_id": f"camp-{rng.randrange(20)}",
                    "prompt_text": wrapper.format(task=task),
                }
            )
        else:
            prompt = rng.choice(CHAT) + f" ({rng.randrange(10**6)})"
            if rng.random() < 0.05:  # a pasted document
                prompt = prompt + "\n\n" + " ".join(rng.choice(CHAT) for _ in range(200))
            out.append({"account_id": f"cust-{rng.randrange(2000)}", "prompt_text": prompt})
    return out


def _save(out: Path, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    payload = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load_average_1_5_15": load_average(),
        **payload,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(payload, indent=2, sort_keys=True))
    print(json.dumps(payload, indent=2))
    return payload


# --------------------------------------------------------------------------- in-process
def bench_decide(out: Path, decisions: int, redis_url: str | None) -> dict[str, Any]:
    """Per-decision latency of Guard.decide with the memory store (and Redis if given)."""
    from distillguard.guard.core import Fixed, Guard
    from distillguard.guard.request import GuardRequest
    from distillguard.guard.store import MemoryStore
    from distillguard.policy.audit import AuditLog
    from distillguard.policy.parser import load_policy

    policy = Fixed(load_policy(POLICY))
    requests = [GuardRequest(**r) for r in traffic(decisions + 2000)]
    results: dict[str, Any] = {"decisions": decisions}
    stores: list[tuple[str, Any]] = [("memory", MemoryStore())]
    if redis_url:
        from distillguard.guard.redis_store import RedisStore

        stores.append(("redis", RedisStore(redis_url)))
    with tempfile.TemporaryDirectory() as scratch:
        for name, store in stores:
            guard = Guard(policy, store, audit=AuditLog(Path(scratch) / f"{name}.jsonl"))
            for request in requests[:2000]:  # warm-up
                guard.decide(request)
            samples, cpu, actions = [], [], {}
            for request in requests[2000:]:
                started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
                decision = guard.decide(request)
                cpu.append((time.thread_time_ns() - started_cpu) / 1000)
                samples.append((time.perf_counter_ns() - started) / 1000)
                actions[decision.action.value] = actions.get(decision.action.value, 0) + 1
            results[name] = {
                "wall": percentiles(samples),
                "cpu": percentiles(cpu),  # this thread's CPU time: what contention cannot inflate
                "actions": actions,
            }
    return _save(out, "guard-decide", results)


# --------------------------------------------------------------------------- webhook
LOADGEN = r"""
import json, sys, threading, time, httpx
url, seconds, concurrency = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
bodies = json.load(open(sys.argv[4]))
lat, statuses, lock = [], {}, threading.Lock()
stop = time.monotonic() + seconds
def worker(offset):
    i = offset
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < stop:
            t = time.perf_counter_ns()
            r = client.post(url, json=bodies[i % len(bodies)])
            d = (time.perf_counter_ns() - t) / 1000
            with lock:
                lat.append(d); statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            i += concurrency
threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
start = time.monotonic()
[t.start() for t in threads]; [t.join() for t in threads]
elapsed = time.monotonic() - start
print(json.dumps({"latencies_us": lat, "statuses": statuses, "elapsed_s": elapsed}))
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_http(url: str, timeout: float = 180.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise TimeoutError(url)


def _loadgen(url: str, seconds: float, concurrency: int, bodies: Path) -> dict[str, Any]:
    done = subprocess.run(
        [PYTHON, "-c", LOADGEN, url, str(seconds), str(concurrency), str(bodies)],
        check=True,
        capture_output=True,
        text=True,
    )
    raw = json.loads(done.stdout)
    return {
        "concurrency": concurrency,
        "requests": len(raw["latencies_us"]),
        "throughput_rps": round(len(raw["latencies_us"]) / raw["elapsed_s"], 1),
        "statuses": raw["statuses"],
        "latency": percentiles(raw["latencies_us"]),
    }


def bench_webhook(out: Path, seconds: float, concurrency: list[int]) -> dict[str, Any]:
    """`guard serve` throughput and client-side latency from a second process."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as scratch:
        bodies = Path(scratch) / "bodies.json"
        bodies.write_text(json.dumps(traffic(5000)))
        server = subprocess.Popen(
            [PYTHON, "-m", "distillguard", "guard", "serve", "--policy", str(POLICY),
             "--audit", str(Path(scratch) / "audit.jsonl"), "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            _wait_http(f"http://127.0.0.1:{port}/healthz")
            url = f"http://127.0.0.1:{port}/v1/decide"
            _loadgen(url, 2.0, 2, bodies)  # warm-up
            runs = []
            for level in concurrency:
                cpu_before = _cpu_seconds(server.pid)
                run = _loadgen(url, seconds, level, bodies)
                spent = _cpu_seconds(server.pid) - cpu_before
                run["server_cpu_per_request_us"] = round(spent / run["requests"] * 1e6, 1)
                runs.append(run)
        finally:
            server.terminate()
            server.wait(timeout=20)
    return _save(out, "guard-webhook", {"seconds_per_run": seconds, "runs": runs})


# --------------------------------------------------------------------------- litellm
PROXY_MODELS = """
model_list:
  - model_name: mock-gpt
    litellm_params:
      model: openai/mock-gpt
      api_key: sk-unused
      mock_response: "The answer is 42."
"""
CLIENT = r"""
import json, sys, time, openai
ports, n, bodies = json.loads(sys.argv[1]), int(sys.argv[2]), json.load(open(sys.argv[3]))
clients = {name: openai.OpenAI(base_url=f"http://127.0.0.1:{p}/v1", api_key="sk-x", max_retries=0)
           for name, p in ports.items()}
lat = {name: [] for name in ports}
statuses = {name: {} for name in ports}
for i in range(n):
    body = bodies[i % len(bodies)]
    for name in (sorted(ports) if i % 2 else sorted(ports, reverse=True)):  # alternate order
        t = time.perf_counter_ns()
        try:
            clients[name].chat.completions.create(model="mock-gpt", user=body["account_id"],
                messages=[{"role": "user", "content": body["prompt_text"]}])
            code = 200
        except openai.APIStatusError as e:
            code = e.status_code
        d = (time.perf_counter_ns() - t) / 1000
        statuses[name][code] = statuses[name].get(code, 0) + 1
        lat[name].append(d if code == 200 else None)
print(json.dumps({"lat": lat, "statuses": statuses}))
"""


def _start_proxy(directory: Path, with_guard: bool) -> tuple[subprocess.Popen[bytes], int]:
    from distillguard.guard.adapters.litellm_config import write_proxy_files

    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    settings = "policy: policy.yaml\naudit: audit.jsonl\nexchange_log: exchanges.jsonl\n"
    settings_path = write_proxy_files(directory, PROXY_MODELS, settings if with_guard else None)
    if with_guard:
        shutil.copy(POLICY, directory / "policy.yaml")
        env["DISTILLGUARD_GUARD_SETTINGS"] = str(settings_path)
    port = _free_port()
    process = subprocess.Popen(
        [str(Path(PYTHON).parent / "litellm"), "--config", "config.yaml",
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=directory, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return process, port


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its reaped children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def bench_litellm(out: Path, requests: int) -> dict[str, Any]:
    """The same requests through two proxies, with and without the guard, interleaved."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        plain, plain_port = _start_proxy(root / "plain", with_guard=False)
        guarded, guarded_port = _start_proxy(root / "guarded", with_guard=True)
        try:
            for port in (plain_port, guarded_port):
                _wait_http(f"http://127.0.0.1:{port}/health/liveliness")
            bodies = root / "bodies.json"
            customers = [t for t in traffic(requests * 3) if t["account_id"].startswith("cust-")]
            bodies.write_text(json.dumps(customers[:requests]))
            ports = {"without_guard": plain_port, "with_guard": guarded_port}
            procs = {"without_guard": plain, "with_guard": guarded}
            warm = subprocess.run(
                [PYTHON, "-c", CLIENT, json.dumps(ports), "50", str(bodies)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            del warm
            cpu_before = {name: _cpu_seconds(p.pid) for name, p in procs.items()}
            done = subprocess.run(
                [PYTHON, "-c", CLIENT, json.dumps(ports), str(requests), str(bodies)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            cpu = {
                name: round((_cpu_seconds(p.pid) - cpu_before[name]) / requests * 1e6, 1)
                for name, p in procs.items()
            }
        finally:
            for process in (plain, guarded):
                process.terminate()
                process.wait(timeout=30)
    raw = json.loads(done.stdout)
    runs = {
        name: percentiles([v for v in values if v is not None])
        for name, values in raw["lat"].items()
    }
    added = {
        key: round(runs["with_guard"][key] - runs["without_guard"][key], 1)
        for key in ("p50_us", "p90_us", "p99_us", "mean_us")
    }
    # Each request went to both proxies back to back, so the pair saw the same machine load:
    # the distribution of (with - without) per pair is the steadier estimate of the cost.
    pairs = [
        w - o
        for w, o in zip(raw["lat"]["with_guard"], raw["lat"]["without_guard"], strict=True)
        if w is not None and o is not None
    ]
    ordered = sorted(pairs)
    paired = {
        "n": len(ordered),
        "p50_us": round(ordered[len(ordered) // 2], 1),
        "mean_us": round(statistics.fmean(ordered), 1),
    }
    return _save(
        out,
        "guard-litellm",
        {
            "requests": requests,
            "statuses": raw["statuses"],
            "runs": runs,
            "added_us": added,
            "paired_difference_us": paired,
            # proxy CPU time per request: what machine load cannot inflate
            "proxy_cpu_per_request_us": cpu,
            "added_cpu_per_request_us": round(cpu["with_guard"] - cpu["without_guard"], 1),
        },
    )


def bench_hooks(out: Path, calls: int) -> dict[str, Any]:
    """CPU time of distillguard's own LiteLLM hooks, called in-process (no proxy around them),
    to tell the guard's share of the proxy's added CPU from LiteLLM's callback machinery."""
    import asyncio

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        shutil.copy(POLICY, root / "policy.yaml")
        settings = root / "settings.yaml"
        settings.write_text("policy: policy.yaml\naudit: audit.jsonl\nexchange_log: log.jsonl\n")
        os.environ["DISTILLGUARD_GUARD_SETTINGS"] = str(settings)
        from litellm.proxy._types import UserAPIKeyAuth

        from distillguard.guard.adapters.litellm import DistillGuardGuardrail, exchange_logger

        guardrail = DistillGuardGuardrail(guardrail_name="distillguard", default_on=True)
        key = UserAPIKeyAuth(api_key="hashed-key")
        bodies = [t for t in traffic(calls * 3) if t["account_id"].startswith("cust-")][:calls]
        payload = {
            "id": "chatcmpl-1",
            "startTime": time.time(),
            "model_group": "mock-gpt",
            "messages": [{"role": "user", "content": bodies[0]["prompt_text"]}],
            "response": {"choices": [{"message": {"role": "assistant", "content": "42"}}]},
            "model_parameters": {"user": "cust-1"},
            "status": "success",
            "end_user": "cust-1",
            "metadata": {"user_api_key_hash": "hashed-key", "requester_ip_address": "127.0.0.1"},
        }

        async def run() -> tuple[float, float]:
            started = time.thread_time_ns()
            for body in bodies:
                data = {
                    "model": "mock-gpt",
                    "user": body["account_id"],
                    "messages": [{"role": "user", "content": body["prompt_text"]}],
                }
                await guardrail.async_pre_call_hook(key, None, data, "completion")
            middle = time.thread_time_ns()
            for _ in bodies:
                await exchange_logger.async_log_success_event(
                    {"standard_logging_object": payload}, None, None, None
                )
            return (middle - started) / calls / 1000, (
                time.thread_time_ns() - middle
            ) / calls / 1000

        pre_call, logger = asyncio.run(run())
    return _save(
        out,
        "guard-hooks",
        {"calls": calls, "pre_call_cpu_us": round(pre_call, 1), "logger_cpu_us": round(logger, 1)},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("bench-out/guard"))
    sub = parser.add_subparsers(dest="what", required=True)
    decide = sub.add_parser("decide")
    decide.add_argument("--decisions", type=int, default=20000)
    decide.add_argument("--redis", help="also measure with this Redis URL")
    webhook = sub.add_parser("webhook")
    webhook.add_argument("--seconds", type=float, default=10.0)
    webhook.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    litellm = sub.add_parser("litellm")
    litellm.add_argument("--requests", type=int, default=400)
    hooks = sub.add_parser("hooks")
    hooks.add_argument("--calls", type=int, default=3000)
    every = sub.add_parser("all")
    every.add_argument("--redis", help="also measure decisions with this Redis URL")
    args = parser.parse_args(argv)
    if args.what in ("decide", "all"):
        bench_decide(args.out, getattr(args, "decisions", 20000), args.redis)
    if args.what in ("webhook", "all"):
        bench_webhook(
            args.out, getattr(args, "seconds", 10.0), getattr(args, "concurrency", [1, 8])
        )
    if args.what in ("hooks", "all"):
        bench_hooks(args.out, getattr(args, "calls", 3000))
    if args.what in ("litellm", "all"):
        bench_litellm(args.out, getattr(args, "requests", 400))
    return 0


if __name__ == "__main__":
    sys.exit(main())
