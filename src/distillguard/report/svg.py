"""Small inline SVG charts for the static report.

Drawn by hand rather than with matplotlib: the page must open offline, the bytes must
be identical for identical results (matplotlib embeds ids and dates), and a histogram
and a timeline need no plotting library.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

WIDTH = 640
HEIGHT = 200
MARGIN = 32


def _num(value: float) -> str:
    """Coordinates with two decimals: enough for a screen, stable as text."""
    return f"{value:.2f}"


def histogram_svg(scores: Sequence[float], bins: int = 20) -> str:
    """Bar chart of scores in ``bins`` equal bins over [0, 1] (the last bin includes 1).

    Bar heights use a square-root scale so that the handful of high-scoring accounts
    stays visible next to thousands of benign ones; the count is in each bar's tooltip.
    """
    counts = [0] * bins
    for score in scores:
        counts[min(int(score * bins), bins - 1)] += 1
    top = max(counts) if counts and max(counts) > 0 else 1
    plot_w = WIDTH - 2 * MARGIN
    plot_h = HEIGHT - 2 * MARGIN
    bar_w = plot_w / bins
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="score histogram">',
        f'<line x1="{MARGIN}" y1="{HEIGHT - MARGIN}" x2="{WIDTH - MARGIN}" '
        f'y2="{HEIGHT - MARGIN}" stroke="#555"/>',
    ]
    for index, count in enumerate(counts):
        height = plot_h * (count / top) ** 0.5
        x = MARGIN + index * bar_w
        low, high = index / bins, (index + 1) / bins
        parts.append(
            f'<rect x="{_num(x + 1)}" y="{_num(HEIGHT - MARGIN - height)}" '
            f'width="{_num(bar_w - 2)}" height="{_num(height)}" class="bar">'
            f"<title>{low:.2f}–{high:.2f}: {count:,} accounts</title></rect>"
        )
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = MARGIN + tick * plot_w
        parts.append(
            f'<text x="{_num(x)}" y="{HEIGHT - MARGIN + 16}" text-anchor="middle">{tick:g}</text>'
        )
    parts.append(
        f'<text x="{MARGIN}" y="{MARGIN - 10}">accounts per score bin (√ scale), '
        f"max {top:,}</text></svg>"
    )
    return "".join(parts)


def timeline_svg(spans: Sequence[tuple[str, datetime, datetime]]) -> str:
    """One horizontal bar per ``(label, first_seen, last_seen)``, on a shared time axis."""
    if not spans:
        return ""
    start = min(s for _, s, _ in spans)
    end = max(e for _, _, e in spans)
    total = max((end - start).total_seconds(), 1.0)
    row = 18
    label_w = 160
    height = MARGIN + row * len(spans) + 8
    plot_w = WIDTH - label_w - MARGIN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="cluster timeline">',
        f'<text x="{label_w}" y="14">{escape(start.isoformat())}</text>',
        f'<text x="{WIDTH - MARGIN}" y="14" text-anchor="end">{escape(end.isoformat())}</text>',
    ]
    for index, (label, first, last) in enumerate(spans):
        y = MARGIN + index * row
        x0 = label_w + plot_w * (first - start).total_seconds() / total
        width = max(plot_w * (last - first).total_seconds() / total, 2.0)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{escape(label[:24])}</text>'
            f'<rect x="{_num(x0)}" y="{y}" width="{_num(width)}" height="{row - 4}" class="span">'
            f"<title>{escape(label)}: {escape(first.isoformat())} → "
            f"{escape(last.isoformat())}</title></rect>"
        )
    parts.append("</svg>")
    return "".join(parts)


SERIES_COLOURS = ("#4a6fa5", "#d1495b", "#edae49", "#8d99ae")
"""Fill of the first, second, third and ``other`` model series."""
MIX_COLOURS = ("#4a6fa5", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d99ae", "#30638e")


def activity_svg(
    start: datetime,
    bucket_hours: int,
    models: Sequence[str],
    counts: Sequence[Sequence[int]],
    releases: Sequence[tuple[str, datetime]],
) -> str:
    """Stacked bars of a cluster's requests per time bucket and model, releases marked.

    A campaign chasing a new model shows as its colour taking over the bars just after the
    dashed release line.
    """
    buckets = max((len(c) for c in counts), default=0)
    if not buckets:
        return ""
    height = HEIGHT
    plot_w = WIDTH - 2 * MARGIN
    plot_h = height - 2 * MARGIN - 14
    totals = [sum(series[i] for series in counts) for i in range(buckets)]
    top = max(max(totals), 1)
    bar_w = plot_w / buckets
    span_seconds = buckets * bucket_hours * 3600.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="cluster traffic by model">',
        f'<line x1="{MARGIN}" y1="{height - MARGIN}" x2="{WIDTH - MARGIN}" '
        f'y2="{height - MARGIN}" stroke="#555"/>',
    ]
    for i in range(buckets):
        base = float(height - MARGIN)
        for series, (name, values) in enumerate(zip(models, counts, strict=True)):
            value = values[i] if i < len(values) else 0
            if not value:
                continue
            bar_h = plot_h * value / top
            base -= bar_h
            colour = SERIES_COLOURS[min(series, len(SERIES_COLOURS) - 1)]
            parts.append(
                f'<rect x="{_num(MARGIN + i * bar_w)}" y="{_num(base)}" '
                f'width="{_num(max(bar_w - 0.5, 0.5))}" height="{_num(bar_h)}" '
                f'fill="{colour}"><title>{escape(name)}: {value:,} requests</title></rect>'
            )
    for model, moment in releases:
        offset = (moment - start).total_seconds()
        if not 0 <= offset <= span_seconds:
            continue
        x = MARGIN + plot_w * offset / span_seconds
        parts.append(
            f'<line x1="{_num(x)}" y1="{MARGIN}" x2="{_num(x)}" y2="{height - MARGIN}" '
            f'stroke="#111" stroke-dasharray="4 3"/>'
            f'<text x="{_num(x + 3)}" y="{MARGIN + 10}">release: {escape(model)}</text>'
        )
    legend_x = MARGIN
    for series, name in enumerate(models):
        colour = SERIES_COLOURS[min(series, len(SERIES_COLOURS) - 1)]
        parts.append(
            f'<rect x="{legend_x}" y="{height - 14}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{legend_x + 14}" y="{height - 5}">{escape(name[:28])}</text>'
        )
        legend_x += 150
    parts.append(
        f'<text x="{MARGIN}" y="{MARGIN - 10}">requests per {bucket_hours} h from '
        f"{escape(start.isoformat())}, max {top:,}</text></svg>"
    )
    return "".join(parts)


def mix_svg(shares: Sequence[tuple[str, float]]) -> str:
    """One horizontal bar split by capability share, labelled with each share."""
    if not shares:
        return ""
    height = 46
    plot_w = WIDTH - 2 * MARGIN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="capability mix">'
    ]
    x = float(MARGIN)
    for index, (name, share) in enumerate(shares):
        width = plot_w * share
        colour = MIX_COLOURS[index % len(MIX_COLOURS)]
        parts.append(
            f'<rect x="{_num(x)}" y="4" width="{_num(width)}" height="18" fill="{colour}">'
            f"<title>{escape(name)}: {share:.0%}</title></rect>"
        )
        if width >= 60:
            parts.append(f'<text x="{_num(x + 3)}" y="38">{escape(name)} {share:.0%}</text>')
        x += width
    parts.append("</svg>")
    return "".join(parts)
