"""Push to and pull from a real TAXII 2.1 server: medallion, memory backend, on 127.0.0.1.

The server is started as a subprocess on a free port with a page size of 4 objects, so a
pull of one exported bundle needs several pages (``limit``/``next``).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import requests

from distillguard.cli.main import main

COLLECTION = "2f0a4c52-7f2c-4bd8-9e51-7e3c1a2b9d10"
USER, PASSWORD = "analyst", "not-a-real-secret"
PAGE = 4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _server_data(base: str) -> dict[str, object]:
    return {
        "/discovery": {
            "title": "distillguard test TAXII server",
            "default": f"{base}/api1/",
            "api_roots": [f"{base}/api1/"],
        },
        "api1": {
            "information": {
                "title": "sharing community",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 50_000_000,
            },
            "status": [],
            "collections": [
                {
                    "id": COLLECTION,
                    "title": "distillation campaigns",
                    "can_read": True,
                    "can_write": True,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": [],
                    "manifest": [],
                }
            ],
        },
    }


@pytest.fixture(scope="module")
def taxii_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running medallion server; yields its API root URL and stops it afterwards."""
    folder = tmp_path_factory.mktemp("medallion")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    data = folder / "data.json"
    data.write_text(json.dumps(_server_data(base)))
    config = folder / "config.json"
    log = folder / "medallion.log"
    config.write_text(
        json.dumps(
            {
                "backend": {
                    "module": "medallion.backends.memory_backend",
                    "module_class": "MemoryBackend",
                    "filename": str(data),
                },
                "users": {USER: PASSWORD},
                "taxii": {"max_page_size": PAGE},
            }
        )
    )
    log_handle = log.open("wb")  # a file, not a pipe: a full pipe would stall the server
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "medallion.scripts.run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            str(config),
        ],
        stdout=subprocess.DEVNULL,
        stderr=log_handle,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/taxii2/", timeout=1)
                break
            except requests.ConnectionError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"medallion did not start: {log.read_text()}") from None
                time.sleep(0.2)
        yield f"{base}/api1/"
    finally:
        server.terminate()
        server.wait(timeout=10)
        log_handle.close()


def test_push_then_pull_with_paging(
    taxii_root: str,
    bundle_b: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DISTILLGUARD_TAXII_PASSWORD", PASSWORD)
    taxii = ["--url", taxii_root, "--collection", COLLECTION, "--user", USER]
    assert main(["intel", "push", "--bundle", str(bundle_b), *taxii]) == 0
    pushed = orjson.loads(bundle_b.read_bytes())["objects"]
    assert f"{len(pushed)} added, 0 failed" in " ".join(capsys.readouterr().out.split())

    pulled_file = tmp_path / "pulled.json"
    assert (
        main(["intel", "pull", *taxii, "--per-request", str(PAGE), "--out", str(pulled_file)]) == 0
    )
    message = capsys.readouterr().out
    pages = -(-len(pushed) // PAGE)
    assert f"pulled {len(pushed)} objects in {pages} page(s)" in " ".join(message.split())
    assert pages > 1
    pulled = orjson.loads(pulled_file.read_bytes())["objects"]
    assert sorted(pulled, key=lambda o: o["id"]) == sorted(pushed, key=lambda o: o["id"])


def test_a_pulled_collection_hunts_like_the_bundle(
    taxii_root: str,
    bundle_b: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from distillguard.intel.keys import load_key
    from distillguard.intel.peers import read_peer_bundles
    from distillguard.intel.taxii import TaxiiTarget, as_bundle, pull_objects

    monkeypatch.setenv("DISTILLGUARD_TAXII_PASSWORD", PASSWORD)
    target = TaxiiTarget.of(taxii_root, COLLECTION, USER)
    objects, pages = pull_objects(target, per_request=PAGE)
    assert pages > 1
    pulled = tmp_path / "pulled.json"
    pulled.write_bytes(orjson.dumps(as_bundle(objects)))
    monkeypatch.setenv("DISTILLGUARD_INTEL_KEY", "6b" * 32)
    key = load_key(None)
    assert read_peer_bundles([pulled], key) == [
        i.__class__(**{**i.__dict__, "source": str(pulled)})
        for i in read_peer_bundles([bundle_b], key)
    ]


def test_wrong_password_is_a_clear_error(
    taxii_root: str,
    bundle_b: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DISTILLGUARD_TAXII_PASSWORD", "wrong")
    status = main(
        [
            "intel",
            "push",
            "--bundle",
            str(bundle_b),
            "--url",
            taxii_root,
            "--collection",
            COLLECTION,
            "--user",
            USER,
        ]
    )
    assert status == 2
    assert "check the API root URL" in " ".join(capsys.readouterr().err.split())
