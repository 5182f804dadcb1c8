"""Reading a leaked text and weighing the evidence for each copy, or for two or three
copies mixed together.

Observing: the text is normalised (embargo/tracing/text.py) and each alternative of each
variation point is looked for with a little fixed context around it. A point that shows
one alternative is observed; one that shows none or several (edited, cut off) says
nothing.

Scoring: every hypothesis is weighed by a likelihood ratio against "nobody we sent it
to": a matched point is evidence for a copy, a point showing another alternative is
strong evidence against it. A mixture of two or three copies (colluders pasting
alternate sentences) is a hidden Markov model over the points in text order: each point
comes from one of the copies, and the text stays with one copy for a while.

Naming: prior one half "none of the recipients", then singles, pairs and triples, each
kind sharing its prior evenly among every possible group (so testing many pairs costs
what it should). A person is named only when the probability that their copy is among
the sources reaches MIN_POSTERIOR, and their own copy matches at least
MIN_MATCHED_POINTS points.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from embargo.tracing.body import FRAMING, FRAMING_ORDER, ParsedBody, Variant
from embargo.tracing.edges import edges_observe
from embargo.tracing.text import marks_drop, normalise

# The probability that a leaker's copy shows a different alternative at a point than the
# one we sent (they edited it, or we misread). Small, because an unreadable point counts
# as unobserved, not as a mismatch.
EDIT_RATE = 0.005
# Naming someone needs this many matched points and this probability.
MIN_MATCHED_POINTS = 6
MIN_POSTERIOR = 0.999
# The evidence a reference code adds: it is unique to one copy.
REFERENCE_BITS = 64.0
# Mixtures: how often consecutive points come from different copies, and how many of
# the best single candidates are combined into pairs and triples.
SWITCH_RATE = 0.4
PAIR_CANDIDATES = 20
TRIPLE_CANDIDATES = 8
# "One of the copies mixed with text from nobody we sent it to" (a leaker's own rewording,
# or another source): without it, a copy mixed with outside text was best explained by
# that copy and whichever innocent copy happened to agree with the outside text most,
# and the innocent was named with it.
PRIOR_NOBODY, PRIOR_SINGLE, PRIOR_WITH_OUTSIDE = 0.5, 0.25, 0.125
PRIOR_PAIR, PRIOR_TRIPLE = 0.0625, 0.0625
# A copy whose own score is negative is listed only when a mixture gives it this much.
MIXTURE_SHOWN = 0.1


@dataclass(frozen=True)
class Point:
    """A variation point as the trace sees it: a label and its searchable needles."""

    key: str  # "frame:greeting" or "body:3"
    label: str
    needles: tuple[str, ...]
    # Where each needle's wording starts and ends (body points): a text cut just before
    # or after a point can still show the wording with the fixed text on its other side.
    spans: tuple[tuple[int, int], ...] = ()


def points_of(parsed: ParsedBody) -> list[Point]:
    points = [
        Point(
            key=f"frame:{name}",
            label=f"Framing: {name.replace('_', ' ')}",
            # A leading space: "hi," must not be found inside "this,".
            needles=tuple(" " + marks_drop(normalise(option)) for option in FRAMING[name]),
        )
        for name in FRAMING_ORDER
    ]
    for point in parsed.points:
        needles, spans = [], []
        for option in point.options:
            before, wording = point.before or " ", normalise(option)
            needle = marks_drop(normalise(before + wording + (point.after or " ")))
            head = marks_drop(normalise(before))
            through = marks_drop(normalise(before + wording))
            needles.append(needle)
            if needle.startswith(through) and through.startswith(head.rstrip()):
                spans.append((len(head.rstrip()), len(through.rstrip())))
        kind = "Wording" if point.auto else "Body point"
        points.append(
            Point(
                key=f"body:{point.index}",
                label=f"{kind} {point.index + 1}: " + " | ".join(point.options),
                needles=tuple(needles),
                spans=tuple(spans) if len(spans) == len(needles) else (),
            )
        )
    return points


@dataclass(frozen=True)
class Observation:
    choice: int
    position: int  # where in the normalised text it was read (orders a mixture)


def observe(points: Iterable[Point], normalised_text: str) -> dict[str, Observation]:
    """Which alternative the text shows at each point; points that show none, or more
    than one (ambiguous), are left out. A point cut by the start or the end of the text
    is read from what is left of it (observe_edges)."""
    points = list(points)
    normalised_text = f" {marks_drop(normalised_text)} "
    seen: dict[str, Observation] = {}
    for point in points:
        found = []
        for choice, needle in enumerate(point.needles):
            position = normalised_text.find(needle) if needle else -1
            if position >= 0:
                found.append((choice, position))
        if not found:
            found = edges_observe(point, points, normalised_text)
        if len(found) == 1:
            seen[point.key] = Observation(*found[0])
    return seen


def choices_by_key(variant: Variant) -> dict[str, int]:
    keyed = {f"frame:{name}": variant.frame[name] for name in FRAMING_ORDER}
    keyed.update({f"body:{i}": choice for i, choice in enumerate(variant.body)})
    return keyed


# ------------------------------------------------------------------ one copy


@dataclass
class Score:
    ref: object  # what the caller scores (a delivery id)
    bits: float
    matched: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    posterior: float = 0.0  # that this copy is among the sources
    mixed: float = 0.0  # ...of which with other copies (a pair or a triple)
    # Per observed point in text order: the log2 ratio (for mixtures).
    steps: list[float] = field(default_factory=list, repr=False)
    group: str = ""  # which notice's points (copies of different notices never mix)


def point_bits(option_count: int, *, match: bool) -> float:
    """Log2 likelihood ratio of one observed point: this copy vs a copy nobody we know."""
    if match:
        return math.log2((1 - EDIT_RATE) * option_count)
    return math.log2(EDIT_RATE * option_count / (option_count - 1))


def score(
    *,
    observed: dict[str, Observation],
    choices: dict[str, int],
    option_counts: dict[str, int],
    ref,
    group: str = "",
) -> Score:
    result = Score(ref=ref, bits=0.0, group=group)
    for key, seen in sorted(observed.items(), key=lambda item: item[1].position):
        if key not in choices:
            continue
        match = choices[key] == seen.choice
        bits = point_bits(option_counts[key], match=match)
        result.bits += bits
        result.steps.append(bits)
        (result.matched if match else result.mismatched).append(key)
    return result


# ------------------------------------------------------------------ mixtures


def mixture_bits(members: Sequence[Score]) -> float:
    """Log2 likelihood ratio of "these copies, mixed" against "nobody": the forward
    algorithm of the switching model, rescaled at every point."""
    size = len(members)
    length = len(members[0].steps)
    if length == 0 or any(len(member.steps) != length for member in members):
        return -math.inf
    stay, move = 1 - SWITCH_RATE, SWITCH_RATE / (size - 1)
    alpha = [2.0 ** member.steps[0] / size for member in members]
    total_log = 0.0
    for step in range(1, length):
        scale = sum(alpha)
        total_log += math.log2(scale)
        alpha = [a / scale for a in alpha]
        carried = [stay * a + move * (1 - a) for a in alpha]
        alpha = [c * 2.0 ** member.steps[step] for c, member in zip(carried, members, strict=True)]
    return total_log + math.log2(sum(alpha))


def _log2_choose(n: int, k: int) -> float:
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)) / math.log(2)


@dataclass
class Groups:
    """Log2 weights (prior times likelihood ratio) of every hypothesis that was weighed."""

    nobody: float
    singles: list[tuple[float, tuple[Score, ...]]]
    mixtures: list[tuple[float, tuple[Score, ...]]]


def groups_weigh(scores: list[Score]) -> Groups:
    audience = len(scores)
    singles = [(math.log2(PRIOR_SINGLE / audience) + s.bits, (s,)) for s in scores]
    mixtures = []
    # A source of a mixture matches its own stretches and about half of the others'
    # points: it stands out by how many points it matches, not by its (negative) score.
    ranked = sorted(scores, key=lambda s: (-len(s.matched), -s.bits))
    for size, limit, prior in (
        (2, PAIR_CANDIDATES, PRIOR_PAIR),
        (3, TRIPLE_CANDIDATES, PRIOR_TRIPLE),
    ):
        if audience < size:
            continue
        prior_bits = math.log2(prior) - _log2_choose(audience, size)
        for members in combinations(ranked[:limit], size):
            if len({member.group for member in members}) != 1:
                continue
            mixtures.append((prior_bits + mixture_bits(members), members))
    # One copy and outside text: the outside stretches weigh as "nobody" (log ratio 0).
    prior_bits = math.log2(PRIOR_WITH_OUTSIDE / max(audience, 1))
    for member in ranked[:PAIR_CANDIDATES]:
        outside = Score(ref=None, bits=0.0, steps=[0.0] * len(member.steps), group=member.group)
        mixtures.append((prior_bits + mixture_bits((member, outside)), (member,)))
    return Groups(nobody=math.log2(PRIOR_NOBODY), singles=singles, mixtures=mixtures)


def posteriors(scores: list[Score]) -> tuple[float, Groups]:
    """Fills in each score's posterior (that its copy is among the sources); returns the
    probability that the text came from none of them, and the weighed groups."""
    groups = groups_weigh(scores)
    weights = [groups.nobody] + [w for w, _ in groups.singles] + [w for w, _ in groups.mixtures]
    top = max(weights)
    total = sum(2.0 ** (w - top) for w in weights)
    involved: dict[int, float] = {}
    mixed: dict[int, float] = {}
    for weight, members in groups.singles + groups.mixtures:
        share = 2.0 ** (weight - top) / total
        for member in members:
            involved[id(member)] = involved.get(id(member), 0.0) + share
            if len(members) > 1:
                mixed[id(member)] = mixed.get(id(member), 0.0) + share
    for s in scores:
        s.posterior = min(1.0, involved.get(id(s), 0.0))
        s.mixed = min(1.0, mixed.get(id(s), 0.0))
    return 2.0 ** (groups.nobody - top) / total, groups


# ------------------------------------------------------------------ the verdict


@dataclass
class Verdict:
    ranked: list[Score]  # candidates with positive evidence or a share in a mixture
    identified: Score | None  # the one person named, when a single copy explains it
    nobody: float  # posterior that none of the recipients leaked it
    observed_points: int
    margin_bits: float | None
    explanation: str
    named: list[Score] = field(default_factory=list)  # everyone named (a mixture: 2 or 3)


def verdict(scores: list[Score], *, observed_points: int) -> Verdict:
    nobody, _groups = posteriors(scores)
    ranked = sorted(
        # A copy that only explains a stretch of the text beside outside text is listed
        # when it is named, not for a chance run of a few matching points.
        (
            s
            for s in scores
            if s.matched
            and (s.bits > 0 or s.mixed >= MIXTURE_SHOWN or s.posterior >= MIN_POSTERIOR)
        ),
        key=lambda s: (-s.posterior, -s.bits, str(s.ref)),
    )
    by_bits = sorted(scores, key=lambda s: -s.bits)
    margin = (
        (by_bits[0].bits - max(by_bits[1].bits if len(by_bits) > 1 else 0.0, 0.0))
        if by_bits
        else None
    )
    named = [
        s for s in ranked if s.posterior >= MIN_POSTERIOR and len(s.matched) >= MIN_MATCHED_POINTS
    ]
    explanation = _explain(ranked, named, observed_points=observed_points, nobody=nobody)
    return Verdict(
        ranked=ranked,
        identified=named[0] if len(named) == 1 else None,
        nobody=nobody,
        observed_points=observed_points,
        margin_bits=margin,
        explanation=explanation,
        named=named,
    )


def _explain(
    ranked: list[Score], named: list[Score], *, observed_points: int, nobody: float
) -> str:
    if named:
        if len(named) == 1:
            best = named[0]
            return (
                f"Identified: {len(best.matched)} points match, {len(best.mismatched)} differ; "
                f"the probability that this copy is a source of the text is "
                f"{best.posterior:.4f}."
            )
        return (
            f"Identified a mixture: the text is explained by {len(named)} copies together "
            "(each shows in its own stretches of the text) and by no other group as well."
        )
    if not observed_points:
        return "The text shows none of the variation points of this case's notices."
    if not ranked:
        return (
            "No recipient's copy matches, alone or mixed with another: nothing in the text "
            "points to anyone in this case."
        )
    best = ranked[0]
    if len(best.matched) < MIN_MATCHED_POINTS:
        return (
            f"Too little to go on: the best candidate's copy matches {len(best.matched)} of the "
            f"points read; naming someone needs at least {MIN_MATCHED_POINTS}. A longer "
            "excerpt may be enough."
        )
    close = [s for s in ranked[1:] if s.posterior >= best.posterior / 10]
    if close:
        return (
            f"Not conclusive: {len(close) + 1} copies explain the text about as well as each "
            f"other (the best has probability {best.posterior:.4f}); the evidence cannot "
            "separate them, so nobody is named."
        )
    return (
        f"Not conclusive: the best candidate's probability is {best.posterior:.4f}, and "
        f"naming someone needs {MIN_POSTERIOR}; the text carries too little evidence "
        f"(the probability that none of the recipients wrote it is {nobody:.4f})."
    )
