"""Variation points the app finds in a notice body by itself, so that every part of a copy
carries a little of its recipient's signature, not only the author's `{{a|b}}` marks and
the framing at the top and bottom (which are what a leaker cuts).

Each rule is a set of wordings that mean the same in a security notice (a contraction,
a spelling, a synonym safe in this register, an equivalent sentence opener), or a pair of
adjacent items of an unordered list, whose order does not matter. A copy uses one wording
per point, chosen from the per-copy secret like every other point.

Never varied: code (fenced, indented or `inline`), URLs, e-mail addresses, quoted text
("..." and > lines), versions, identifiers and anything else with a digit, an underscore,
a slash or a dot inside a word. The tests check every rule's wordings are interchangeable
in both directions, and that no protected span is ever touched.

The catalogue has a version: a sent notice keeps the version it was sent with
(Notice.tracing_catalogue), so changing the rules here never changes how an old copy is
read back. Add rules only in a new version (rules_v1.py, rules_v2.py, rules_v3.py; what each version
changed in finding them is said where it is done, `version >= 2`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from embargo.tracing.rules_v1 import RULES_V1, Rule
from embargo.tracing.rules_v2 import RULES_V2
from embargo.tracing.rules_v3 import RULES_V3

CURRENT_VERSION = 3

RULES: dict[int, tuple[Rule, ...]] = {
    0: (),  # notices sent before the catalogue: the author's marks and the framing only
    1: RULES_V1,
    2: RULES_V2,
    3: RULES_V3,
}
# ------------------------------------------------------------------ where nothing varies

_PROTECTED = re.compile(
    r"```.*?(?:```|\Z)"  # fenced code
    r"|~~~.*?(?:~~~|\Z)"
    r"|(?m:^(?: {4}|\t)[^\n]*$)"  # indented code
    r"|`[^`\n]*`"  # inline code
    r"|\]\([^)]*\)"  # a Markdown link's target
    r"|<[^<>\s]+>"  # <https://...>, <someone@example.org>
    r"|\b(?:https?|ftp)://\S+|\bwww\.\S+"
    r"|\S+@\S+"
    r"|\"[^\"\n]*\"|\u201c[^\u201d\n]*\u201d"  # quoted text
    r"|(?m:^[ \t]*>[^\n]*$)"
    # A "word" with a digit, underscore, slash or inner dot: versions, identifiers, paths.
    r"|[\w./-]*[\d_/][\w./-]*|(?!e\.g\b|i\.e\b)\w+(?:\.\w+)+|(?<![\w-])--?[A-Za-z][\w-]*",
    re.DOTALL,
)


def protected_spans(text: str) -> list[tuple[int, int]]:
    return [match.span() for match in _PROTECTED.finditer(text)]


@dataclass(frozen=True)
class Found:
    """One place the catalogue varies: text[start:end], written as options[original]."""

    start: int
    end: int
    rule: str
    options: tuple[str, ...]
    original: int


def _cased(option: str, like: str) -> str:
    if like[:1].isupper() and not like.isupper():
        return option[:1].upper() + option[1:]
    return option


# From version 2 a wording of several words is found across a line break too ("the
# disclosure\ntime" in a wrapped paragraph); never across a blank line. A copy writes the
# wording with plain spaces (Markdown reads a line break in a paragraph as a space).
_BETWEEN_WORDS = r"(?:[ \t]*\n[ \t]*|[ \t]+)"


def _pattern(rules: tuple[Rule, ...], *, wrapped: bool = False) -> re.Pattern:
    # Longest first, so "please note that" wins over "note that" at the same place.
    wordings = sorted({w for rule in rules for w in rule.detect}, key=len, reverse=True)
    between = _BETWEEN_WORDS if wrapped else re.escape(" ")
    alternation = "|".join(between.join(re.escape(part) for part in w.split(" ")) for w in wordings)
    return re.compile(rf"(?<![\w'-])(?:{alternation})(?![\w'-])", re.IGNORECASE)


_BY_VERSION: dict[int, tuple[re.Pattern | None, dict[str, tuple[Rule, ...]]]] = {}


def _compiled(version: int) -> tuple[re.Pattern | None, dict[str, tuple[Rule, ...]]]:
    if version not in _BY_VERSION:
        rules = RULES.get(version, ())
        # A wording may have several rules (from version 2): the first that fits applies.
        # Version 1 has one rule per wording.
        by_wording: dict[str, tuple[Rule, ...]] = {}
        for rule in rules:
            for wording in rule.detect:
                key = wording.lower()
                by_wording[key] = (*by_wording.get(key, ()), rule)
        pattern = _pattern(rules, wrapped=version >= 2) if rules else None
        _BY_VERSION[version] = (pattern, by_wording)
    return _BY_VERSION[version]


def _inside(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in spans)


def _sentence_start(text: str, position: int) -> bool:
    before = text[:position].rstrip(" \t")
    return not before or before[-1] in ".!?:\n"


_LINE_BREAK = re.compile(r"[ \t]*\n(?![ \t]*\n)[ \t]*")


def _fits(rule: Rule, text: str, start: int, end: int, version: int) -> bool:
    """Whether the grammar around text[start:end] lets `rule` vary it."""
    if rule.followed_by and not re.match(rule.followed_by, text[end:]):
        # From version 2 the next words may be on the next line of the paragraph.
        after = _LINE_BREAK.sub(" ", text[end : end + 120]) if version >= 2 else None
        if after is None or not re.match(rule.followed_by, after):
            return False
    if rule.not_after and re.search(
        rf"(?:{rule.not_after})\s*$", text[max(0, start - 40) : start], re.IGNORECASE
    ):
        return False
    # "However," opens a sentence; "this, however, is" stays as written.
    opener = rule.sentence_start or rule.options[0].endswith(",")
    return not opener or _sentence_start(text, start)


def wordings_found(text: str, *, version: int) -> list[Found]:
    """Every place in `text` a rule of the catalogue applies, left to right, none
    overlapping and none touching a protected span."""
    pattern, by_wording = _compiled(version)
    if pattern is None:
        return []
    spans = protected_spans(text)
    found = []
    for match in pattern.finditer(text):
        # One space between words, as the rules write them (a wrapped line's break too).
        written = " ".join(match.group(0).split())
        if _inside(spans, match.start(), match.end()):
            continue
        candidates = by_wording[written.lower()]
        fitting = (r for r in candidates if _fits(r, text, match.start(), match.end(), version))
        rule = next(fitting, None)
        if rule is None:
            continue
        options = tuple(_cased(option, written) for option in rule.options)
        original = [o.lower() for o in rule.options].index(written.lower())
        found.append(Found(match.start(), match.end(), rule.name, options, original))
    return found


# ", and" / ", or": the comma before the last item of a series, or between two clauses,
# is a matter of style. One is only ever added where the sentence already has a comma
# before it (a series), never to a plain "A and B".
_COMMA_AND = re.compile(r"(,?)( (?:and|or) )(?=[A-Za-z`])")
_SERIES_BEFORE = re.compile(r",[^,.;:!?\n]{1,60}$")


def commas_found(text: str, *, version: int) -> list[Found]:
    if version < 1:
        return []
    spans = protected_spans(text)
    found = []
    for match in _COMMA_AND.finditer(text):
        start = match.start()
        if not match.group(1) and not _SERIES_BEFORE.search(text[:start]):
            continue
        if start == 0 or (not text[start - 1].isalnum() and text[start - 1] not in "`)"):
            continue
        if _inside(spans, start, match.end()):
            continue
        word = match.group(2)
        end = match.end()
        if version >= 2:
            # The space after "and" stays fixed text: a wording right after it ("and we
            # are") can then vary too.
            word, end = word[:-1], end - 1
        options = (f",{word}", word)
        found.append(Found(start, end, "serial-comma", options, 0 if match.group(1) else 1))
    return found


# A compound with a hyphen reads the same with a space: "fixed-size", "fixed size".
_HYPHENATED = re.compile(r"(?<![\w-])([A-Za-z]{3,})-([A-Za-z]{3,})(?![\w-])")


def hyphens_found(text: str, *, version: int) -> list[Found]:
    if version < 1:
        return []
    spans = protected_spans(text)
    found = []
    for match in _HYPHENATED.finditer(text):
        if _inside(spans, match.start(), match.end()):
            continue
        first, second = match.groups()
        options = (f"{first}-{second}", f"{first} {second}")
        found.append(Found(match.start(), match.end(), "hyphen", options, 0))
    return found


_LIST_ITEM = re.compile(r"(?m)^([ \t]*)([-*+])[ \t]+(\S[^\n]*)$")


def list_pairs_found(text: str, *, version: int) -> list[Found]:
    """Adjacent items of an unordered list, taken two by two: a copy lists each pair in
    one order or the other. Numbered lists keep their order (it may mean something)."""
    if version < 1:
        return []
    items = list(_LIST_ITEM.finditer(text))
    found = []
    index = 0
    while index + 1 < len(items):
        first, second = items[index], items[index + 1]
        between = text[first.end() : second.start()]
        same_list = between == "\n" and first.group(1, 2) == second.group(1, 2)
        if not same_list or first.group(3).strip() == second.group(3).strip():
            index += 1
            continue
        separator = text[first.end(3) : second.start(3)]
        a, b = first.group(3), second.group(3)
        found.append(
            Found(
                first.start(3),
                second.end(3),
                "list-order",
                (a + separator + b, b + separator + a),
                0,
            )
        )
        index += 2
    return found
