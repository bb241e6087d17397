"""Rebuild the prompt sample shipped in the package from a shared/datasets folder.

Only collections whose licences allow redistribution (see PERMISSIVE_FOR_SAMPLE) are
sampled; every n-th record is taken so the sample is deterministic.  Run:

    .venv/bin/python scripts/build_prompt_sample.py ../shared/datasets
"""

from __future__ import annotations

import gzip
import json
import sys
from collections import defaultdict
from pathlib import Path

from distillguard.sim.prompts import EXTRACTORS, PERMISSIVE_FOR_SAMPLE, PromptItem

PER_SOURCE = 220
LARGER = {"sharegpt_v3": 900, "gsm8k": 400, "deepscaler": 400, "belle_eval_set": 300}
OUT = Path(__file__).resolve().parent.parent / "src/distillguard/sim/data/prompt_sample.jsonl.gz"


def main(root: Path) -> None:
    by_source: dict[str, list[PromptItem]] = defaultdict(list)
    for name in PERMISSIVE_FOR_SAMPLE:
        for item in EXTRACTORS[name](root):
            by_source[item.source].append(item)
    with gzip.GzipFile(OUT, "wb", mtime=0) as raw:
        for source in sorted(by_source):
            items = by_source[source]
            want = LARGER.get(source, PER_SOURCE)
            step = max(1, len(items) // want)
            for item in items[::step][:want]:
                line = json.dumps(item.to_json(), ensure_ascii=False, sort_keys=True)
                raw.write(line.encode("utf-8") + b"\n")
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets"))
