"""Helpers for the guard tests: real redis-server processes, free ports, results dirs.

redis-server comes from the Debian package (``.ci/run`` installs it); where the binary is
absent the Redis tests skip with that reason, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from distillguard.results import write_results
from distillguard.results.model import AccountResult, ClusterResult, Indicator, Reason


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


class RedisServer:
    """A throwaway redis-server on 127.0.0.1 without persistence (a restart empties it)."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is missing in CI: .ci/run must install it")
        pytest.skip("needs redis-server (Debian package redis-server; .ci/run installs it)")
    return binary


def write_verdicts(
    directory: Path,
    flagged: Sequence[str],
    *,
    benign: Sequence[str] = (),
    cluster_id: str = "c-1",
    verdict: str = "distillation",
    score: float = 0.95,
    indicators: Sequence[Indicator] = (),
) -> Path:
    """A results directory with one flagged cluster of ``flagged`` accounts."""
    reason = Reason("DG-401", "accounts share one payment card and one wrapper", score)
    accounts = [
        AccountResult(a, score, verdict, cluster_id=cluster_id, reasons=[reason]) for a in flagged
    ]
    accounts += [AccountResult(a, 0.05, "benign") for a in benign]
    clusters = [
        ClusterResult(
            cluster_id=cluster_id,
            account_ids=list(flagged),
            score=score,
            verdict=verdict,
            exchanges=100,
            reasons=[reason],
            indicators=list(indicators),
        )
    ]
    write_results(directory, accounts, clusters, {"source": "test"}, lambda *_: "<html></html>")
    return directory
