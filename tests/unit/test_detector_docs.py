"""docs/detectors.md lists exactly the registered detectors, as the script writes it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_detector_table_is_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location(
        "write_detector_docs", ROOT / "scripts" / "write_detector_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.render()
    actual = (ROOT / "docs" / "detectors.md").read_text(encoding="utf-8")
    assert actual == expected, "run: .venv/bin/python scripts/write_detector_docs.py"
