"""Score a results directory (a scan's or a baseline's) against simulator labels.

Prints overall precision and recall, how often each benign population is flagged (each
flag is a paying customer wrongly accused), recall per campaign, ranking quality and
cluster quality, and writes every number as JSON.

example:
  distillguard evaluate --labels sim/labels.jsonl --results out/scan
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from distillguard.evaluation.metrics import BinaryMetrics, Evaluation

HELP = "score a results directory against ground-truth labels"


def register(parser: argparse.ArgumentParser) -> None:
    """Add the evaluation's arguments."""
    parser.add_argument("--labels", type=Path, required=True, help="labels.jsonl from simulate")
    parser.add_argument("--results", type=Path, required=True, help="results directory")
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="where to write JSON (default RESULTS/evaluation.json)",
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def _binary_row(table: Table, name: str, m: BinaryMetrics) -> None:
    table.add_row(
        name, _pct(m.precision), _pct(m.recall), _num(m.f1), f"{m.tp:,}", f"{m.fp:,}", f"{m.fn:,}"
    )


def _columns(table: Table, names: tuple[str, ...]) -> None:
    """The first column names the row and is never wrapped; the rest are numbers."""
    table.add_column(names[0], justify="left", no_wrap=True)
    for name in names[1:]:
        table.add_column(name, justify="right")


def render(evaluation: Evaluation, console: Console) -> None:
    """Print the evaluation as rich tables."""
    cov = evaluation.coverage
    overall = Table(title="Accounts")
    _columns(overall, ("positive when", "precision", "recall", "F1", "TP", "FP", "FN"))
    _binary_row(overall, "verdict distillation", evaluation.distillation)
    _binary_row(overall, "flagged (review+)", evaluation.flagged)
    console.print(overall)

    ranking = Table(title="Ranking and volume", show_header=False)
    ranking.add_row("labelled accounts", f"{cov.labelled_accounts:,}")
    ranking.add_row(
        "distillation / benign", f"{cov.distillation_accounts:,} / {cov.benign_accounts:,}"
    )
    ranking.add_row("missing from results (as benign)", f"{cov.missing_from_results:,}")
    ranking.add_row("in results, not labelled (ignored)", f"{cov.unlabelled_in_results:,}")
    ranking.add_row("ROC-AUC", _num(evaluation.roc_auc))
    for point in evaluation.recall_at_fpr:
        ranking.add_row(
            f"recall at {point.target_fpr * 100:g}% benign FPR",
            f"{_pct(point.recall)} (threshold {_num(point.threshold)})",
        )
    ranking.add_row("exchange-weighted recall, flagged", _pct(evaluation.exchange_recall_flagged))
    ranking.add_row(
        "exchange-weighted recall, distillation", _pct(evaluation.exchange_recall_distillation)
    )
    console.print(ranking)

    benign = Table(title="Benign populations (every flag is a false positive)")
    _columns(benign, ("population", "accounts", "flagged", "flag rate", "distillation"))
    for row in evaluation.benign_populations:
        benign.add_row(
            row.population,
            f"{row.accounts:,}",
            f"{row.flagged:,}",
            _pct(row.flag_rate),
            f"{row.distillation:,}",
        )
    console.print(benign)

    campaigns = Table(title="Campaigns")
    _columns(
        campaigns,
        (
            "campaign",
            "accounts",
            "recall flagged",
            "recall distillation",
            "exchange recall",
        ),
    )
    for c in evaluation.campaigns:
        campaigns.add_row(
            c.campaign,
            f"{c.accounts:,}",
            _pct(c.recall_flagged),
            _pct(c.recall_distillation),
            _pct(c.exchange_recall_flagged),
        )
    console.print(campaigns)

    clusters = Table(title="Clusters", show_header=False)
    clusters.add_row("predicted clusters", f"{evaluation.clusters.clusters:,}")
    clusters.add_row("clustered labelled accounts", f"{evaluation.clusters.clustered_accounts:,}")
    clusters.add_row("purity", _pct(evaluation.clusters.purity))
    clusters.add_row("completeness", _pct(evaluation.clusters.completeness))
    console.print(clusters)
    for note in evaluation.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)


def run(args: argparse.Namespace) -> int:
    """Read labels and results, compute the metrics, print them and write JSON."""
    from distillguard.evaluation.labels import read_labels
    from distillguard.evaluation.metrics import evaluate
    from distillguard.results.reader import read_results

    labels = read_labels(args.labels)
    results = read_results(args.results)
    evaluation = evaluate(labels, results.accounts)
    console = Console()
    render(evaluation, console)
    out: Path = args.json if args.json is not None else args.results / "evaluation.json"
    payload = {
        "labels": str(args.labels),
        "results": str(args.results),
        "results_summary": results.summary,
        "evaluation": evaluation.to_dict(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(
        orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    )
    console.print(f"evaluation written to [bold]{out}[/]")
    return 0
