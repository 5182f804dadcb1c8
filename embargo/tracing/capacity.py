"""What the notice author sees before sending: how many variation points the body has,
whom they tell apart, and how short an excerpt still names one person."""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass

from embargo.tracing.body import ALTERNATIVES, FRAMING, ParsedBody, _options, body_parse
from embargo.tracing.scoring import (
    EDIT_RATE,
    MIN_MATCHED_POINTS,
    MIN_POSTERIOR,
    PRIOR_NOBODY,
    PRIOR_SINGLE,
)

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Density:
    """The shortest stretch of the body that names one person wherever it is cut."""

    paragraphs: int | None  # any this many consecutive paragraphs; None: not even all
    words: int | None  # any this many consecutive words
    total_paragraphs: int
    total_words: int


@dataclass(frozen=True)
class Capacity:
    body_points: int
    author_points: int
    catalogue_points: int
    body_bits: float
    framing_points: int
    total_bits: float
    audience: int
    needed_bits: float  # to name one person of the audience
    density: Density
    # Expected number of recipients whose copy is not unique (shared with someone else).
    body_shared: float
    total_shared: float
    warnings: tuple[str, ...]

    @property
    def body_distinguishes_audience(self) -> bool:
        return self.body_shared < 1

    @property
    def total_distinguishes_audience(self) -> bool:
        return self.total_shared < 1


def needed_bits(audience: int) -> float:
    """The evidence a trace needs to name one person of `audience` (see scoring): the
    single's prior against "nobody", at MIN_POSTERIOR."""
    audience = max(audience, 1)
    odds = MIN_POSTERIOR / (1 - MIN_POSTERIOR)
    return math.log2(odds * PRIOR_NOBODY * audience / PRIOR_SINGLE)


def _expected_bits(option_count: int) -> float:
    # What one point read from the right copy adds, on average.
    return math.log2((1 - EDIT_RATE) * option_count)


def _shared(bits: float, audience: int) -> float:
    if audience < 2:
        return 0.0
    if bits < 1:
        return float(audience)  # one wording for everyone: nobody can be told apart
    # Each person's copy is shared with at least one other with this probability.
    return audience * -math.expm1((audience - 1) * math.log1p(-(2.0**-bits)))


def _shortest(
    weights: list[tuple[int, float]], total: int, need: float, minimum: int
) -> int | None:
    """The smallest window length (in units) such that every window of that length
    holds `need` bits and `minimum` points; `weights` are (unit index, bits) per point."""
    if sum(bits for _, bits in weights) < need or len(weights) < minimum:
        return None
    per_unit = [0.0] * total
    points = [0] * total
    for unit, bits in weights:
        per_unit[unit] += bits
        points[unit] += 1
    for length in range(1, total + 1):
        window_bits = sum(per_unit[:length])
        window_points = sum(points[:length])
        ok = window_bits >= need and window_points >= minimum
        for start in range(1, total - length + 1):
            window_bits += per_unit[start + length - 1] - per_unit[start - 1]
            window_points += points[start + length - 1] - points[start - 1]
            ok = ok and window_bits >= need and window_points >= minimum
            if not ok:
                break
        if ok:
            return length
    return None


def _written_with_offsets(parsed: ParsedBody) -> tuple[str, list[int]]:
    """The body as written, and where each point starts in it."""
    parts, offsets, length = [parsed.literals[0]], [], len(parsed.literals[0])
    for point, literal in zip(parsed.points, parsed.literals[1:], strict=True):
        offsets.append(length)
        option = point.options[point.original]
        parts += [option, literal]
        length += len(option) + len(literal)
    return "".join(parts), offsets


def _paragraph_starts(text: str) -> list[int]:
    """Where each paragraph starts; a heading belongs to the paragraph after it (an
    excerpt of "two paragraphs" means two of the text's own)."""
    starts = [0]
    for match in _PARAGRAPH_BREAK.finditer(text):
        previous = text[starts[-1] : match.start()].strip()
        if previous.startswith("#") and "\n" not in previous:
            continue
        starts.append(match.end())
    return starts


def density(parsed: ParsedBody, *, need: float) -> Density:
    """Where each point sits, in paragraphs and words of the body as written."""
    text, offsets = _written_with_offsets(parsed)
    starts = _paragraph_starts(text)
    paragraph_of, word_of = [], []
    for point, offset in zip(parsed.points, offsets, strict=True):
        bits = _expected_bits(len(point.options))
        paragraph_of.append((bisect.bisect_right(starts, offset) - 1, bits))
        word_of.append((len(_WORD.findall(text[:offset])), bits))
    paragraphs, words = len(starts), max(len(_WORD.findall(text)), 1)
    return Density(
        paragraphs=_shortest(paragraph_of, paragraphs, need, MIN_MATCHED_POINTS),
        words=_shortest(word_of, words, need, MIN_MATCHED_POINTS),
        total_paragraphs=paragraphs,
        total_words=words,
    )


def capacity(*, body: str, audience: int, catalogue_version: int = 0, off=()) -> Capacity:
    parsed = body_parse(body, catalogue_version=catalogue_version, off=off)
    body_bits = sum(math.log2(len(point.options)) for point in parsed.points)
    framing_bits = sum(math.log2(len(options)) for options in FRAMING.values())
    need = needed_bits(audience)
    found = density(parsed, need=need)
    warnings = []
    unmarked = [m.group(0) for m in ALTERNATIVES.finditer(body) if len(_options(m.group(1))) < 2]
    if unmarked:
        warnings.append(
            f"{len(unmarked)} marked point(s) offer only one distinct wording and add nothing."
        )
    short = [p for p in parsed.points if not p.auto and len(p.before) + len(p.after) < 8]
    if short:
        warnings.append(
            f"{len(short)} point(s) have little fixed text around them; a trace may not be "
            "able to read them. Put a few words between alternatives."
        )
    if audience > 1 and found.paragraphs is None:
        warnings.append(
            f"Too little variation: even the whole body carries about {body_bits:.0f} bits, "
            f"and naming one person among {audience} needs about {need:.0f}. A leak of the "
            "body alone could not be traced; write a longer body or mark more alternatives."
        )
    elif (
        audience > 1
        and found.paragraphs is not None
        and found.paragraphs > max(2, found.total_paragraphs // 2)
    ):
        warnings.append(
            "The variation is thin or uneven: only an excerpt of "
            f"{found.paragraphs} of {found.total_paragraphs} paragraphs is sure to name "
            "someone. Mark alternatives in the paragraphs with few points."
        )
    return Capacity(
        body_points=len(parsed.points),
        author_points=sum(1 for p in parsed.points if not p.auto),
        catalogue_points=sum(len(p.switches()) for p in parsed.points),
        body_bits=body_bits,
        framing_points=len(FRAMING),
        total_bits=body_bits + framing_bits,
        audience=audience,
        needed_bits=need,
        density=found,
        body_shared=_shared(body_bits, audience),
        total_shared=_shared(body_bits + framing_bits, audience),
        warnings=tuple(warnings),
    )
