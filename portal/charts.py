"""Charts as inline SVG drawn on the server: readable without JavaScript, no inline style.

Colours come from classes styled in static/css/portal.css (the CSP forbids style
attributes). Each chart is an image with a title and a text alternative that lists every
number; the same numbers stand in a table beside it. A hidden number is drawn as an empty
dashed box with its mark ("< 5", "x"), never as a bar of some length.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# Drawn at this many CSS px (the stylesheet caps it there; it fits a 320 px phone), so
# 13-unit text reads as 12-13 px from a 320 px phone to a desk.
WIDTH = 288
ROW = 36  # height of one horizontal bar with its label above it
LABEL_CHARS = 40  # longer labels are shortened in the chart (the table has them whole)
VALUE_ROOM = 72  # room right of the longest bar for its number
COLUMN_HEIGHT = 160  # drawing height of the bars of a column chart
HIDDEN_WIDTH = 28


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its value (None when hidden) and the text shown beside it."""

    label: str
    value: float | None
    display: str


def _shorten(text: str, limit: int = LABEL_CHARS) -> str:
    """A label cut to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def text_alternative(title: str, bars: Sequence[Bar]) -> str:
    """The chart in words: its title and every label with its number."""
    if not bars:
        return f"{title}: -"
    return f"{title}: " + "; ".join(f"{bar.label}: {bar.display}" for bar in bars)


def _frame(chart_id: str, title: str, bars: Sequence[Bar], height: int, body: list[str]) -> Markup:
    """The <svg> element around a chart's drawing, with its title and description."""
    alternative = text_alternative(title, bars)
    # Every text in the drawing went through escape(); the rest are numbers we computed.
    return Markup(  # noqa: S704
        f'<svg class="chart" id="{escape(chart_id)}" role="img" '
        f'aria-label="{escape(alternative)}" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        # The aria-label is the text alternative; a <desc> repeating it would double the
        # weight of every chart on a phone for nothing.
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def bar_chart(
    *, chart_id: str, title: str, bars: Sequence[Bar], maximum: float | None = None
) -> Markup:
    """Horizontal bars, one row each, label above the bar and the number after it."""
    top = max([bar.value for bar in bars if bar.value is not None] + [maximum or 0])
    scale = (WIDTH - VALUE_ROOM) / top if top > 0 else 0.0
    body: list[str] = []
    for index, bar in enumerate(bars):
        y = index * ROW
        body.append(
            f'<text class="chart-label" x="0" y="{y + 13}">{escape(_shorten(bar.label))}</text>'
        )
        if bar.value is None:
            body.append(
                f'<rect class="bar-hidden" x="0.5" y="{y + 17.5}" width="{HIDDEN_WIDTH}" '
                f'height="12"/>'
            )
            end = HIDDEN_WIDTH
        else:
            width = round(bar.value * scale, 1)
            body.append(f'<rect class="bar" x="0" y="{y + 17}" width="{width}" height="13"/>')
            end = int(width)
        body.append(
            f'<text class="chart-value" x="{end + 6}" y="{y + 28}">{escape(bar.display)}</text>'
        )
    height = max(len(bars) * ROW + 4, ROW)
    return _frame(chart_id, title, bars, height, body)


def column_chart(
    *, chart_id: str, title: str, bars: Sequence[Bar], short_labels: Sequence[tuple[str, str]]
) -> Markup:
    """Vertical columns over time, the number above each and two short lines below.

    For months: the month's abbreviation, and the year under the first column and under
    every January ("Mar" over "2026", never "Mar 26", which reads like a day).
    """
    top = max([bar.value for bar in bars if bar.value is not None] + [0])
    count = max(len(bars), 1)
    slot = WIDTH / count
    width = max(slot * 0.7, 2)
    above, below = 18, 36
    body: list[str] = []
    for index, (bar, short) in enumerate(zip(bars, short_labels, strict=True)):
        x = index * slot + (slot - width) / 2
        middle = round(index * slot + slot / 2, 1)
        base = above + COLUMN_HEIGHT
        if bar.value is None:
            height = 12.0
            body.append(
                f'<rect class="bar-hidden" x="{x:.1f}" y="{base - height:.1f}" '
                f'width="{width:.1f}" height="{height}"/>'
            )
        else:
            height = round(bar.value / top * COLUMN_HEIGHT, 1) if top > 0 else 0.0
            body.append(
                f'<rect class="bar" x="{x:.1f}" y="{base - height:.1f}" '
                f'width="{width:.1f}" height="{height}"/>'
            )
        body.append(
            f'<text class="chart-value" x="{middle}" y="{base - height - 4:.1f}" '
            f'text-anchor="middle">{escape(bar.display)}</text>'
        )
        for line, text in enumerate(short):
            if text:
                body.append(
                    f'<text class="chart-label" x="{middle}" y="{base + 15 + 15 * line}" '
                    f'text-anchor="middle">{escape(text)}</text>'
                )
    return _frame(chart_id, title, bars, above + COLUMN_HEIGHT + below, body)
