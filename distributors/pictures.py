"""The vouch graph drawn as a picture: organisations in a circle, vouches as arrows.

Pure functions: rows in, SVG out, no queries. The view hands over the page of vouches
it already loaded for the table, so the picture adds no query and stays as bounded as
the page (and at most MAX_NODES organisations, the rest counted as "and N more")."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.safestring import SafeString

from core.svg import svg_document, svg_element, svg_shorten

MAX_NODES = 40
WIDTH, HEIGHT = 960, 720
RADIUS = 230
# Shapes say the status without colour: circle, square, diamond, crossed circle.
STATUS_WORDS = {
    "member": "member",
    "applicant": "applicant",
    "suspended": "suspended",
    "removed": "removed",
}
# Line styles say the vouch's state without colour: solid, dashed, dotted.
EDGE_KIND = {
    "confirmed": "confirmed",
    "requested": "requested",
    "declined": "ended",
    "withdrawn": "ended",
}


@dataclass(frozen=True)
class GraphEdge:
    voucher_org: tuple[int, str, str]  # (id, name, status)
    applicant_org: tuple[int, str, str]
    state: str


def vouch_graph_edges(vouches: Iterable) -> list[GraphEdge]:
    """Vouch rows (with voucher_organization and application.organization loaded) as
    edges between organisations."""
    edges = []
    for vouch in vouches:
        giver, taker = vouch.voucher_organization, vouch.application.organization
        edges.append(
            GraphEdge(
                voucher_org=(giver.pk, giver.name, giver.status),
                applicant_org=(taker.pk, taker.name, taker.status),
                state=vouch.state,
            )
        )
    return edges


def _nodes(edges: list[GraphEdge]) -> tuple[list[tuple[int, str, str]], int]:
    seen: dict[int, tuple[int, str, str]] = {}
    for edge in edges:
        for org in (edge.voucher_org, edge.applicant_org):
            seen.setdefault(org[0], org)
    # A fixed order (members first, then by name) keeps the picture the same on reload.
    order = list(STATUS_WORDS)
    nodes = sorted(
        seen.values(), key=lambda org: (order.index(org[2]) if org[2] in order else 9, org[1])
    )
    return nodes[:MAX_NODES], max(0, len(nodes) - MAX_NODES)


def _shape(status: str, x: float, y: float) -> list[str]:
    css = f"node node-{STATUS_WORDS.get(status, 'applicant')}"
    size = 9
    if status == "applicant":
        return [
            svg_element("rect", x=x - size, y=y - size, width=2 * size, height=2 * size, class_=css)
        ]
    if status == "suspended":
        reach = size + 2
        corners = ((x, y - reach), (x + reach, y), (x, y + reach), (x - reach, y))
        points = " ".join(f"{px:.1f},{py:.1f}" for px, py in corners)
        return [svg_element("polygon", points=points, class_=css)]
    shape = [svg_element("circle", cx=x, cy=y, r=size, class_=css)]
    if status == "removed":
        cross = (
            f"M{x - 6:.1f},{y - 6:.1f} L{x + 6:.1f},{y + 6:.1f} "
            f"M{x + 6:.1f},{y - 6:.1f} L{x - 6:.1f},{y + 6:.1f}"
        )
        shape.append(svg_element("path", d=cross, class_="node-cross"))
    return shape


def _label(name: str, status: str, x: float, y: float, angle: float) -> str:
    # Labels sit outside the circle, on the side of their node, so they do not cross it.
    dx, dy = math.cos(angle) * 16, math.sin(angle) * 16
    anchor = "start" if math.cos(angle) > 0.2 else "end" if math.cos(angle) < -0.2 else "middle"
    text = f"{svg_shorten(name, 22)} ({STATUS_WORDS.get(status, status)})"
    return svg_element(
        "text", text, x=x + dx, y=y + dy + 4, text_anchor=anchor, class_="node-label"
    )


def _edge(start: tuple[float, float], end: tuple[float, float], state: str) -> str:
    (x1, y1), (x2, y2) = start, end
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    # Stop short of the target's shape so the arrowhead stays visible.
    x2, y2 = x2 - (x2 - x1) / length * 13, y2 - (y2 - y1) / length * 13
    kind = EDGE_KIND.get(state, "ended")
    dash = {"confirmed": None, "requested": "8 5", "ended": "2 4"}[kind]
    return svg_element(
        "line",
        x1=x1,
        y1=y1,
        x2=x2,
        y2=y2,
        class_=f"edge edge-{kind}",
        stroke_dasharray=dash,
        marker_end=f"url(#vouch-arrow-{kind})",
    )


def _markers() -> str:
    markers = "".join(
        f'<marker id="vouch-arrow-{kind}" viewBox="0 0 10 10" refX="9" refY="5" '
        f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        f'<path d="M0,0 L10,5 L0,10 z" class="arrow arrow-{kind}"/></marker>'
        for kind in ("confirmed", "requested", "ended")
    )
    return f"<defs>{markers}</defs>"


def _crop(ys: list[float], hidden: int) -> tuple[int, int]:
    # A few organisations leave most of the circle empty: show only the rows in use
    # (the note about hidden organisations sits at the very bottom, so then keep it all).
    if hidden or not ys:
        return 0, HEIGHT
    top = max(0, int(min(ys)) - 40)
    return top, min(HEIGHT, int(max(ys)) + 40) - top


def vouch_graph_svg(edges: list[GraphEdge]) -> SafeString:
    """The picture of who vouched for whom among these edges."""
    nodes, hidden = _nodes(edges)
    centre_x, centre_y = WIDTH / 2, HEIGHT / 2
    places: dict[int, tuple[float, float, float]] = {}
    for index, (pk, _name, _status) in enumerate(nodes):
        angle = -math.pi / 2 + 2 * math.pi * index / max(1, len(nodes))
        places[pk] = (
            centre_x + RADIUS * math.cos(angle),
            centre_y + RADIUS * math.sin(angle),
            angle,
        )
    body = [_markers()]
    drawn = 0
    for edge in edges:
        start, end = places.get(edge.voucher_org[0]), places.get(edge.applicant_org[0])
        if start and end and start != end:
            body.append(_edge(start[:2], end[:2], edge.state))
            drawn += 1
    for pk, name, status in nodes:
        x, y, angle = places[pk]
        body += _shape(status, x, y)
        body.append(_label(name, status, x, y, angle))
    if hidden:
        more = f"and {hidden} more organisation{'s' if hidden != 1 else ''} (see the table)"
        body.append(svg_element("text", more, x=16, y=HEIGHT - 16, class_="picture-note"))
    desc = (
        f"{len(nodes)} organisations and {drawn} vouches on this page, drawn as arrows from "
        "the voucher's organisation to the applicant. Solid: confirmed; dashed: waiting "
        "for the voucher; dotted: declined or withdrawn. Circle: member; square: applicant; "
        "diamond: suspended; crossed circle: removed. The table below lists every vouch."
    )
    if hidden:
        desc += f" {hidden} more organisations are left out of the picture."
    top, height = _crop([place[1] for place in places.values()], hidden)
    return svg_document(
        picture_id="vouch-graph",
        width=WIDTH,
        height=height,
        top=top,
        title="Vouch graph: who vouched for whom",
        desc=desc,
        body=body,
    )
