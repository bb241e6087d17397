"""Two providers, one campaign: does provider B's shared intelligence help provider A?

Provider B and provider A are simulated with different seeds and different prompt pools (B
draws from the full collections in --datasets, A from the bundled sample), but one
``--campaign-seed``: the same campaigns, with the same cards, proxy ranges, sign-up domains
and wrappers, hit both.  B has watched the campaign for the whole window; A is looked at
only ``--hours`` into it (the campaign has only begun harvesting there).  Steps:

1. B: simulate, scan (``--store``), ``intel export`` its `distillation` clusters as a bundle;
2. A: simulate, keep the first ``--hours`` of traffic, scan it without and with
   ``--intel`` (B's bundle), and ``intel hunt`` it;
3. compare A's verdicts with A's labels: campaign accounts flagged by A's own scan, flagged
   with B's intelligence, newly flagged, and benign accounts touched (any DG-601 evidence,
   any verdict change).

    .venv/bin/python benchmarks/intel_two_providers.py --out bench-out/intel \\
        --datasets ../shared/datasets --hours 48
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import machine

PYTHON = sys.executable
KEY_HEX = "5e" * 32  # a benchmark key; real communities agree on a secret one (docs/intel.md)
WINDOW_START = datetime(2026, 10, 1, tzinfo=UTC)


def dg(*args: str) -> float:
    """Run one distillguard command; its wall time in seconds."""
    started = time.perf_counter()
    subprocess.run([PYTHON, "-m", "distillguard", *args], check=True, stdout=subprocess.DEVNULL)
    return round(time.perf_counter() - started, 1)


def cut(source: Path, target: Path, hours: float) -> int:
    """Keep the exchanges of the first ``hours`` of the window; how many were kept."""
    end = (WINDOW_START + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")
    kept = 0
    with source.open("rb") as reader, target.open("wb") as writer:
        for line in reader:
            if orjson.loads(line)["timestamp"] < end:
                writer.write(line)
                kept += 1
    return kept


def load_jsonl(path: Path) -> dict[str, dict[str, Any]]:
    """Records of a JSONL file keyed by account id."""
    out: dict[str, dict[str, Any]] = {}
    for line in path.read_bytes().splitlines():
        record = orjson.loads(line)
        out[record["account_id"]] = record
    return out


def compare(labels: Path, own: Path, shared: Path, hunted: Path) -> dict[str, Any]:
    """Campaign and benign accounts of A under its own scan, with B's intel, and hunt alone."""
    truth = load_jsonl(labels)
    before = load_jsonl(own / "accounts.jsonl")
    after = load_jsonl(shared / "accounts.jsonl")
    hunt = load_jsonl(hunted / "accounts.jsonl")

    def flagged(rows: dict[str, dict[str, Any]], account: str) -> bool:
        return bool(rows[account]["verdict"] != "benign")

    campaign = sorted(a for a in before if truth[a]["label"] == "distillation")
    benign = sorted(a for a in before if truth[a]["label"] != "distillation")
    intel_reason = {
        a for a, row in after.items() if any(r["detector"] == "DG-601" for r in row["reasons"])
    }
    per_campaign: dict[str, dict[str, int]] = {}
    for account in campaign:
        name = str(truth[account]["campaign"])
        row = per_campaign.setdefault(
            name, {"accounts": 0, "own_flagged": 0, "intel_flagged": 0, "hunt_flagged": 0}
        )
        row["accounts"] += 1
        row["own_flagged"] += flagged(before, account)
        row["intel_flagged"] += flagged(after, account)
        row["hunt_flagged"] += flagged(hunt, account)
    return {
        "campaign_accounts": len(campaign),
        "benign_accounts": len(benign),
        "own_flagged": sum(flagged(before, a) for a in campaign),
        "own_distillation": sum(before[a]["verdict"] == "distillation" for a in campaign),
        "intel_flagged": sum(flagged(after, a) for a in campaign),
        "intel_distillation": sum(after[a]["verdict"] == "distillation" for a in campaign),
        "newly_flagged": sum(flagged(after, a) and not flagged(before, a) for a in campaign),
        "hunt_flagged": sum(flagged(hunt, a) for a in campaign),
        "campaign_with_intel_evidence": len(intel_reason & set(campaign)),
        "benign_with_intel_evidence": len(intel_reason & set(benign)),
        "benign_verdict_changed": sum(before[a]["verdict"] != after[a]["verdict"] for a in benign),
        "benign_flagged_own": sum(flagged(before, a) for a in benign),
        "benign_flagged_intel": sum(flagged(after, a) for a in benign),
        "benign_flagged_hunt": sum(flagged(hunt, a) for a in benign),
        "per_campaign": per_campaign,
    }


def main() -> None:
    """Run both providers and print and save the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--datasets", type=Path, required=True, help="B's prompt collections")
    parser.add_argument("--scenario", default="reported-2026")
    parser.add_argument("--size", type=int, default=50_000, help="exchanges per provider")
    parser.add_argument("--seed-a", type=int, default=302)
    parser.add_argument("--seed-b", type=int, default=301)
    parser.add_argument("--campaign-seed", type=int, default=7)
    parser.add_argument("--hours", type=float, default=48.0, help="A's window")
    parser.add_argument(
        "--reuse-b",
        action="store_true",
        help="keep provider B's simulation and scan from an earlier run (export again)",
    )
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    key = out / "intel.key"
    key.write_text(KEY_HEX)
    seconds: dict[str, float] = {}
    common = ["--scenario", args.scenario, "--exchanges", str(args.size)]
    common += ["--campaign-seed", str(args.campaign_seed), "--no-progress"]
    b, a = out / "B", out / "A"
    bundle = b / "bundle.json"
    store_b = b / "store.duckdb"
    if not (args.reuse_b and store_b.is_file() and (b / "scan" / "summary.json").is_file()):
        seconds["simulate_b"] = dg("simulate", "--out", str(b / "sim"), "--seed", str(args.seed_b),
                                   "--datasets", str(args.datasets), *common)  # fmt: skip
        store_b.unlink(missing_ok=True)
        seconds["scan_b"] = dg("scan", "--exchanges", str(b / "sim/exchanges.jsonl"), "--accounts",
                               str(b / "sim/accounts.jsonl"), "--store", str(store_b), "--out",
                               str(b / "scan"), "--no-progress")  # fmt: skip
    seconds["export_b"] = dg("intel", "export", "--results", str(b / "scan"), "--store",
                             str(store_b), "--key-file", str(key), "--producer", "Provider B",
                             "--out", str(bundle))  # fmt: skip
    seconds["simulate_a"] = dg("simulate", "--out", str(a / "sim"), "--seed", str(args.seed_a),
                               *common)  # fmt: skip
    window = a / "window.jsonl"
    kept = cut(a / "sim/exchanges.jsonl", window, args.hours)
    accounts_a = str(a / "sim/accounts.jsonl")
    seconds["scan_a_own"] = dg("scan", "--exchanges", str(window), "--accounts", accounts_a,
                               "--out", str(a / "scan-own"), "--no-progress")  # fmt: skip
    seconds["scan_a_intel"] = dg("scan", "--exchanges", str(window), "--accounts", accounts_a,
                                 "--out", str(a / "scan-intel"), "--intel", str(bundle),
                                 "--intel-key", str(key), "--no-progress")  # fmt: skip
    seconds["hunt_a"] = dg("intel", "hunt", "--bundle", str(bundle), "--exchanges", str(window),
                           "--accounts", accounts_a, "--key-file", str(key), "--out",
                           str(a / "hunt"))  # fmt: skip
    objects = orjson.loads(bundle.read_bytes())["objects"]
    figures = compare(a / "sim/labels.jsonl", a / "scan-own", a / "scan-intel", a / "hunt")
    payload = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": machine(),
        "command": " ".join(sys.argv),
        "scenario": args.scenario,
        "size": args.size,
        "seeds": {"a": args.seed_a, "b": args.seed_b, "campaign": args.campaign_seed},
        "hours_a": args.hours,
        "exchanges_a_window": kept,
        "bundle": {
            "objects": len(objects),
            "indicators": sum(o["type"] == "indicator" for o in objects),
            "campaigns": sum(o["type"] == "campaign" for o in objects),
            "kinds": sorted(
                {
                    label.split("=", 1)[1]
                    for o in objects
                    if o["type"] == "indicator"
                    for label in o.get("labels", [])
                    if label.startswith("distillguard:kind=")
                }
            ),
        },
        "seconds": seconds,
        **figures,
    }
    name = f"intel-{args.scenario}-{args.hours:g}h"
    (out / f"{name}.json").write_text(json.dumps(payload, indent=2, sort_keys=True))
    print(json.dumps(payload, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
