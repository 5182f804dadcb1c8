"""A notice body's variation points and one copy's choices among them.

Every person's copy of a notice differs in small ways that do not change its meaning:
- the notice author marks alternatives in the body, `{{patched|fixed}}`;
- the app finds more by itself, all through the body, from a curated catalogue
  (embargo/tracing/catalogue.py), which the author may switch off one by one;
- the app words its own framing sentences (greeting, introduction, closing) in one of
  several ways.
Which alternative a copy uses is derived from a server secret and the delivery id, so
nobody without the secret can predict or forge another person's variant, and the choices
are recorded with the delivery so a rotated secret never breaks an old trace.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from embargo.tracing import catalogue
from embargo.tracing.punctuation import punctuation_found
from embargo.tracing.structure import structure_found
from embargo.tracing.text import normalise

# `{{one|two}}` or `{{one|two|three}}`; no braces inside, at least one bar. `{{x}}` stays
# literal text, so a template-like word in a notice is never eaten.
ALTERNATIVES = re.compile(r"\{\{([^{}|]*(?:\|[^{}|]*)+)\}\}")
CONTEXT_CHARS = 24
# A point found by the catalogue keeps at least this much fixed text from its
# neighbours, so each of its wordings is read with some context around it.
AUTO_GAP_CHARS = 1
# ...and at least this much fixed text on its two sides together (else it stays as written).
AUTO_CONTEXT_CHARS = 10
# ...and this much from the author's own marks.
AUTHOR_GAP_CHARS = 8
# From catalogue version 2, two of the catalogue's points too close together to be read
# one by one are read as one point with every combination of their wordings (no more
# than this many), instead of one of them staying as written.
JOINED_OPTIONS_MAX = 16
JOIN = "+"  # between the ids of a joined point's parts: "we-will#1+publish#1"

# The app's own wording. Within a point no wording may contain another (a copy would then
# show two), and the trace tests check that. Several per point: each adds bits.
FRAMING: dict[str, tuple[str, ...]] = {
    "greeting": (
        "Hello,",
        "Hello there,",
        "Hi,",
        "Dear colleague,",
        "Good day,",
        "Greetings,",
        "Dear list member,",
        "Hi there,",
    ),
    "intro": (
        "The security team sends you this notice under embargo.",
        "This notice comes to you under embargo from the security team.",
        "You are receiving this embargoed notice from the security team.",
        "The security team is writing to you under embargo.",
        "What follows is an embargoed notice from the security team.",
        "Please treat this notice from the security team as embargoed.",
        "This message from the security team is under embargo.",
        "The security team shares the following with you under embargo.",
    ),
    "ack_prompt": (
        "Acknowledge receipt (sign-in with two-factor required)",
        "Please confirm receipt (two-factor sign-in required)",
        "Confirm that you received this (needs a two-factor sign-in)",
        "Let us know you have it (two-factor sign-in needed)",
    ),
    "body_lead": (
        "The details follow.",
        "Details below.",
        "Here are the details.",
        "The details are below.",
    ),
    "closing_embargo": (
        "Embargoed until the disclosure time above.",
        "This stays under embargo until the disclosure time above.",
        "The embargo lasts until the disclosure time given above.",
        "Keep this embargoed until the disclosure time stated above.",
    ),
    "closing_share": (
        "Share it only with people in your organisation who need to know and have "
        "accepted the embargo policy.",
        "Pass it on only to colleagues who need to know and who have accepted the embargo policy.",
        "Only people in your organisation with a need to know, who accepted the embargo "
        "policy, may see it.",
        "Limit it to need-to-know colleagues who have agreed to the embargo policy.",
    ),
    "signoff": (
        "Thank you,",
        "With thanks,",
        "Cheers,",
        "Best regards,",
        "Many thanks,",
        "Kind regards,",
        "Sincerely,",
        "All the best,",
    ),
}
FRAMING_ORDER = tuple(FRAMING)


# ------------------------------------------------------------------ the secret and choices


def trace_secret_derive(*, secret_key: str, configured: str = "") -> bytes:
    """The tracing secret: the configured one, else one derived from SECRET_KEY with its
    own purpose, so it is never the key itself and never equal to another derived key."""
    if configured:
        return configured.encode()
    return hmac.new(secret_key.encode(), b"haulout.trace.v1", hashlib.sha256).digest()


def secret_id(secret: bytes) -> str:
    """A short, safe-to-store name of the secret, to notice a rotation."""
    return hashlib.sha256(b"id:" + secret).hexdigest()[:12]


def _pick(secret: bytes, delivery_id: int, label: str, count: int) -> int:
    # hmac.digest(): the same HMAC-SHA256 as hmac.new(...).digest(), in one C call (a
    # copy makes one per variation point).
    digest = hmac.digest(secret, f"{delivery_id}:{label}".encode(), "sha256")
    return int.from_bytes(digest[:8], "big") % count


# ------------------------------------------------------------------ the body


@dataclass(frozen=True)
class BodyPoint:
    index: int
    options: tuple[str, ...]
    before: str  # the literal text just before (normalised, at most CONTEXT_CHARS)
    after: str  # the literal text just after
    auto: str = ""  # the catalogue's id of the point ("do-not#2"); "" for the author's marks
    original: int = 0  # which option the author wrote (for the catalogue's points)
    # A joined point's parts, each (id, wordings); () for a point of one part.
    parts: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def switches(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The catalogue's points the author can switch off here, each (id, wordings)."""
        if not self.auto:
            return ()
        return self.parts or ((self.auto, self.options),)


@dataclass(frozen=True)
class ParsedBody:
    literals: tuple[str, ...]  # one more than points: text, point, text, point, ..., text
    points: tuple[BodyPoint, ...]
    # The catalogue's points the author switched off (they stay as written), by id.
    switched_off: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (id, wordings)
    off_ids: tuple[str, ...] = ()


def _options(raw: str) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for option in raw.split("|"):
        option = option.strip()
        key = normalise(option).strip()
        if key not in seen:
            seen[key] = option
    return tuple(seen.values())


def _marked(body: str) -> tuple[list[str], list[tuple[str, ...]]]:
    """The author's marks: literal text and points, alternately."""
    literals: list[str] = []
    points: list[tuple[str, ...]] = []
    current = ""
    position = 0
    for match in ALTERNATIVES.finditer(body):
        current += body[position : match.start()]
        options = _options(match.group(1))
        if len(options) < 2:
            current += options[0] if options else ""
        else:
            literals.append(current)
            points.append(options)
            current = ""
        position = match.end()
    literals.append(current + body[position:])
    return literals, points


def _overlaps(found: catalogue.Found, others: list[catalogue.Found]) -> bool:
    return any(other.start < found.end and found.start < other.end for other in others)


def _auto_in(literal: str, *, version: int, first: bool, last: bool) -> list[catalogue.Found]:
    """The catalogue's places in one stretch of literal text, far enough apart and from
    the author's marks on either side."""
    pairs = catalogue.list_pairs_found(literal, version=version)
    wordings = catalogue.wordings_found(literal, version=version)
    # A rule's wording wins over a bare hyphen or comma at the same place.
    marks = [
        found
        for found in catalogue.commas_found(literal, version=version)
        + catalogue.hyphens_found(literal, version=version)
        + punctuation_found(literal, version=version)
        + structure_found(literal, version=version)
        if not _overlaps(found, wordings)
    ]
    if version >= 2:
        # Wordings inside list items carry more than the order of two items (one bit):
        # from version 2 a pair is varied only when neither item has a wording of its own.
        pairs = [pair for pair in pairs if not _overlaps(pair, wordings + marks)]
    words = [found for found in wordings + marks if not _overlaps(found, pairs)]
    kept: list[catalogue.Found] = []
    # Next to the author's own marks keep more room: their context is their only anchor.
    previous_end = -AUTO_GAP_CHARS if first else AUTHOR_GAP_CHARS - AUTO_GAP_CHARS
    # Earliest end first: the most points that keep their distance (interval scheduling).
    for found in sorted(pairs + words, key=lambda f: (f.end, f.start)):
        if found.start - previous_end < AUTO_GAP_CHARS:
            continue
        if not last and len(literal) - found.end < AUTHOR_GAP_CHARS:
            continue
        kept.append(found)
        previous_end = found.end
    return kept


def body_parse(body: str, *, catalogue_version: int = 0, off: Iterable[str] = ()) -> ParsedBody:
    """Splits a body into literal text and variation points: the author's marks and, from
    catalogue version 1, the catalogue's places not switched off. A marked point whose
    alternatives are all the same is plain text, not a point."""
    return _parse(body, catalogue_version, frozenset(off))


# A worker renders every copy of a notice from the same body: parse it once per process.
@functools.lru_cache(maxsize=64)
def _parse(body: str, catalogue_version: int, off: frozenset[str]) -> ParsedBody:
    marked = _marked(body)
    suppressed: frozenset[str] = frozenset()
    while True:
        parsed = _build(marked, version=catalogue_version, off=off, suppressed=suppressed)
        repeated = _ambiguous(parsed)
        if not repeated:
            return parsed
        suppressed |= repeated


def _ambiguous(parsed: ParsedBody) -> set[str]:
    """The catalogue's points a trace could misread: one whose wordings, with the text
    around them, also occur elsewhere in the body as written (a copy would then seem to
    show two wordings, or the wrong one). Such a point stays as written."""
    written = " " + normalise(body_render(parsed, body_as_written(parsed))) + " "
    seen: set[tuple[str, str, tuple[str, ...]]] = set()
    ambiguous = set()
    previous_short = False
    for point in parsed.points:
        key = (point.before, point.after, tuple(normalise(o) for o in point.options))
        short = len(point.before.strip()) + len(point.after.strip()) < AUTO_CONTEXT_CHARS
        ids = point.auto.split(JOIN) if point.auto else []
        if point.auto and short and not previous_short:
            # Too little fixed text to read it by; of two such neighbours one goes, and
            # the other then has the first's text as context.
            ambiguous.update(ids)
        previous_short = short and point.auto in ambiguous
        if point.auto:
            if key in seen:
                ambiguous.update(ids)
            for choice, option in enumerate(point.options):
                needle = normalise((point.before or " ") + normalise(option) + (point.after or " "))
                allowed = 1 if choice == point.original else 0
                if written.count(needle) > allowed:
                    ambiguous.update(ids)
        seen.add(key)
    return ambiguous


_SENTENCE_END = re.compile(r"[.!?](?:\s|$)|\n[ \t]*\n")


def _short(before: str, after: str) -> bool:
    before, after = normalise(before)[-CONTEXT_CHARS:], normalise(after)[:CONTEXT_CHARS]
    return len(before.strip()) + len(after.strip()) < AUTO_CONTEXT_CHARS


def _joined(literals: list[str], raw: list[tuple]) -> tuple[list[str], list[tuple]]:
    """Joins each of the catalogue's points that has too little fixed text around it to
    its neighbours: one point with every combination of their wordings (the same bits as
    its parts, read with the text around all of them). A group that still has too little
    text around it is left in its parts (and one of two neighbours then stays as written,
    as in version 1)."""
    groups: list[list[int]] = []
    for index, (options, auto_id, _original, _parts) in enumerate(raw):
        if groups and auto_id and raw[groups[-1][-1]][1]:
            first, between, after = groups[-1][0], literals[index], literals[index + 1]
            close = _short(literals[first], between) or _short(between, after)
            # Not across the end of a sentence: colluders mix copies sentence by sentence,
            # and half a joined point reads as nothing.
            close = close and not _SENTENCE_END.search(between)
            count = math.prod(len(raw[member][0]) for member in groups[-1]) * len(options)
            if close and count <= JOINED_OPTIONS_MAX:
                groups[-1].append(index)
                continue
        groups.append([index])
    split = []
    for group in groups:
        if len(group) > 1 and _short(literals[group[0]], literals[group[-1] + 1]):
            split.extend([member] for member in group)
        else:
            split.append(group)
    out_literals, out_raw = [literals[0]], []
    for group in split:
        options, auto_id, original, parts = raw[group[0]]
        for member in group[1:]:
            between = literals[member]
            next_options, next_id, next_original, next_parts = raw[member]
            options = tuple(a + between + b for a in options for b in next_options)
            auto_id = auto_id + JOIN + next_id
            original = original * len(next_options) + next_original
            parts = parts + next_parts
        out_raw.append((options, auto_id, original, parts))
        out_literals.append(literals[group[-1] + 1])
    return out_literals, out_raw


def _build(
    marked: tuple[list[str], list[tuple[str, ...]]],
    *,
    version: int,
    off: frozenset[str],
    suppressed: frozenset[str],
) -> ParsedBody:
    marked_literals, marked_points = marked
    literals: list[str] = []
    raw: list[tuple] = []  # (options, id, original, parts)
    switched_off: list[tuple[str, tuple[str, ...]]] = []
    occurrences: dict[str, int] = {}
    last_index = len(marked_literals) - 1
    current = ""
    for index, literal in enumerate(marked_literals):
        position = 0
        for found in _auto_in(literal, version=version, first=index == 0, last=index == last_index):
            occurrences[found.rule] = occurrences.get(found.rule, 0) + 1
            auto_id = f"{found.rule}#{occurrences[found.rule]}"
            if auto_id in off or auto_id in suppressed:
                if auto_id in off:
                    switched_off.append((auto_id, found.options))
                continue
            literals.append(current + literal[position : found.start])
            raw.append((found.options, auto_id, found.original, ((auto_id, found.options),)))
            current = ""
            position = found.end
        current += literal[position:]
        if index < last_index:
            literals.append(current)
            raw.append((marked_points[index], "", 0, ()))
            current = ""
    literals.append(current)
    if version >= 2:
        literals, raw = _joined(literals, raw)
    points = tuple(
        BodyPoint(
            index=index,
            options=options,
            before=normalise(literals[index])[-CONTEXT_CHARS:],
            after=normalise(literals[index + 1])[:CONTEXT_CHARS],
            auto=auto_id,
            original=original,
            parts=parts if len(parts) > 1 else (),
        )
        for index, (options, auto_id, original, parts) in enumerate(raw)
    )
    return ParsedBody(
        literals=tuple(literals),
        points=points,
        switched_off=tuple(switched_off),
        off_ids=tuple(sorted(off)),
    )


def body_render(parsed: ParsedBody, choices: Sequence[int]) -> str:
    parts = [parsed.literals[0]]
    for point, choice, literal in zip(parsed.points, choices, parsed.literals[1:], strict=True):
        parts.append(point.options[choice])
        parts.append(literal)
    return "".join(parts)


def body_as_written(parsed: ParsedBody) -> list[int]:
    """The choices that render the body as the author wrote it (the first alternative of
    each of their own marks)."""
    return [point.original for point in parsed.points]


# ------------------------------------------------------------------ one delivery's variant


@dataclass(frozen=True)
class Variant:
    frame: dict[str, int]
    body: tuple[int, ...]
    secret: str  # secret_id() of the secret the choices came from

    def wording(self, name: str) -> str:
        return FRAMING[name][self.frame[name]]

    def as_record(self) -> dict:
        return {"v": 1, "secret": self.secret, "frame": dict(self.frame), "body": list(self.body)}

    @classmethod
    def from_record(cls, record: dict, parsed: ParsedBody) -> Variant | None:
        """A recorded variant, or None when it no longer fits (then derive it again)."""
        try:
            frame = {name: int(record["frame"][name]) for name in FRAMING_ORDER}
            body = tuple(int(value) for value in record["body"])
        except (KeyError, TypeError, ValueError):
            return None
        if len(body) != len(parsed.points):
            return None
        if any(not 0 <= frame[name] < len(FRAMING[name]) for name in FRAMING_ORDER):
            return None
        if any(not 0 <= c < len(p.options) for c, p in zip(body, parsed.points, strict=True)):
            return None
        return cls(frame=frame, body=body, secret=str(record.get("secret", "")))


def variant_derive(*, secret: bytes, delivery_id: int, parsed: ParsedBody) -> Variant:
    frame = {
        name: _pick(secret, delivery_id, f"frame:{name}", len(FRAMING[name]))
        for name in FRAMING_ORDER
    }
    body = tuple(
        _pick(secret, delivery_id, f"body:{point.index}", len(point.options))
        for point in parsed.points
    )
    return Variant(frame=frame, body=body, secret=secret_id(secret))
