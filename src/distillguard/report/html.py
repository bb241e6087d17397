"""A self-contained results page a person can open offline.

Everything is inline (CSS and SVG, no scripts, no CDN), every piece of user data is
HTML-escaped (account ids, reasons and indicators come from untrusted logs), and the
same results give the same bytes, like the rest of the results directory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

import orjson

from distillguard.report.svg import activity_svg, histogram_svg, mix_svg, timeline_svg
from distillguard.results.model import AccountResult, ClusterResult
from distillguard.scoring.combine import is_lead

TOP_ACCOUNTS = 50
"""How many of the highest-scoring accounts the page lists with their reasons."""

TOP_CLUSTERS = 100

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:72rem;
color:#1d1d1f;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eee;vertical-align:top}
th{background:#f5f5f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
.verdict-distillation{color:#b00020;font-weight:600}.verdict-review{color:#a05a00}
.verdict-benign{color:#2e7d32}.cards{display:flex;gap:1rem;flex-wrap:wrap}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;min-width:8rem}
.card b{display:block;font-size:1.4rem}ul.reasons{margin:0;padding-left:1.1rem}
svg text{font-size:11px;fill:#333}svg .bar{fill:#4a6fa5}svg .span{fill:#b00020;opacity:.7}
pre{background:#f5f5f7;padding:.8rem;overflow-x:auto;font-size:.8rem}
details{border:1px solid #ddd;border-radius:6px;padding:.4rem .8rem;margin:.5rem 0}
h3{font-size:1rem;margin:.8rem 0 .3rem}
"""


def _verdict(verdict: str) -> str:
    return f'<span class="verdict-{escape(verdict)}">{escape(verdict)}</span>'


def _reasons(reasons: Sequence[Any]) -> str:
    if not reasons:
        return "—"
    items = "".join(
        f"<li>{escape(r.summary)} <small>({escape(r.detector)}, {r.weight:.2f})</small></li>"
        for r in reasons
    )
    return f'<ul class="reasons">{items}</ul>'


def _cards(summary: Mapping[str, Any]) -> str:
    counts = summary.get("counts") or {}
    verdicts = counts.get("verdicts") or {}
    cards = [("accounts", counts.get("accounts", 0)), ("clusters", counts.get("clusters", 0))]
    cards += [(name, verdicts.get(name, 0)) for name in ("distillation", "review", "benign")]
    for key in ("exchanges_read", "exchanges", "quarantined"):
        if key in counts:
            cards.append((key.replace("_", " "), counts[key]))
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><b>{escape(_fmt(value))}</b>{escape(name)}</div>'
            for name, value in cards
        )
        + "</div>"
    )


def _fmt(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _accounts_table(accounts: Sequence[AccountResult]) -> str:
    ranked = sorted(accounts, key=lambda a: (-a.score, a.account_id))[:TOP_ACCOUNTS]
    if not ranked:
        return "<p>No accounts.</p>"
    rows = "".join(
        f"<tr><td>{escape(a.account_id)}</td><td class='num'>{a.score:.3f}</td>"
        f"<td>{_verdict(a.verdict)}</td><td>{escape(a.cluster_id or '—')}</td>"
        f"<td>{_reasons(a.reasons)}</td></tr>"
        for a in ranked
    )
    return (
        "<table><thead><tr><th>account</th><th>score</th><th>verdict</th><th>cluster</th>"
        f"<th>reasons</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _clusters_section(clusters: Sequence[ClusterResult]) -> str:
    if not clusters:
        return "<p>No coordinated clusters in these results.</p>"
    ranked = sorted(clusters, key=lambda c: (-c.score, c.cluster_id))[:TOP_CLUSTERS]
    rows = []
    for c in ranked:
        indicators = ", ".join(
            f"{escape(i.kind)}={escape(i.value)} ({i.accounts})" for i in c.indicators[:8]
        )
        seen = (
            f"{escape(c.first_seen.isoformat())} → {escape(c.last_seen.isoformat())}"
            if c.first_seen and c.last_seen
            else "—"
        )
        rows.append(
            f"<tr><td>{escape(c.cluster_id)}</td><td class='num'>{len(c.account_ids):,}</td>"
            f"<td class='num'>{c.exchanges:,}</td><td class='num'>{c.score:.3f}</td>"
            f"<td>{_verdict(c.verdict)}</td><td>{escape(', '.join(c.capabilities)) or '—'}</td>"
            f"<td>{seen}</td><td>{_reasons(c.reasons)}</td><td>{indicators or '—'}</td></tr>"
        )
    spans = [
        (c.cluster_id, c.first_seen, c.last_seen)
        for c in ranked
        if c.first_seen is not None and c.last_seen is not None
    ]
    return (
        timeline_svg(spans)
        + "<table><thead><tr><th>cluster</th><th>accounts</th><th>exchanges</th><th>score</th>"
        "<th>verdict</th><th>capabilities</th><th>seen</th><th>reasons</th><th>indicators</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _leads_section(leads: Sequence[ClusterResult]) -> str:
    """Crowds under review whose members all stay benign, apart from the clusters that
    accuse someone: a group worth a look, not a campaign (see ``scoring.combine.is_lead``)."""
    if not leads:
        return ""
    return (
        "<h2>Leads: groups under review, no account accused</h2>"
        "<p>Each of these clusters scores <code>review</code> as a group, but none of its "
        "accounts reaches <code>review</code> on its own evidence (for example strangers who "
        "type the same stock phrase, or firms sharing a public harness).</p>"
        + _clusters_section(leads)
    )


def _when(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _cluster_details(clusters: Sequence[ClusterResult], summary: Mapping[str, Any]) -> str:
    """Per leading cluster: members, evidence, traffic by model with releases, capability mix."""
    activity = summary.get("cluster_activity")
    if not isinstance(activity, Mapping) or not activity.get("clusters"):
        return ""
    releases = [
        (str(r.get("model")), moment)
        for r in activity.get("releases") or []
        if isinstance(r, Mapping) and (moment := _when(r.get("first_seen"))) is not None
    ]
    by_id = {c.cluster_id: c for c in clusters}
    blocks = []
    for cid, drawn in activity["clusters"].items():
        cluster = by_id.get(cid)
        if cluster is None or not isinstance(drawn, Mapping):
            continue
        timeline = drawn.get("timeline") or {}
        start = _when(timeline.get("start"))
        chart = (
            activity_svg(
                start,
                int(activity.get("bucket_hours", 6)),
                [str(m) for m in timeline.get("models") or []],
                timeline.get("counts") or [],
                releases,
            )
            if start is not None
            else ""
        )
        mix = mix_svg([(str(n), float(v)) for n, v in drawn.get("capabilities") or []])
        members = ", ".join(escape(a) for a in cluster.account_ids[:60])
        more = len(cluster.account_ids) - 60
        if more > 0:
            members += f" … and {more:,} more"
        blocks.append(
            f"<details><summary><b>{escape(cid)}</b> — {_verdict(cluster.verdict)}, score "
            f"{cluster.score:.3f}, {len(cluster.account_ids):,} accounts, "
            f"{cluster.exchanges:,} requests</summary>"
            f"<h3>Evidence</h3>{_reasons(cluster.reasons)}"
            f"<h3>Traffic by model</h3>{chart or '<p>No traffic.</p>'}"
            f"<h3>Capability mix</h3>{mix or '<p>No features.</p>'}"
            f"<h3>Accounts</h3><p>{members}</p></details>"
        )
    return "<h2>Leading clusters in detail</h2>" + "".join(blocks) if blocks else ""


def build_report_html(
    accounts: Sequence[AccountResult],
    clusters: Sequence[ClusterResult],
    summary: Mapping[str, Any],
) -> str:
    """The whole page as one string: counts, score histogram, top accounts, clusters, leads
    (groups under review with no account accused), cluster details, run."""
    title = "distillguard results"
    baseline = summary.get("baseline")
    if isinstance(baseline, Mapping) and baseline.get("name"):
        title += f" — baseline {baseline['name']}"
    run = orjson.dumps(summary, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2, default=str)
    leads = [c for c in clusters if is_lead(c)]
    groups = [c for c in clusters if not is_lead(c)]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1>{_cards(summary)}"
        f"<h2>Scores</h2>{histogram_svg([a.score for a in accounts])}"
        f"<h2>Highest-scoring accounts (top {TOP_ACCOUNTS})</h2>{_accounts_table(accounts)}"
        f"<h2>Coordinated clusters</h2>{_clusters_section(groups)}"
        f"{_leads_section(leads)}"
        f"{_cluster_details(clusters, summary)}"
        f"<h2>Run</h2><pre>{escape(run.decode('utf-8'))}</pre>"
        "</body></html>\n"
    )
