"""Server-side SVG charts for the admin dashboard: no scripts, no external resources.

Each chart is an `<svg role="img">` with a `<title>` and a `<desc>` that states the figures in
words, so screen readers and text browsers get the content too. Every label is escaped; nothing
user-supplied is ever emitted raw.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape
from itertools import count

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
WIDTH, HEIGHT = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40
_ids = count(1)

Formatter = Callable[[float], str]


def _plain(value: float) -> str:
    return f"{value:,.3g}"


def _frame(title: str, description: str, body: str, legend: str = "") -> str:
    n = next(_ids)
    return (
        f'<figure class="chart"><svg role="img" aria-labelledby="c{n}t c{n}d" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="c{n}t">{escape(title)}</title><desc id="c{n}d">{escape(description)}</desc>'
        f"{body}</svg><figcaption>{escape(title)}{legend}</figcaption></figure>"
    )


def _axes(max_value: float, fmt: Formatter) -> str:
    bottom, plot_h = HEIGHT - BOTTOM, HEIGHT - TOP - BOTTOM
    parts = [f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" stroke="#555"/>']
    for i in range(5):
        value = max_value * i / 4
        y = bottom - plot_h * i / 4
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
            f"{escape(fmt(value))}</text>"
        )
    return "".join(parts)


def _x_labels(labels: Sequence[str], xs: Sequence[float]) -> str:
    step = max(1, len(labels) // 7)
    return "".join(
        f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="11">'
        f"{escape(label)}</text>"
        for i, (label, x) in enumerate(zip(labels, xs, strict=True))
        if i % step == 0 or i == len(labels) - 1
    )


def _legend(names: Sequence[str]) -> str:
    items = "".join(
        f'<span class="key"><span class="swatch" style="background:{PALETTE[i % len(PALETTE)]}"></span>'
        f"{escape(name)}</span>"
        for i, name in enumerate(names)
    )
    return f'<span class="legend">{items}</span>'


def _empty(title: str) -> str:
    body = f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" font-size="14">No data yet</text>'
    return _frame(title, f"{title}: no data in this period.", body)


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    fmt: Formatter = _plain,
) -> str:
    """One line per series over the x labels; None values leave gaps."""
    values = [v for points in series.values() for v in points if v is not None]
    if not labels or not values:
        return _empty(title)
    top = max(values) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    xs = [
        LEFT + (plot_w * i / max(1, len(labels) - 1) if len(labels) > 1 else plot_w / 2)
        for i in range(len(labels))
    ]
    parts = [_axes(top, fmt), _x_labels(labels, xs)]
    summary = []
    for i, (name, points) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        coords = [
            (x, HEIGHT - BOTTOM - plot_h * v / top) for x, v in zip(xs, points, strict=True) if v is not None
        ]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
        parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>' for x, y in coords)
        summary.append(_summary(name, points, fmt))
    description = f"{title} from {labels[0]} to {labels[-1]}. " + "; ".join(summary) + "."
    return _frame(title, description, "".join(parts), _legend(list(series)))


def _summary(name: str, points: Sequence[float | None], fmt: Formatter) -> str:
    present = [value for value in points if value is not None]
    if not present:
        return f"{name}: no data"
    return f"{name}: latest {fmt(present[-1])}, max {fmt(max(present))}"


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], *, fmt: Formatter = _plain) -> str:
    """Vertical bars, one per label."""
    if not labels or not any(values):
        return _empty(title)
    top = max(values) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(labels)
    xs = [LEFT + slot * (i + 0.5) for i in range(len(labels))]
    parts = [_axes(top, fmt), _x_labels(labels, xs)]
    for i, (x, value) in enumerate(zip(xs, values, strict=True)):
        height = plot_h * value / top
        parts.append(
            f'<rect x="{x - slot * 0.35:.1f}" y="{HEIGHT - BOTTOM - height:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{height:.1f}" fill="{PALETTE[i % len(PALETTE)] if len(labels) <= 6 else PALETTE[0]}">'
            f"<title>{escape(labels[i])}: {escape(fmt(value))}</title></rect>"
        )
    description = (
        f"{title}: " + "; ".join(f"{label} {fmt(v)}" for label, v in zip(labels, values, strict=True)) + "."
    )
    return _frame(title, description, "".join(parts))
