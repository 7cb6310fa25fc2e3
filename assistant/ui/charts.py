"""Server-side SVG charts for the admin console: no scripts, no external resources.

Each chart is an `<svg role="img">` with a `<title>` and a `<desc>` that states the figures in
words, so screen readers and text browsers get the content too. Every label is escaped; nothing
user-supplied is ever emitted raw. The left margin grows with the widest axis label so no label is
ever clipped; numbers never come out in scientific notation; colours come from `CHART_STYLE`
(light and dark), and tiers use the chat badges' colours. The SVG scales to its container.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape
from itertools import count

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#ea580c", "#9333ea", "#8c564b")
# The hues of the chat's tier badges (public/confidante.css): public green, internal amber,
# regulated indigo; strong enough to read as bars on both the light and the dark page.
TIER_COLOURS = {"public": "#16a34a", "internal": "#d97706", "regulated": "#4f46e5"}
WIDTH, HEIGHT = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40
CHAR_WIDTH = 6.6  # px per character of an 11 px system-ui label, rounded up
_ids = count(1)

Formatter = Callable[[float], str]

CHART_STYLE = """
figure.chart svg{width:100%;height:auto;display:block}
.chart text{fill:currentColor}.chart .axis{stroke:#555}.chart .gridline{stroke:#ddd}
@media (prefers-color-scheme:dark){.chart .axis{stroke:#aaa}.chart .gridline{stroke:#444}}
"""


def plain_number(value: float) -> str:
    """1,234,567 / 12.5 / 0.25: grouped digits, never "1.23e+06"."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.1f}".removesuffix(".0")
    return f"{value:.2f}".rstrip("0").rstrip(".") if value else "0"


def duration(ms: float) -> str:
    """Milliseconds under two seconds, seconds above ("56.9 s" reads better than "56,883 ms")."""
    if abs(ms) < 2000:
        return f"{ms:,.0f} ms"
    seconds = ms / 1000
    return f"{seconds:,.0f} s" if abs(seconds) >= 100 else f"{seconds:,.1f} s"


def seconds(ms: float) -> str:
    return f"{ms / 1000:,.0f} s" if abs(ms) >= 100_000 else f"{ms / 1000:,.1f} s"


def duration_scale(values: Sequence[float | None]) -> Formatter:
    """One unit for a whole axis: seconds when the largest value reads better in seconds."""
    top = max((v for v in values if v is not None), default=0.0)
    return seconds if top >= 2000 else duration


def _left_margin(labels: Sequence[str]) -> float:
    return max(LEFT, 12 + CHAR_WIDTH * max((len(label) for label in labels), default=0))


def _frame(title: str, description: str, body: str, legend: str = "") -> str:
    n = next(_ids)
    return (
        f'<figure class="chart"><svg role="img" aria-labelledby="c{n}t c{n}d" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="c{n}t">{escape(title)}</title><desc id="c{n}d">{escape(description)}</desc>'
        f"{body}</svg><figcaption>{escape(title)}{legend}</figcaption></figure>"
    )


def _axes(max_value: float, fmt: Formatter) -> tuple[float, str]:
    """The y axis with five gridlines; returns the left margin its labels need and the SVG."""
    ticks = [fmt(max_value * i / 4) for i in range(5)]
    left = _left_margin(ticks)
    bottom, plot_h = HEIGHT - BOTTOM, HEIGHT - TOP - BOTTOM
    parts = [f'<line class="axis" x1="{left:.1f}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}"/>']
    for i, tick in enumerate(ticks):
        y = bottom - plot_h * i / 4
        parts.append(
            f'<line class="gridline" x1="{left:.1f}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text x="{left - 6:.1f}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{escape(tick)}</text>'
        )
    return left, "".join(parts)


def _x_labels(labels: Sequence[str], xs: Sequence[float]) -> str:
    step = max(1, len(labels) // 7)
    return "".join(
        f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="11">'
        f"{escape(label)}</text>"
        for i, (label, x) in enumerate(zip(labels, xs, strict=True))
        if i % step == 0 or i == len(labels) - 1
    )


def _legend(names: Sequence[str], colours: Sequence[str]) -> str:
    items = "".join(
        f'<span class="key"><span class="swatch" style="background:{colour}"></span>{escape(name)}</span>'
        for name, colour in zip(names, colours, strict=True)
    )
    return f'<span class="legend">{items}</span>'


def _empty(title: str) -> str:
    body = f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" font-size="14">No data yet</text>'
    return _frame(title, f"{title}: no data in this period.", body)


def series_colours(names: Sequence[str]) -> list[str]:
    """A tier's own colour for a tier name, the palette in order for anything else."""
    return [TIER_COLOURS.get(name, PALETTE[i % len(PALETTE)]) for i, name in enumerate(names)]


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    fmt: Formatter = plain_number,
) -> str:
    """One line per series over the x labels; None values leave gaps."""
    values = [v for points in series.values() for v in points if v is not None]
    if not labels or not values:
        return _empty(title)
    top = max(values) or 1.0
    left, axes = _axes(top, fmt)
    plot_w, plot_h = WIDTH - left - RIGHT, HEIGHT - TOP - BOTTOM
    xs = [
        left + (plot_w * i / max(1, len(labels) - 1) if len(labels) > 1 else plot_w / 2)
        for i in range(len(labels))
    ]
    parts = [axes, _x_labels(labels, xs)]
    colours = series_colours(list(series))
    summary = []
    for colour, (name, points) in zip(colours, series.items(), strict=True):
        coords = [
            (x, HEIGHT - BOTTOM - plot_h * v / top) for x, v in zip(xs, points, strict=True) if v is not None
        ]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in coords)
        summary.append(_summary(name, points, fmt))
    description = f"{title} from {labels[0]} to {labels[-1]}. " + "; ".join(summary) + "."
    return _frame(title, description, "".join(parts), _legend(list(series), colours))


def _summary(name: str, points: Sequence[float | None], fmt: Formatter) -> str:
    present = [value for value in points if value is not None]
    if not present:
        return f"{name}: no data"
    return f"{name}: latest {fmt(present[-1])}, max {fmt(max(present))}"


def bar_chart(
    title: str, labels: Sequence[str], values: Sequence[float], *, fmt: Formatter = plain_number
) -> str:
    """Vertical bars, one per label (a tier's bar in that tier's colour)."""
    if not labels or not any(values):
        return _empty(title)
    top = max(values) or 1.0
    left, axes = _axes(top, fmt)
    plot_w, plot_h = WIDTH - left - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(labels)
    xs = [left + slot * (i + 0.5) for i in range(len(labels))]
    colours = series_colours(labels) if len(labels) <= len(PALETTE) else [PALETTE[0]] * len(labels)
    parts = [axes, _x_labels(labels, xs)]
    for label, x, value, colour in zip(labels, xs, values, colours, strict=True):
        height = plot_h * value / top
        parts.append(
            f'<rect x="{x - slot * 0.35:.1f}" y="{HEIGHT - BOTTOM - height:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{height:.1f}" fill="{colour}">'
            f"<title>{escape(label)}: {escape(fmt(value))}</title></rect>"
        )
    description = (
        f"{title}: " + "; ".join(f"{label} {fmt(v)}" for label, v in zip(labels, values, strict=True)) + "."
    )
    return _frame(title, description, "".join(parts))
