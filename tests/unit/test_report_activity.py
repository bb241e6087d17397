"""The report's per-cluster charts: traffic by model with releases, and the capability mix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from distillguard.report.html import build_report_html
from distillguard.report.svg import activity_svg, mix_svg
from distillguard.results.model import ClusterResult, Reason

START = datetime(2026, 10, 1, tzinfo=UTC)


def test_activity_chart_stacks_models_and_marks_a_release_inside_the_window() -> None:
    svg = activity_svg(
        START,
        6,
        ["old-model", "new-model"],
        [[10, 10, 2, 0], [0, 0, 8, 12]],
        [("new-model", START + timedelta(hours=13)), ("later", START + timedelta(days=9))],
    )
    assert svg.count("<rect") == 5 + 2  # five non-empty bars and two legend swatches
    assert "release: new-model" in svg and "release: later" not in svg
    assert "new-model: 12 requests" in svg


def test_mix_chart_labels_wide_shares_only() -> None:
    svg = mix_svg([("reasoning", 0.9), ("chat", 0.1), ("vision", 0.001)])
    assert "reasoning 90%" in svg and "vision" in svg and "vision 0%" not in svg


def test_report_draws_leading_clusters_from_the_summary() -> None:
    cluster = ClusterResult(
        cluster_id="C-1",
        account_ids=["a", "<b>"],
        score=0.9,
        verdict="distillation",
        exchanges=30,
        capabilities=["reasoning"],
        first_seen=START,
        last_seen=START + timedelta(days=1),
        reasons=[Reason("DG-401", "2 accounts share a card", 0.6)],
        indicators=[],
    )
    summary = {
        "counts": {},
        "cluster_activity": {
            "bucket_hours": 6,
            "releases": [{"model": "new", "first_seen": (START + timedelta(hours=7)).isoformat()}],
            "clusters": {
                "C-1": {
                    "timeline": {"start": START.isoformat(), "models": ["new"], "counts": [[3, 4]]},
                    "capabilities": [["reasoning", 1.0]],
                }
            },
        },
    }
    page = build_report_html([], [cluster], summary)
    assert "Leading clusters in detail" in page and "release: new" in page
    assert "&lt;b&gt;" in page and "<b>C-1</b>" in page
    assert build_report_html([], [cluster], summary) == page


def test_leads_are_listed_apart_from_the_clusters_that_accuse_someone() -> None:
    def cluster(cid: str, verdict: str, reasons: list[Reason]) -> ClusterResult:
        return ClusterResult(
            cluster_id=cid, account_ids=["a", "b"], score=0.6, verdict=verdict, exchanges=9,
            reasons=reasons,
        )  # fmt: skip

    lead = cluster("C-lead", "review", [Reason("scoring", "a lead, not an accusation", 0.0)])
    campaign = cluster("C-camp", "distillation", [Reason("DG-401", "share a card", 0.6)])
    page = build_report_html([], [campaign, lead], {"counts": {}})
    main, _, rest = page.partition("Leads: groups under review")
    assert "C-camp" in main and "C-lead" not in main
    assert "C-lead" in rest
    assert "Leads:" not in build_report_html([], [campaign], {"counts": {}})
