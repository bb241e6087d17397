"""Pool quality runs over seeds: one Markdown row per scenario and detector, per campaign.

Reads the JSON written by ``benchmarks/run.py scan`` and ``benchmarks/run.py baselines``
and prints the side-by-side tables of ``docs/benchmarks.md`` (precision and recall of
verdict ``distillation``, of any flag, benign accounts flagged, worst benign population),
then the per-campaign counts seed by seed.

    .venv/bin/python benchmarks/pool.py OUT/scan-heldout.json BASE/baselines.json
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenario_order import ORDER


def _pct(numerator: int, denominator: int) -> str:
    return f"{100 * numerator / denominator:.1f}%" if denominator else "—"


def _runs(paths: list[str]) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    for path in paths:
        runs.extend(json.loads(Path(path).read_text())["runs"])
    return runs


def pooled_rows(runs: list[dict[str, Any]]) -> list[str]:
    """Rows of the side-by-side table, scenarios in the usual order, detectors as found."""
    totals: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    worst: dict[tuple[str, str], float] = defaultdict(float)
    for run in runs:
        key = (run["scenario"], run["baseline"])
        for verdict in ("distillation", "flagged"):
            for cell in ("tp", "fp", "fn"):
                totals[key][f"{verdict}_{cell}"] += int(run[verdict][cell])
        for population in run["benign_populations"]:
            totals[key]["benign"] += int(population["accounts"])
            totals[key]["benign_flagged"] += int(population["flagged"])
            worst[key] = max(worst[key], float(population["flag_rate"]))
    rows = []
    for scenario in ORDER:
        for key in sorted(k for k in totals if k[0] == scenario):
            t = totals[key]
            cells = []
            for verdict in ("distillation", "flagged"):
                tp, fp, fn = (t[f"{verdict}_{c}"] for c in ("tp", "fp", "fn"))
                cells += [_pct(tp, tp + fp), _pct(tp, tp + fn)]
            rows.append(
                f"| {scenario} | {key[1]} | {' | '.join(cells)} | "
                f"{t['benign_flagged']} of {t['benign']} | {100 * worst[key]:.1f}% |"
            )
    return rows


def campaign_lines(runs: list[dict[str, Any]], detector: str = "scan") -> list[str]:
    """Per scenario and campaign: accounts judged distillation of those seen, seed by seed."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for run in sorted(runs, key=lambda r: (r["scenario"], r["seed"])):
        if run["baseline"] != detector:
            continue
        for campaign in run["campaigns"]:
            counts = f"{campaign['distillation']}/{campaign['accounts']} (seed {run['seed']})"
            found[run["scenario"], campaign["campaign"]].append(counts)
    return [
        f"- `{scenario}` {campaign}: {', '.join(found[scenario, campaign])}"
        for scenario in ORDER
        for (s, campaign) in sorted(found)
        if s == scenario
    ]


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    runs = _runs(argv)
    print(
        "| scenario | detector | precision | recall | flagged precision | flagged recall "
        "| benign accounts flagged | worst benign population flag rate |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(pooled_rows(runs)))
    print()
    print("\n".join(campaign_lines(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
