"""Server-rendered SVG charts (no script): stacked maturity bars and rank history lines.

Each chart is a ``role="img"`` SVG with a ``<title>`` and ``<desc>`` for screen
readers; pages also show the same numbers as a table. Colours meet 3:1
contrast against white for graphical objects.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

from markupsafe import Markup, escape

_ids = itertools.count(1)  # unique element ids when a page holds several charts

MATURITY_COLOURS = {
    "emerging": "#b45309",
    "enhanced": "#0369a1",
    "transactional": "#6d28d9",
    "connected": "#047857",
}


def stacked_bars(
    rows: list[tuple[str, dict[str, int]]],
    stages: list[tuple[str, str]],
    title: str,
    desc: str,
    rtl: bool = False,
    fmt: Callable[[int], str] = str,
) -> Markup:
    """Horizontal stacked bars, one per row (label, counts per stage)."""
    width, label_w, bar_h, gap, top = 640, 190, 26, 12, 10
    legend_h = 34
    height = top + len(rows) * (bar_h + gap) + legend_h
    total_max = max([sum(c.values()) for _, c in rows] + [1])
    scale = (width - label_w - 40) / total_max
    anchor = "end"
    dir_attr = ' direction="rtl"' if rtl else ""
    n_id = next(_ids)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="chart-title-{n_id} chart-desc-{n_id}">',
        f'<title id="chart-title-{n_id}">{escape(title)}</title><desc id="chart-desc-{n_id}">{escape(desc)}</desc>',
    ]
    for i, (label, counts) in enumerate(rows):
        y = top + i * (bar_h + gap)
        label_x = width - 8 if rtl else label_w - 8
        parts.append(
            f'<text x="{label_x}" y="{y + bar_h * 0.7:.1f}" text-anchor="{"start" if rtl else anchor}" '
            f'font-size="14" fill="#1f2937"{dir_attr}>{escape(label)}</text>'
        )
        x = 0.0
        for code, stage_label in stages:
            n = counts.get(code, 0)
            if not n:
                continue
            w = n * scale
            bx = (width - label_w - x - w) if rtl else (label_w + x)
            parts.append(
                f'<rect x="{bx:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                f'fill="{MATURITY_COLOURS.get(code, "#374151")}"><title>{escape(label)}: '
                f"{escape(stage_label)} {n}</title></rect>"
            )
            if w > 18:
                parts.append(
                    f'<text x="{bx + w / 2:.1f}" y="{y + bar_h * 0.7:.1f}" text-anchor="middle" '
                    f'font-size="13" fill="#ffffff">{fmt(n)}</text>'
                )
            x += w
    ly = height - legend_h + 12
    if rtl:  # legend flows from the right edge, text to the left of each swatch
        lx = width - 24.0
        for code, stage_label in stages:
            parts.append(
                f'<rect x="{lx:.0f}" y="{ly}" width="14" height="14" fill="{MATURITY_COLOURS.get(code, "#374151")}"/>'
            )
            parts.append(
                f'<text x="{lx - 6:.0f}" y="{ly + 12}" font-size="13" fill="#1f2937" direction="rtl" '
                f'text-anchor="start">{escape(stage_label)}</text>'
            )
            lx -= 150
    else:
        lx = 10.0
        for code, stage_label in stages:
            parts.append(
                f'<rect x="{lx:.0f}" y="{ly}" width="14" height="14" fill="{MATURITY_COLOURS.get(code, "#374151")}"/>'
            )
            parts.append(
                f'<text x="{lx + 20:.0f}" y="{ly + 12}" font-size="13" fill="#1f2937">{escape(stage_label)}</text>'
            )
            lx += 150
    parts.append("</svg>")
    return Markup("".join(parts))


def rank_history(points: list[tuple[int, int]], title: str, desc: str, fmt: Callable[[int], str] = str) -> Markup:
    """A line of UN EGDI ranks by survey year (rank 1 at the top).

    Its few labels are set large (17 units) so that the chart can shrink to a phone's width
    (``.rank-chart``, down to 22rem) and its text still reads at 11 px or more.
    """
    if not points:
        return Markup("")
    width, height, pad = 520, 220, 40
    years = [y for y, _ in points]
    ranks = [r for _, r in points]
    y_min, y_max = min(years), max(years)
    r_min, r_max = 1, max(ranks) + 10
    span_y = max(y_max - y_min, 1)

    def px(year: int) -> float:
        return pad + (year - y_min) / span_y * (width - 2 * pad)

    def py(rank: int) -> float:
        return pad + (rank - r_min) / (r_max - r_min) * (height - 2.2 * pad)

    coords = " ".join(f"{px(y):.1f},{py(r):.1f}" for y, r in points)
    n_id = next(_ids)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart rank-chart" role="img" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="rank-title-{n_id} rank-desc-{n_id}">',
        f'<title id="rank-title-{n_id}">{escape(title)}</title><desc id="rank-desc-{n_id}">{escape(desc)}</desc>',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#6b7280"/>',
        f'<polyline points="{coords}" fill="none" stroke="#047857" stroke-width="3"/>',
    ]
    for y, r in points:
        parts.append(f'<circle cx="{px(y):.1f}" cy="{py(r):.1f}" r="5" fill="#047857"><title>{y}: {r}</title></circle>')
        parts.append(
            f'<text x="{px(y):.1f}" y="{py(r) - 10:.1f}" text-anchor="middle" font-size="17" '
            f'fill="#1f2937">{fmt(r)}</text>'
        )
        parts.append(
            f'<text x="{px(y):.1f}" y="{height - pad + 22}" text-anchor="middle" font-size="17" '
            f'fill="#1f2937">{fmt(y)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


# Schematic positions of the member states (roughly geographic, not to scale).
_MAP_POSITIONS = {
    "KW": (70, 40),
    "SA": (120, 200),
    "BH": (235, 95),
    "QA": (290, 160),
    "AE": (385, 150),
    "OM": (425, 240),
}
_LABEL_ABOVE = {"BH", "AE"}  # keep neighbouring labels apart
_NODE_COLOURS = {
    "online": "#047857",
    "offline": "#b91c1c",
    "active": "#047857",
    "trial": "#0369a1",
    "suspended": "#4b5563",
}


def network_map(
    nodes: list[tuple[str, str, str]],
    title: str,
    desc: str,
    links: dict[tuple[str, str], int] | None = None,
    link_title: str = "{a} – {b}: {n}",
) -> Markup:
    """The member nodes and the traffic between them; ``nodes`` holds (code, label, state).

    ``state`` is online/offline/active/trial/suspended. Offline or suspended
    nodes are drawn hollow with a dashed ring, so the state is not told by
    colour alone. ``links`` maps a pair of states to the messages they
    exchanged (both directions, as their nodes attest); only pairs that
    really exchanged messages are joined, thicker for more traffic.
    """
    n_id = next(_ids)
    width, height = 500, 290
    placed = [(code, label, state, _MAP_POSITIONS[code]) for code, label, state in nodes if code in _MAP_POSITIONS]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart network-map" role="img" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="map-title-{n_id} map-desc-{n_id}">',
        f'<title id="map-title-{n_id}">{escape(title)}</title><desc id="map-desc-{n_id}">{escape(desc)}</desc>',
    ]
    where = {code: (x, y) for code, _label, _state, (x, y) in placed}
    names = {code: label for code, label, _state, _xy in placed}
    for (a, b), count in sorted((links or {}).items()):
        if count <= 0 or a not in where or b not in where:
            continue
        (x1, y1), (x2, y2) = where[a], where[b]
        stroke = min(8.0, 1.5 + math.log2(count))
        tip = escape(link_title.format(a=names[a], b=names[b], n=count))
        parts.append(
            f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#6b7280" stroke-width="{stroke:.1f}">'
            f"<title>{tip}</title></line>"
        )
    for code, label, state, (x, y) in placed:
        colour = _NODE_COLOURS.get(state, "#4b5563")
        hollow = state in ("offline", "suspended")
        fill = "#ffffff" if hollow else colour
        dash = ' stroke-dasharray="4 3"' if hollow else ""
        parts.append(
            f'<circle cx="{x}" cy="{y}" r="16" fill="{fill}" stroke="{colour}" stroke-width="3"{dash}>'
            f"<title>{escape(label)}</title></circle>"
        )
        parts.append(
            f'<text x="{x}" y="{y + 5}" text-anchor="middle" font-size="13" font-weight="700" '
            f'fill="{colour if hollow else "#ffffff"}">{code}</text>'
        )
        label_y = y - 24 if code in _LABEL_ABOVE else y + 34
        parts.append(
            f'<text x="{x}" y="{label_y}" text-anchor="middle" font-size="13" fill="#1f2937">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
