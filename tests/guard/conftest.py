"""Fixtures for the guard tests: a real redis-server per test (skips only without the binary)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from guard_services import RedisServer, redis_binary


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(redis_binary(), tmp_path)
    server.start()
    yield server
    server.stop()
