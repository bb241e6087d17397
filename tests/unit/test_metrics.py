"""Metrics on hand-made cases whose every number is worked out in the comments."""

from __future__ import annotations

import pytest

from distillguard.evaluation.labels import LabelRecord
from distillguard.evaluation.metrics import evaluate
from distillguard.results import AccountResult


def _label(account_id: str, population: str, campaign: str | None, exchanges: int) -> LabelRecord:
    label = "distillation" if campaign else "benign"
    return LabelRecord(account_id, population, label, campaign, exchanges)


LABELS = {
    lb.account_id: lb
    for lb in [
        _label("a1", "campaign", "X", 100),
        _label("a2", "campaign", "X", 50),
        _label("a3", "campaign", "Y", 30),
        _label("a4", "campaign", "Y", 20),
        _label("b1", "casual_chat", None, 10),
        _label("b2", "casual_chat", None, 10),
        _label("b3", "corporate_nat_team", None, 10),
        _label("b4", "corporate_nat_team", None, 10),
        _label("b5", "benchmark_company", None, 10),
        _label("b6", "benchmark_company", None, 10),
    ]
}

RESULTS = [
    AccountResult("a1", 0.95, "distillation", "C1"),
    AccountResult("a2", 0.80, "review", "C1"),
    AccountResult("a3", 0.60, "benign", "C2"),
    # a4 is missing: it counts as score 0, benign, unclustered.
    AccountResult("b1", 0.70, "distillation", "C2"),
    AccountResult("b2", 0.10, "benign"),
    AccountResult("b3", 0.50, "review", "C2"),
    AccountResult("b4", 0.20, "benign"),
    AccountResult("b5", 0.60, "benign"),
    AccountResult("b6", 0.05, "benign"),
    AccountResult("z9", 0.90, "distillation"),  # not labelled: ignored
]


def test_account_level_precision_recall_f1() -> None:
    ev = evaluate(LABELS, RESULTS)
    # verdict distillation: predicted {a1, b1} -> TP 1, FP 1, FN 3 (a2, a3, a4), TN 5
    d = ev.distillation
    assert (d.tp, d.fp, d.fn, d.tn) == (1, 1, 3, 5)
    assert d.precision == pytest.approx(0.5)
    assert d.recall == pytest.approx(0.25)
    assert d.f1 == pytest.approx(2 * 1 / (2 * 1 + 1 + 3))
    # flagged: {a1, a2, b1, b3} -> TP 2, FP 2, FN 2, TN 4
    f = ev.flagged
    assert (f.tp, f.fp, f.fn, f.tn) == (2, 2, 2, 4)
    assert (f.precision, f.recall, f.f1) == pytest.approx((0.5, 0.5, 0.5))


def test_coverage_counts_missing_and_unlabelled() -> None:
    cov = evaluate(LABELS, RESULTS).coverage
    assert cov.missing_from_results == 1
    assert cov.unlabelled_in_results == 1
    assert (cov.distillation_accounts, cov.benign_accounts) == (4, 6)


def test_exchange_weighted_recall() -> None:
    ev = evaluate(LABELS, RESULTS)
    # distillation exchanges: 100 + 50 + 30 + 20 = 200; flagged a1+a2 = 150; distillation a1 = 100
    assert ev.exchange_recall_flagged == pytest.approx(0.75)
    assert ev.exchange_recall_distillation == pytest.approx(0.5)


def test_roc_auc_counts_ties_as_half() -> None:
    # positives 0.95, 0.80, 0.60, 0.00 against negatives 0.70 0.10 0.50 0.20 0.60 0.05:
    # 0.95 -> 6, 0.80 -> 6, 0.60 -> 4 wins + 1 tie = 4.5, 0.00 -> 0; 16.5 / 24
    assert evaluate(LABELS, RESULTS).roc_auc == pytest.approx(16.5 / 24)


def test_recall_at_fixed_benign_fpr() -> None:
    ev = evaluate(LABELS, RESULTS, fpr_targets=(0.01, 0.2, 0.5))
    strict, loose, half = ev.recall_at_fpr
    # 1% of 6 benign allows 0 false positives: threshold above the top benign 0.70
    assert strict.recall == pytest.approx(0.5)
    assert strict.threshold == pytest.approx(0.8)
    assert strict.benign_fpr == 0.0
    # 20% allows 1: strictly above the 2nd benign score 0.60; a3 tied at 0.60 is not caught
    assert loose.recall == pytest.approx(0.5)
    assert loose.threshold == pytest.approx(0.7)
    assert loose.benign_fpr == pytest.approx(1 / 6)
    # 50% allows 3: above the 4th benign score 0.20 -> a1, a2, a3 caught
    assert half.recall == pytest.approx(0.75)
    assert half.threshold == pytest.approx(0.5)
    assert half.benign_fpr == pytest.approx(0.5)


def test_benign_population_flag_rates() -> None:
    rows = {r.population: r for r in evaluate(LABELS, RESULTS).benign_populations}
    assert list(rows) == ["benchmark_company", "casual_chat", "corporate_nat_team"]
    assert (rows["casual_chat"].flagged, rows["casual_chat"].distillation) == (1, 1)
    assert rows["casual_chat"].flag_rate == pytest.approx(0.5)
    assert (rows["corporate_nat_team"].flagged, rows["corporate_nat_team"].distillation) == (1, 0)
    assert rows["benchmark_company"].flag_rate == 0.0


def test_campaign_recall() -> None:
    rows = {c.campaign: c for c in evaluate(LABELS, RESULTS).campaigns}
    x, y = rows["X"], rows["Y"]
    assert (x.accounts, x.exchanges, x.flagged, x.distillation) == (2, 150, 2, 1)
    assert (x.recall_flagged, x.recall_distillation, x.exchange_recall_flagged) == (1.0, 0.5, 1.0)
    assert (y.recall_flagged, y.recall_distillation, y.exchange_recall_flagged) == (0.0, 0.0, 0.0)


def test_cluster_purity_and_completeness() -> None:
    c = evaluate(LABELS, RESULTS).clusters
    # C1 = {a1, a2}: both campaign X -> majority 2.  C2 = {a3, b1, b3}: Y, benign x2 -> 2.
    assert (c.clusters, c.clustered_accounts) == (2, 5)
    assert c.purity == pytest.approx(4 / 5)
    # X: 2 of 2 in C1; Y: a3 in C2, a4 unclustered -> 1 of 2; (2 + 1) / 4
    assert c.completeness == pytest.approx(3 / 4)


def test_no_clusters() -> None:
    ev = evaluate(LABELS, [AccountResult(r.account_id, r.score, r.verdict) for r in RESULTS])
    assert ev.clusters.purity is None
    assert ev.clusters.completeness == 0.0
    assert any("no clusters" in n for n in ev.notes)


def test_no_positives() -> None:
    benign = {k: v for k, v in LABELS.items() if not v.is_distillation}
    ev = evaluate(benign, RESULTS)
    assert ev.distillation.recall is None
    assert ev.distillation.precision == 0.0  # b1 flagged, nothing to catch
    assert ev.roc_auc is None
    assert all(p.recall is None for p in ev.recall_at_fpr)
    assert ev.exchange_recall_flagged is None
    assert ev.clusters.completeness is None
    assert ev.campaigns == []
    assert any("only one class" in n for n in ev.notes)


def test_no_negatives() -> None:
    attack = {k: v for k, v in LABELS.items() if v.is_distillation}
    ev = evaluate(attack, RESULTS)
    assert ev.roc_auc is None
    assert ev.benign_populations == []
    assert ev.flagged.precision == 1.0
    assert ev.flagged.recall == pytest.approx(0.5)


def test_all_same_score_has_no_auc() -> None:
    same = [AccountResult(k, 0.3, "benign") for k in LABELS]
    ev = evaluate(LABELS, same)
    assert ev.roc_auc is None
    assert any("same score" in n for n in ev.notes)
    # nothing is strictly above the tied benign scores: no threshold, no recall
    assert ev.recall_at_fpr[0].threshold is None
    assert ev.recall_at_fpr[0].recall == 0.0
    assert ev.distillation.precision is None
    assert ev.distillation.f1 == 0.0


def test_empty_results_count_everything_as_missing() -> None:
    ev = evaluate(LABELS, [])
    assert ev.coverage.missing_from_results == len(LABELS)
    assert ev.flagged.recall == 0.0
    assert ev.roc_auc is None


def test_to_dict_is_json_ready() -> None:
    import orjson

    data = evaluate(LABELS, RESULTS).to_dict()
    assert orjson.loads(orjson.dumps(data))["clusters"]["purity"] == pytest.approx(0.8)
