"""A case's timeline from report to disclosure, drawn as a picture and listed as text.

Pure functions: the facts in (times, counts, notice numbers; never a notice's subject or
body), SVG and a list out, no queries. The staff case page hands over what its
selectors aggregated in the database (acknowledgements by day), so the picture stays
the same size however many copies were acknowledged."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.utils.safestring import SafeString

from core.svg import svg_document, svg_element

WIDTH, HEIGHT = 960, 340
LEFT, RIGHT = 40, 920
EVENT_Y = 150
ACK_TOP, ACK_BOTTOM = 200, 300
# Labels take turns on three rows above the axis so neighbours rarely overlap.
LABEL_ROWS = (40, 70, 100)
MAX_NOTICES = 12


@dataclass(frozen=True)
class NoticeSent:
    number: int
    at: datetime
    copies: int


@dataclass
class CaseTimelineFacts:
    reported_at: datetime
    now: datetime
    first_response_at: datetime | None = None
    notices: list[NoticeSent] = field(default_factory=list)
    acknowledgements_by_day: list[tuple[date, int]] = field(default_factory=list)
    disclosure_at: datetime | None = None
    disclosed_at: datetime | None = None


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _day_end(day: date) -> datetime:
    # A day's acknowledgements are counted at the end of that day (UTC).
    return datetime.combine(day, time.max, tzinfo=UTC)


def case_timeline_items(facts: CaseTimelineFacts) -> list[tuple[datetime, str]]:
    """The events in time order, each with its words: the text beside the picture."""
    items = [(facts.reported_at, "Report received")]
    if facts.first_response_at:
        items.append((facts.first_response_at, "First response to the reporter"))
    shown = facts.notices[:MAX_NOTICES]
    for notice in shown:
        plural = "y" if notice.copies == 1 else "ies"
        items.append((notice.at, f"Notice #{notice.number} sent: {notice.copies} cop{plural}"))
    if len(facts.notices) > len(shown):
        hidden = len(facts.notices) - len(shown)
        items.append((shown[-1].at, f"and {hidden} more notices (see the table)"))
    total = 0
    for day, count in facts.acknowledgements_by_day:
        total += count
        items.append((_day_end(day), f"{count} acknowledged on {day:%Y-%m-%d} ({total} in all)"))
    if facts.disclosed_at:
        items.append((facts.disclosed_at, "Disclosed"))
    elif facts.disclosure_at:
        items.append((facts.disclosure_at, "Disclosure planned"))
    return sorted(items, key=lambda item: item[0])


def _span(facts: CaseTimelineFacts, items) -> tuple[datetime, datetime]:
    start = facts.reported_at
    end = max([moment for moment, _words in items] + [start])
    if not facts.disclosed_at:
        end = max(end, facts.now)
    return start, max(end, start + timedelta(days=1))


def _axis(start: datetime, end: datetime) -> list[str]:
    body = [svg_element("line", x1=LEFT, y1=EVENT_Y, x2=RIGHT, y2=EVENT_Y, class_="axis")]
    for x, moment, anchor in ((LEFT, start, "start"), (RIGHT, end, "end")):
        body.append(
            svg_element(
                "text",
                moment.astimezone(UTC).strftime("%Y-%m-%d"),
                x=x,
                y=EVENT_Y + 22,
                text_anchor=anchor,
                class_="muted-text",
            )
        )
    return body


def _events(facts: CaseTimelineFacts, place) -> list[str]:
    marks: list[tuple[datetime, str, bool]] = [(facts.reported_at, "Report", False)]
    if facts.first_response_at:
        marks.append((facts.first_response_at, "First response", False))
    for notice in facts.notices[:MAX_NOTICES]:
        marks.append((notice.at, f"Notice #{notice.number} · {notice.copies}", False))
    if facts.disclosed_at:
        marks.append((facts.disclosed_at, "Disclosed", False))
    elif facts.disclosure_at:
        marks.append((facts.disclosure_at, "Disclosure (planned)", True))
    body = []
    for index, (moment, words, planned) in enumerate(sorted(marks, key=lambda mark: mark[0])):
        x = place(moment)
        label_y = LABEL_ROWS[index % len(LABEL_ROWS)]
        anchor = "start" if x < WIDTH * 0.3 else "end" if x > WIDTH * 0.7 else "middle"
        body.append(svg_element("line", x1=x, y1=label_y + 6, x2=x, y2=EVENT_Y, class_="tick"))
        shape = "event-planned" if planned else "event-mark"
        body.append(svg_element("circle", cx=x, cy=EVENT_Y, r=6, class_=shape))
        body.append(svg_element("text", words, x=x, y=label_y, text_anchor=anchor))
    return body


def _acknowledgements(facts: CaseTimelineFacts, place) -> list[str]:
    if not facts.acknowledgements_by_day:
        return []
    copies = sum(notice.copies for notice in facts.notices)
    total = sum(count for _day, count in facts.acknowledgements_by_day)
    ceiling = max(copies, total, 1)

    def height(count: int) -> float:
        return ACK_BOTTOM - (ACK_BOTTOM - ACK_TOP) * count / ceiling

    first = facts.notices[0].at if facts.notices else facts.reported_at
    points, running = [(place(first), float(ACK_BOTTOM))], 0
    for day, count in facts.acknowledgements_by_day:
        x = place(_day_end(day))
        points.append((x, height(running)))
        running += count
        points.append((x, height(running)))
    points.append((float(RIGHT), height(running)))
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    area = f"{line} {RIGHT:.1f},{ACK_BOTTOM:.1f} {points[0][0]:.1f},{ACK_BOTTOM:.1f}"
    caption = f"Acknowledged: {total} of {copies} copies sent" if copies else "Acknowledged"
    return [
        svg_element("polygon", points=area, class_="acks-area"),
        svg_element("polyline", points=line, class_="acks"),
        svg_element("line", x1=LEFT, y1=ACK_BOTTOM, x2=RIGHT, y2=ACK_BOTTOM, class_="axis"),
        svg_element("text", caption, x=LEFT, y=ACK_TOP - 10, class_="muted-text"),
        svg_element("text", "0", x=LEFT - 6, y=ACK_BOTTOM + 4, text_anchor="end"),
        svg_element("text", str(ceiling), x=LEFT - 6, y=ACK_TOP + 4, text_anchor="end"),
    ]


def case_timeline_svg(facts: CaseTimelineFacts) -> SafeString:
    """The picture: events on a time axis, and below it acknowledgements adding up."""
    items = case_timeline_items(facts)
    start, end = _span(facts, items)
    seconds = (end - start).total_seconds()

    def place(moment: datetime) -> float:
        share = min(max((moment - start).total_seconds() / seconds, 0.0), 1.0)
        return LEFT + (RIGHT - LEFT) * share

    body = _axis(start, end) + _events(facts, place) + _acknowledgements(facts, place)
    acknowledged = sum(count for _day, count in facts.acknowledgements_by_day)
    desc = (
        f"From {_stamp(start)} to {_stamp(end)}: {len(facts.notices)} notices sent, "
        f"{acknowledged} copies acknowledged. The list below gives every event with its time."
    )
    return svg_document(
        picture_id="case-timeline",
        width=WIDTH,
        # Without acknowledgements the band below the axis would stay empty.
        height=HEIGHT if facts.acknowledgements_by_day else EVENT_Y + 40,
        title="Case timeline from report to disclosure",
        desc=desc,
        body=body,
    )
