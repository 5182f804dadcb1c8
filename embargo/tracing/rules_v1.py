"""Version 1 of the tracing catalogue (embargo/tracing/catalogue.py): the rules every
notice created from 2026-12-04 until version 2 was read with. Frozen: a sent notice keeps
its version, and its copies must read back exactly as they were rendered."""

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
    # Only where a sentence starts (from version 2; version 1 knows this only of the
    # openers that end with a comma).
    sentence_start: bool = False


def _rule(
    *options: str,
    detect: int | None = None,
    followed_by: str | None = None,
    not_after: str | None = None,
    sentence_start: bool = False,
) -> Rule:
    found = options if detect is None else options[:detect]
    name = re.sub(r"[^a-z]+", "-", options[0].lower()).strip("-")
    return Rule(
        name=name,
        options=options,
        detect=found,
        followed_by=followed_by,
        not_after=not_after,
        sentence_start=sentence_start,
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

RULES_V1 = _CONTRACTIONS + _SPELLINGS + _WORDINGS + _NUMBERS
