"""The console's SVG charts: labels never clipped or in scientific notation, tier colours match
the chat badges, and the SVG scales to a phone's width."""

from __future__ import annotations

import re

from assistant.ui.charts import (
    CHAR_WIDTH,
    TIER_COLOURS,
    bar_chart,
    duration,
    duration_scale,
    line_chart,
    plain_number,
)


def test_numbers_are_plain_and_durations_read_in_seconds_when_long() -> None:
    assert plain_number(12345678) == "12,345,678"
    assert plain_number(12.5) == "12.5" and plain_number(3.0) == "3" and plain_number(0.25) == "0.25"
    assert duration(850) == "850 ms" and duration(56883) == "56.9 s" and duration(125000) == "125 s"


def test_a_long_axis_label_fits_inside_the_left_margin() -> None:
    svg = line_chart("Latency", ["11-01", "11-02"], {"p95": [1200.0, 56883.0]}, fmt=lambda v: f"{v:,.0f} ms")
    labels = re.findall(r'<text x="([\d.]+)" y="[\d.]+" text-anchor="end" font-size="11">([^<]+)</text>', svg)
    assert ("56,883 ms") in [text for _, text in labels]
    for x, text in labels:
        assert float(x) - CHAR_WIDTH * len(text) >= 0, (x, text)


def test_tokens_never_come_out_in_scientific_notation() -> None:
    svg = line_chart("Tokens", ["11-01", "11-02"], {"prompt": [120000.0, 2400000.0]})
    assert "e+" not in svg and "2,400,000" in svg


def test_tier_bars_use_the_chat_badge_colours() -> None:
    svg = bar_chart("Tiers", ["public", "internal", "regulated"], [3, 2, 1])
    for tier, colour in TIER_COLOURS.items():
        assert f'fill="{colour}"><title>{tier}:' in svg


def test_the_svg_has_no_fixed_pixel_width() -> None:
    svg = bar_chart("Tiers", ["public"], [1])
    assert 'width="560"' not in svg and 'viewBox="0 0 560 240"' in svg


def test_a_latency_axis_uses_one_unit() -> None:
    assert duration_scale([120.0, None, 56883.0])(0) == "0.0 s"
    assert duration_scale([120.0, 900.0])(0) == "0 ms"
