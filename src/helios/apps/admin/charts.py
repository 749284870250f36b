"""An inline SVG bar chart of alerts per priority, before and after a rules change (no
script, no external file: readable in any browser and by screen readers through its title
and the table beside it)."""

from __future__ import annotations

from html import escape

BEFORE_COLOUR = "#6b7480"
AFTER_COLOUR = "#0b5cad"
WIDTH, HEIGHT, TOP, BOTTOM, LEFT = 480, 220, 24, 28, 8


def priority_chart(before: dict[str, int], after: dict[str, int]) -> str:
    """The chart as an SVG element (its text is escaped: safe to embed as is)."""
    priorities = list(before)
    peak = max([*before.values(), *after.values(), 1])
    group = (WIDTH - LEFT) / max(1, len(priorities))
    bar = group * 0.35
    usable = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="chart-title" viewBox="0 0 {WIDTH} '
        f'{HEIGHT}">',
        '<title id="chart-title">Alerts per priority, before (grey) and after (blue)</title>',
        f'<rect x="{LEFT}" y="2" width="12" height="12" fill="{BEFORE_COLOUR}"/>'
        f'<text x="{LEFT + 16}" y="12">before</text>',
        f'<rect x="{LEFT + 80}" y="2" width="12" height="12" fill="{AFTER_COLOUR}"/>'
        f'<text x="{LEFT + 96}" y="12">after</text>',
    ]
    for index, priority in enumerate(priorities):
        x = LEFT + index * group + group * 0.1
        for offset, value, colour in (
            (0.0, before[priority], BEFORE_COLOUR),
            (bar, after.get(priority, 0), AFTER_COLOUR),
        ):
            height = usable * value / peak
            y = TOP + usable - height
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" '
                f'fill="{colour}"><title>{escape(priority)}: {value}</title></rect>'
            )
        parts.append(
            f'<text x="{x + bar:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
            f"{escape(priority)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
