"""Telling leaked copies apart (a canary trap). Pure functions: no database, no settings
beyond the secret.

Every person's copy of a notice differs in small ways that do not change its meaning:
- the notice author marks alternatives in the body, `{{patched|fixed}}`;
- the app words its own framing sentences (greeting, introduction, closing) in one of
  several ways.
Which alternative a copy uses is derived from a server secret and the delivery id, so
nobody without the secret can predict or forge another person's variant, and the choices
are recorded with the delivery so a rotated secret never breaks an old trace.

Tracing a pasted text: normalise it (case, whitespace, e-mail quoting, Markdown emphasis),
look for each alternative of each variation point with a little fixed context around it,
and score every delivery with a log-likelihood ratio: a matched point is strong evidence for
the copy, a point that shows another alternative is very strong evidence against it, and a
point that cannot be read (edited, cut off, two alternatives found) says nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# `{{one|two}}` or `{{one|two|three}}`; no braces inside, at least one bar. `{{x}}` stays
# literal text, so a template-like word in a notice is never eaten.
ALTERNATIVES = re.compile(r"\{\{([^{}|]*(?:\|[^{}|]*)+)\}\}")
CONTEXT_CHARS = 24

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

# Likelihood model: the probability that a leaker's copy shows a different alternative at
# a point than the one we sent (they edited it, or we misread). Small, because an
# unreadable point counts as unobserved, not as a mismatch.
EDIT_RATE = 0.005
# An identification needs this many matched points, this many bits over the runner-up,
# and this posterior probability (a prior of one half that the text came from none of
# the recipients at all).
MIN_MATCHED_POINTS = 6
MIN_MARGIN_BITS = 10.0
MIN_POSTERIOR = 0.99


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


@dataclass(frozen=True)
class ParsedBody:
    literals: tuple[str, ...]  # one more than points: text, point, text, point, ..., text
    points: tuple[BodyPoint, ...]


def _options(raw: str) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for option in raw.split("|"):
        option = option.strip()
        key = normalise(option).strip()
        if key not in seen:
            seen[key] = option
    return tuple(seen.values())


def body_parse(body: str) -> ParsedBody:
    """Splits a body into literal text and variation points. A marked point whose
    alternatives are all the same is plain text, not a point."""
    literals: list[str] = []
    raw_points: list[tuple[str, ...]] = []
    current = ""
    position = 0
    for match in ALTERNATIVES.finditer(body):
        current += body[position : match.start()]
        options = _options(match.group(1))
        if len(options) < 2:
            current += options[0] if options else ""
        else:
            literals.append(current)
            raw_points.append(options)
            current = ""
        position = match.end()
    literals.append(current + body[position:])
    points = tuple(
        BodyPoint(
            index=index,
            options=options,
            before=normalise(literals[index])[-CONTEXT_CHARS:],
            after=normalise(literals[index + 1])[:CONTEXT_CHARS],
        )
        for index, options in enumerate(raw_points)
    )
    return ParsedBody(literals=tuple(literals), points=points)


def body_render(parsed: ParsedBody, choices: Sequence[int]) -> str:
    parts = [parsed.literals[0]]
    for point, choice, literal in zip(parsed.points, choices, parsed.literals[1:], strict=True):
        parts.append(point.options[choice])
        parts.append(literal)
    return "".join(parts)


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


# ------------------------------------------------------------------ normalising a leak

_QUOTE_PREFIX = re.compile(r"^[ \t]*(?:>[ \t]?)+", re.MULTILINE)
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_EMPHASIS = re.compile(r"[*_`]")
_SPACE = re.compile(r"\s+")
_TYPOGRAPHY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def normalise(text: str) -> str:
    """Case, whitespace, quoting and emphasis do not matter: a re-wrapped, quoted or
    re-rendered copy reads the same as the original."""
    text = _QUOTE_PREFIX.sub(" ", text)
    text = _INVISIBLE.sub("", text).translate(_TYPOGRAPHY)
    text = _EMPHASIS.sub("", text)
    return _SPACE.sub(" ", text).casefold()


# ------------------------------------------------------------------ observing a leak


@dataclass(frozen=True)
class Point:
    """A variation point as the trace sees it: a label and its searchable needles."""

    key: str  # "frame:greeting" or "body:3"
    label: str
    needles: tuple[str, ...]


def points_of(parsed: ParsedBody) -> list[Point]:
    points = [
        Point(
            key=f"frame:{name}",
            label=f"Framing: {name.replace('_', ' ')}",
            # A leading space: "hi," must not be found inside "this,".
            needles=tuple(" " + normalise(option) for option in FRAMING[name]),
        )
        for name in FRAMING_ORDER
    ]
    for point in parsed.points:
        needles = tuple(
            normalise((point.before or " ") + normalise(option) + (point.after or " "))
            for option in point.options
        )
        points.append(
            Point(
                key=f"body:{point.index}",
                label=f"Body point {point.index + 1}: " + " | ".join(point.options),
                needles=needles,
            )
        )
    return points


def observe(points: Iterable[Point], normalised_text: str) -> dict[str, int]:
    """Which alternative the text shows at each point; points that show none, or more
    than one (ambiguous), are left out."""
    normalised_text = f" {normalised_text} "
    seen: dict[str, int] = {}
    for point in points:
        found = [
            i for i, needle in enumerate(point.needles) if needle and needle in normalised_text
        ]
        if len(found) == 1:
            seen[point.key] = found[0]
    return seen


def choices_by_key(variant: Variant) -> dict[str, int]:
    keyed = {f"frame:{name}": variant.frame[name] for name in FRAMING_ORDER}
    keyed.update({f"body:{i}": choice for i, choice in enumerate(variant.body)})
    return keyed


# ------------------------------------------------------------------ scoring


@dataclass
class Score:
    ref: object  # what the caller scores (a delivery id, a Delivery)
    bits: float
    matched: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    posterior: float = 0.0


def point_bits(option_count: int, *, match: bool) -> float:
    """Log2 likelihood ratio of one observed point: this copy vs a copy nobody we know."""
    if match:
        return math.log2((1 - EDIT_RATE) * option_count)
    return math.log2(EDIT_RATE * option_count / (option_count - 1))


def score(
    *, observed: dict[str, int], choices: dict[str, int], option_counts: dict[str, int], ref
) -> Score:
    result = Score(ref=ref, bits=0.0)
    for key, seen in observed.items():
        if key not in choices:
            continue
        match = choices[key] == seen
        result.bits += point_bits(option_counts[key], match=match)
        (result.matched if match else result.mismatched).append(key)
    return result


def posteriors(scores: list[Score]) -> float:
    """Fills in each score's posterior; returns the probability that the text came from
    none of them. Prior: one half "one of the recipients" (uniform), one half "none"."""
    if not scores:
        return 1.0
    top = max(max(s.bits for s in scores), 0.0)
    # Scaled by 2^-top so large scores do not overflow.
    weights = [2.0 ** (s.bits - top) for s in scores]
    nobody = len(scores) * 2.0 ** (-top)
    total = sum(weights) + nobody
    for s, weight in zip(scores, weights, strict=True):
        s.posterior = weight / total
    return nobody / total


@dataclass
class Verdict:
    ranked: list[Score]  # candidates with positive evidence, best first
    identified: Score | None
    nobody: float  # posterior that none of the recipients leaked it
    observed_points: int
    margin_bits: float | None
    explanation: str


def verdict(scores: list[Score], *, observed_points: int) -> Verdict:
    nobody = posteriors(scores)
    ranked = sorted(
        (s for s in scores if s.bits > 0 and s.matched), key=lambda s: (-s.bits, str(s.ref))
    )
    best = ranked[0] if ranked else None
    runner_up = ranked[1].bits if len(ranked) > 1 else 0.0
    margin = (best.bits - max(runner_up, 0.0)) if best else None
    identified = None
    if best is None:
        explanation = (
            "No recipient's copy matches: nothing in the text points to anyone in this case."
            if observed_points
            else "The text shows none of the variation points of this case's notices."
        )
    elif len(best.matched) < MIN_MATCHED_POINTS:
        explanation = (
            f"Too little to go on: the best candidate matches {len(best.matched)} points; "
            f"an identification needs at least {MIN_MATCHED_POINTS}."
        )
    elif margin < MIN_MARGIN_BITS or best.posterior < MIN_POSTERIOR:
        explanation = (
            "Not conclusive: the best candidate is not clearly ahead of the next one "
            f"({margin:.1f} bits ahead; {MIN_MARGIN_BITS:.0f} needed)."
        )
    else:
        identified = best
        explanation = (
            f"Identified: {len(best.matched)} points match, {len(best.mismatched)} differ, "
            f"{margin:.1f} bits ahead of the next candidate."
        )
    return Verdict(
        ranked=ranked,
        identified=identified,
        nobody=nobody,
        observed_points=observed_points,
        margin_bits=margin,
        explanation=explanation,
    )


# ------------------------------------------------------------------ capacity (the preview)


@dataclass(frozen=True)
class Capacity:
    body_points: int
    body_bits: float
    framing_points: int
    total_bits: float
    audience: int
    body_variants: int
    total_variants: int
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


def _shared(variants: int, audience: int) -> float:
    if audience < 2:
        return 0.0
    if variants < 2:
        return float(audience)  # one wording for everyone: nobody can be told apart
    # Each person's copy is shared with at least one other with this probability.
    return audience * -math.expm1((audience - 1) * math.log1p(-1 / variants))


def capacity(*, body: str, audience: int) -> Capacity:
    parsed = body_parse(body)
    body_variants = math.prod(len(point.options) for point in parsed.points)
    framing_variants = math.prod(len(options) for options in FRAMING.values())
    total = body_variants * framing_variants
    warnings = []
    unmarked = [m.group(0) for m in ALTERNATIVES.finditer(body) if len(_options(m.group(1))) < 2]
    if unmarked:
        warnings.append(
            f"{len(unmarked)} marked point(s) offer only one distinct wording and add nothing."
        )
    short = [p for p in parsed.points if len(p.before) + len(p.after) < 8]
    if short:
        warnings.append(
            f"{len(short)} point(s) have little fixed text around them; a trace may not be "
            "able to read them. Put a few words between alternatives."
        )
    return Capacity(
        body_points=len(parsed.points),
        body_bits=math.log2(body_variants),
        framing_points=len(FRAMING),
        total_bits=math.log2(total),
        audience=audience,
        body_variants=body_variants,
        total_variants=total,
        body_shared=_shared(body_variants, audience),
        total_shared=_shared(total, audience),
        warnings=tuple(warnings),
    )
