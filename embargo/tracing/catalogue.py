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
read back. Add rules only in a new version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CURRENT_VERSION = 1


@dataclass(frozen=True)
class Rule:
    name: str
    options: tuple[str, ...]
    # Only these wordings are looked for in the author's text; the others are only ever
    # written. "since" means "because" only sometimes, so it is written, never found.
    detect: tuple[str, ...]
    # A regex the text right after the match must satisfy (grammar: "before the",
    # not "before you").
    followed_by: str | None = None
    # A regex the text right before must NOT end with ("so that" is not a relative "that").
    not_after: str | None = None


def _rule(
    *options: str,
    detect: int | None = None,
    followed_by: str | None = None,
    not_after: str | None = None,
) -> Rule:
    found = options if detect is None else options[:detect]
    name = re.sub(r"[^a-z]+", "-", options[0].lower()).strip("-")
    return Rule(
        name=name, options=options, detect=found, followed_by=followed_by, not_after=not_after
    )


_NOUN_PHRASE = r" (?:the|a|an|this|that|these|those|its|their|our|your|any|every|[A-Z])"
_WORD = r" [a-z]"

_CONTRACTIONS = (
    _rule("do not", "don't"),
    _rule("does not", "doesn't"),
    _rule("did not", "didn't"),
    _rule("is not", "isn't"),
    _rule("are not", "aren't"),
    _rule("was not", "wasn't"),
    _rule("were not", "weren't"),
    _rule("has not", "hasn't", followed_by=r" (?:been|yet|[a-z]+ed)\b"),
    _rule("have not", "haven't", followed_by=r" (?:been|yet|[a-z]+ed)\b"),
    _rule("will not", "won't"),
    _rule("would not", "wouldn't"),
    _rule("should not", "shouldn't"),
    _rule("could not", "couldn't"),
    _rule("cannot", "can't"),
    _rule("it is", "it's", followed_by=_WORD),
    _rule("we are", "we're", followed_by=_WORD),
    _rule("we will", "we'll", followed_by=_WORD),
    _rule("you will", "you'll", followed_by=_WORD),
    _rule("you are", "you're", followed_by=_WORD),
    _rule("they are", "they're", followed_by=_WORD),
    _rule("there is", "there's", followed_by=_WORD),
    _rule("here is", "here's", followed_by=_WORD),
    _rule("what is", "what's", followed_by=_WORD),
    _rule("it will", "it'll", followed_by=_WORD),
    _rule("they will", "they'll", followed_by=_WORD),
    _rule("you would", "you'd", followed_by=_WORD),
    _rule("we have not", "we haven't"),
)

_BRITISH_AMERICAN = tuple(
    _rule(british, american)
    for british, american in (
        ("organisation", "organization"),
        ("organisations", "organizations"),
        ("behaviour", "behavior"),
        ("recognise", "recognize"),
        ("recognised", "recognized"),
        ("analyse", "analyze"),
        ("analysed", "analyzed"),
        ("prioritise", "prioritize"),
        ("minimise", "minimize"),
        ("sanitise", "sanitize"),
        ("sanitised", "sanitized"),
        ("authorise", "authorize"),
        ("authorised", "authorized"),
        ("unauthorised", "unauthorized"),
        ("initialise", "initialize"),
        ("initialised", "initialized"),
        ("serialise", "serialize"),
        ("deserialise", "deserialize"),
        ("customise", "customize"),
        ("normalise", "normalize"),
        ("normalised", "normalized"),
        ("defence", "defense"),
        ("centre", "center"),
        ("favour", "favor"),
        ("catalogue", "catalog"),
        ("cancelled", "canceled"),
        ("labelled", "labeled"),
        ("modelled", "modeled"),
        ("judgement", "judgment"),
        ("acknowledgement", "acknowledgment"),
        ("towards", "toward"),
        ("amongst", "among"),
    )
)
_SPELLINGS = (
    *_BRITISH_AMERICAN,
    _rule("e-mail", "email"),
    _rule("e-mails", "emails"),
    _rule("denial of service", "denial-of-service"),
    _rule("out of bounds", "out-of-bounds"),
    _rule("use after free", "use-after-free"),
    _rule("pre-release", "prerelease"),
    _rule("back-port", "backport"),
    _rule("back-ported", "backported"),
    _rule("re-enable", "reenable"),
    _rule("proof of concept", "proof-of-concept"),
)

_WORDINGS = (
    _rule("for example", "for instance", "e.g."),
    _rule("before", "prior to", detect=1, followed_by=_NOUN_PHRASE),
    _rule("because", "as", detect=1, followed_by=_NOUN_PHRASE),
    _rule("in order to", "so as to"),
    _rule("affected", "impacted"),
    _rule("attacker", "adversary"),
    _rule("attackers", "adversaries"),
    _rule("malicious", "hostile"),
    _rule("allows", "permits", followed_by=r"(?! for)"),
    _rule("allow", "permit", followed_by=r" (?:an?|the|any|[a-z]+ to)\b"),
    _rule("ensure", "make sure", detect=1),
    _rule("contains", "includes"),
    _rule("additional", "extra"),
    _rule("several", "a number of", followed_by=r" [a-z]+s\b"),
    _rule("currently", "at present", "at the moment"),
    _rule("approximately", "roughly"),
    _rule("obtain", "get", detect=1),
    _rule("execute", "run", detect=1),
    _rule("executes", "runs", detect=1),
    _rule("via", "through", detect=1),
    _rule("whether", "if", detect=1, followed_by=r"(?! or not)"),
    _rule("upgrade", "update"),
    _rule("upgrading", "updating"),
    _rule("we recommend", "we advise", "we suggest"),
    _rule("quickly", "promptly"),
    _rule("as a result", "consequently", followed_by=r"(?! of)"),
    _rule("therefore", "thus"),
    _rule("in the meantime", "meanwhile"),
    _rule("as soon as possible", "as early as possible"),
    _rule("arbitrary code", "code of their choice", followed_by=r"(?! execution)"),
    _rule("crafted", "specially crafted"),
    _rule("the fix", "the patch"),
    _rule("vulnerability", "flaw"),
    _rule("vulnerable", "exposed", followed_by=r" (?:to|versions?|releases?|systems?|hosts?)\b"),
    _rule("please note that", "note that"),
    _rule("each", "every", followed_by=r" (?!other\b|of\b|one\b)[a-z]"),
    _rule("instead of", "rather than"),
    _rule("up to and including", "through", detect=1),
    _rule("publish", "release", detect=1),
    _rule("published", "released", detect=1),
    _rule("publishing", "releasing", detect=1),
    _rule("need-to-know", "need to know", detect=1),
    _rule("up-to-date", "up to date", detect=1),
    _rule("entire", "whole"),
    _rule("start", "begin", followed_by=r" (?:to|with|by|[a-z]+ing)\b"),
    _rule("simple", "straightforward"),
    _rule("the issue", "the problem"),
    _rule("this issue", "this problem"),
    _rule("verifying", "checking"),
    _rule("rejects", "refuses"),
    _rule("reject", "refuse", followed_by=r" (?:the|a|an|any|it|them)\b"),
    _rule("trusts", "relies on"),
    _rule("contain", "include", followed_by=r" (?:the|a|an|any|this|these)\b"),
    _rule("so far", "to date", followed_by=r"[.,;]"),
    _rule("has asked", "has requested", followed_by=r" (?:to|that)\b"),
    _rule("if you think", "if you believe"),
    _rule("we think", "we believe"),
    _rule("outside", "beyond", followed_by=r" (?:the|your|our)\b"),
    _rule("ships", "distributes", followed_by=_NOUN_PHRASE),
    _rule("as well as", "and also", detect=1),
    _rule("a few", "some", detect=1, followed_by=r" [a-z]+s\b"),
    _rule("make sure", "ensure", detect=1),
    # A relative "that" followed by its verb reads the same as "which" ("a mirror that
    # serves", "a mirror which serves"); not after a verb or a conjunction ("check that
    # is", "so that").
    _rule(
        "that",
        "which",
        detect=1,
        followed_by=r" (?:is|are|was|were|has|have|had|can|could|will|would|may|might|must"
        r"|should|does|did|[a-z]{3,}s)\b",
        not_after=r"\b(?:so|such|now|given|ensure|check|checks|know|knows|think|believe"
        r"|note|notes|say|says|said|mean|means|recommend|suggest|advise|sure|is|are|was"
        r"|were|and|or|but|than|of|in|on|at|to|for|with|by|from|about|all|because|if"
        r"|when|that|this|verify|confirm|shows?|find|found|hope|expect)",
    ),
    _rule("share", "pass on", detect=1, followed_by=r" (?:the|it|this|them|any)\b"),
    _rule("heap buffer overflow", "heap-based buffer overflow"),
    _rule("buffer overflow", "buffer overrun"),
    _rule("if any", "if there are any"),
    _rule("summary", "overview", followed_by=r"[ \t]*\n"),
    _rule("credit", "credits", followed_by=r"[ \t]*\n"),
    _rule("however,", "that said,"),
    _rule("additionally,", "in addition,", "also,"),
    _rule("for now,", "for the time being,"),
    _rule("if possible,", "where possible,"),
    _rule("until then,", "in the meantime,"),
)

_NUMBERS = tuple(
    _rule(
        word,
        str(number),
        followed_by=r" (?:business )?(?:days?|weeks?|hours?|months?|releases?|branches)\b",
    )
    for number, word in enumerate(
        ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"), start=2
    )
)

RULES: dict[int, tuple[Rule, ...]] = {
    0: (),  # notices sent before the catalogue: the author's marks and the framing only
    1: _CONTRACTIONS + _SPELLINGS + _WORDINGS + _NUMBERS,
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


def _pattern(rules: tuple[Rule, ...]) -> re.Pattern:
    # Longest first, so "please note that" wins over "note that" at the same place.
    wordings = sorted({w for rule in rules for w in rule.detect}, key=len, reverse=True)
    alternation = "|".join(re.escape(w) for w in wordings)
    return re.compile(rf"(?<![\w'-])(?:{alternation})(?![\w'-])", re.IGNORECASE)


_BY_VERSION: dict[int, tuple[re.Pattern | None, dict[str, Rule]]] = {}


def _compiled(version: int) -> tuple[re.Pattern | None, dict[str, Rule]]:
    if version not in _BY_VERSION:
        rules = RULES.get(version, ())
        by_wording = {w: rule for rule in rules for w in rule.detect}
        _BY_VERSION[version] = (_pattern(rules) if rules else None, by_wording)
    return _BY_VERSION[version]


def _inside(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in spans)


def _sentence_start(text: str, position: int) -> bool:
    before = text[:position].rstrip(" \t")
    return not before or before[-1] in ".!?:\n"


def wordings_found(text: str, *, version: int) -> list[Found]:
    """Every place in `text` a rule of the catalogue applies, left to right, none
    overlapping and none touching a protected span."""
    pattern, by_wording = _compiled(version)
    if pattern is None:
        return []
    spans = protected_spans(text)
    found = []
    for match in pattern.finditer(text):
        written = match.group(0)
        rule = by_wording[written.lower()]
        if rule.followed_by and not re.match(rule.followed_by, text[match.end() :]):
            continue
        if rule.not_after and re.search(
            rf"(?:{rule.not_after})\s*$",
            text[max(0, match.start() - 40) : match.start()],
            re.IGNORECASE,
        ):
            continue
        if _inside(spans, match.start(), match.end()):
            continue
        if rule.options[0].endswith(",") and not _sentence_start(text, match.start()):
            # "However," opens a sentence; "this, however, is" stays as written.
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
        options = (f",{word}", word)
        found.append(Found(start, match.end(), "serial-comma", options, 0 if match.group(1) else 1))
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
