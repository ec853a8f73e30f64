"""Bar charts as inline SVG, rendered on the server: no JavaScript library, nothing downloaded.

Every value is also in the table beside the chart (and its CSV), so the chart is
decoration for sighted users; it carries a ``<title>`` and ``role="img"`` for
screen readers all the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

BAR = "#0b5cad"
GRID = "#d7dde4"
INK = "#1d2530"


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str, horizontal: bool = False) -> Markup:
    """A bar chart of ``values``; horizontal bars suit long labels, vertical ones suit hours."""
    if len(labels) != len(values):
        raise ValueError("one label per value")
    top = max([float(v) for v in values] + [1.0])
    body = _horizontal(labels, values, top) if horizontal else _vertical(labels, values, top)
    width, height, parts = body
    return Markup(
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )


def _horizontal(labels: Sequence[str], values: Sequence[float], top: float) -> tuple[int, int, list[str]]:
    row, label_w, bar_w = 30, 160, 380
    parts = []
    for i, (label, value) in enumerate(zip(labels, values)):
        y = i * row + 6
        length = bar_w * float(value) / top
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" font-size="14" fill="{INK}">'
            f"{escape(str(label))}</text>"
        )
        parts.append(f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="20" fill="{BAR}" rx="2"/>')
        parts.append(
            f'<text x="{label_w + length + 6:.1f}" y="{y + 15}" font-size="13" fill="{INK}">{_number(value)}</text>'
        )
    return label_w + bar_w + 60, len(labels) * row + 12, parts


def _vertical(labels: Sequence[str], values: Sequence[float], top: float) -> tuple[int, int, list[str]]:
    column, plot_h, base = 26, 160, 180
    parts = [f'<line x1="30" y1="{base}" x2="{30 + column * len(labels)}" y2="{base}" stroke="{GRID}"/>']
    for i, (label, value) in enumerate(zip(labels, values)):
        x = 30 + i * column
        height = plot_h * float(value) / top
        parts.append(
            f'<rect x="{x + 4}" y="{base - height:.1f}" width="{column - 8}" height="{height:.1f}" '
            f'fill="{BAR}" rx="2"><title>{escape(str(label))}：{_number(value)}</title></rect>'
        )
        if value:
            parts.append(
                f'<text x="{x + column / 2}" y="{base - height - 4:.1f}" text-anchor="middle" '
                f'font-size="11" fill="{INK}">{_number(value)}</text>'
            )
        parts.append(
            f'<text x="{x + column / 2}" y="{base + 16}" text-anchor="middle" font-size="11" '
            f'fill="{INK}">{escape(str(label))}</text>'
        )
    return 30 + column * len(labels) + 10, base + 26, parts


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
