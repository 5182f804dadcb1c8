"""Version 2 of the tracing catalogue: version 1, denser.

- Multi-way points. A point with k interchangeable wordings carries log2(k) bits where a
  two-way one carries 1, and it helps a mixture most: two colluders' copies agree on a
  k-way point only one time in k. So the rules that have safe third (and fourth) wordings
  get them: "before" / "prior to" / "ahead of", "allows" / "permits" / "enables"...
- More rules for security-advisory prose: whole phrases an advisory keeps using ("we
  recommend that you", "we are not aware of", "let us know", "the disclosure time"),
  spellings ("file name", "test suite"), the "-one"/"-body" pronouns, "we have"/"we've".
- A few of version 1's rules, made safer: "an entire" never becomes "an whole", "the
  issue tracker" is not "the problem tracker", "note that" is varied only where a sentence
  starts ("we note that" stays), "checking for" is not "verifying for".

Where one wording has several rules (a three-way one where the grammar allows, a two-way
one elsewhere), the first whose conditions hold applies. Version 1 stays as it was
(rules_v1.py): its notices read back exactly as they were rendered.
"""

from __future__ import annotations

from embargo.tracing.rules_v1 import _NOUN_PHRASE, RULES_V1, Rule, _rule

# Not after an article that the new wording would no longer fit ("an entire" / "a whole").
_NOT_AFTER_AN = r"\ban"
_NOT_AFTER_A = r"\ba"
_NOT_AFTER_ARTICLE = r"\ban?"
_VERB_FOLLOWS = r" (?!not\b|do\b|don't\b|never\b|all\b)[a-z]"

# Version 1's rules with more wordings (same first wording: same id, "allows#1").
_WIDER = (
    _rule("allows", "permits", "enables", followed_by=r"(?! for)"),
    _rule("allow", "permit", "enable", followed_by=r" (?:an?|the|any|[a-z]+ to)\b"),
    _rule("before", "prior to", "ahead of", detect=1, followed_by=_NOUN_PHRASE),
    _rule("because", "as", "since", detect=1, followed_by=_NOUN_PHRASE),
    _rule("in order to", "so as to", "to", detect=2),
    _rule("approximately", "roughly", "around", detect=2),
    _rule("quickly", "promptly", "swiftly"),
    _rule("as a result", "consequently", "as a consequence", followed_by=r"(?! of)"),
    _rule("as soon as possible", "as early as possible", "as soon as you can"),
    _rule(
        "arbitrary code",
        "code of their choice",
        "code of their choosing",
        followed_by=r"(?! execution)",
    ),
    _rule("crafted", "specially crafted", "maliciously crafted"),
    _rule("please note that", "note that", "be aware that", detect=2, sentence_start=True),
    _rule("entire", "whole", "complete", not_after=_NOT_AFTER_AN),
    _rule(
        "vulnerable",
        "exposed",
        followed_by=r" (?:to|versions?|releases?|systems?|hosts?)\b",
        not_after=_NOT_AFTER_A,
    ),
    _rule("the issue", "the problem", followed_by=r"(?! tracker| number| id\b| page| list)"),
    _rule("this issue", "this problem", followed_by=r"(?! tracker| number| id\b| page| list)"),
    _rule("verifying", "checking", "validating", followed_by=r"(?! in\b| out\b| for\b| on\b)"),
    _rule("if you think", "if you believe", "if you feel"),
    _rule("outside", "beyond", "outside of", followed_by=r" (?:the|your|our)\b"),
    _rule("share", "pass on", "forward", detect=1, followed_by=r" (?:the|it|this|them|any)\b"),
    _rule("summary", "overview", "synopsis", followed_by=r"[ \t]*\n"),
    _rule("credit", "credits", "acknowledgements", followed_by=r"[ \t]*\n"),
    _rule("until then,", "in the meantime,", "meanwhile,", "until that time,"),
    _rule("proof of concept", "proof-of-concept", "PoC"),
    _rule("heap buffer overflow", "heap-based buffer overflow", "heap overflow"),
    _rule("if any", "if there are any", "if you have any"),
)
_WIDER_BY_NAME = {rule.name: rule for rule in _WIDER}

# Three wordings where the article before still fits, two elsewhere ("an affected host"
# is "an impacted host", never "an vulnerable host"; "affected by" is never "vulnerable by").
_AFFECTED = (
    _rule(
        "affected",
        "impacted",
        "vulnerable",
        detect=2,
        followed_by=r"(?! by\b)",
        not_after=_NOT_AFTER_AN,
    ),
    _rule("affected", "impacted"),
)

_NEW = (
    _rule(
        "we recommend that you",
        "we suggest that you",
        "we advise you to",
        "we encourage you to",
        followed_by=_VERB_FOLLOWS,
    ),
    _rule("we are not aware of", "we are unaware of", "we do not know of", "we're not aware of"),
    _rule("let us know", "tell us", followed_by=r" (?:if|when|whether|that|how|what)\b"),
    _rule("the disclosure time", "the time of disclosure"),
    _rule("file name", "filename"),
    _rule("file names", "filenames"),
    _rule("test suite", "testsuite"),
    _rule("test suites", "testsuites"),
    _rule("someone", "somebody"),
    _rule("anyone", "anybody"),
    _rule("everyone", "everybody"),
    _rule("no one", "nobody"),
    _rule("vulnerabilities", "flaws"),
    _rule("attached", "enclosed", followed_by=r"(?! to\b| with\b| by\b| in\b)"),
    _rule("applies cleanly", "applies without conflicts"),
    _rule("apply cleanly", "apply without conflicts"),
    _rule("reachable from", "reachable through", "reachable via"),
    _rule("researcher at", "researcher from"),
    _rule("researchers at", "researchers from"),
    _rule(
        "who need to know",
        "with a need to know",
        detect=1,
        followed_by=r"(?! how| what| whether| if| about| that)",
    ),
    _rule("is able to", "can", detect=1),
    _rule("are able to", "can", detect=1),
    _rule(
        "vulnerable code",
        "affected code",
        "flawed code",
        not_after=_NOT_AFTER_ARTICLE,
    ),
    _rule("check", "verify", detect=1, followed_by=r" (?:the|that|whether|each|every|your)\b"),
    # Only where it introduces a list ("check the following before you ship:").
    _rule(
        "the following",
        "these points",
        "the points below",
        detect=1,
        followed_by=r"(?: (?:before|after|now|first)\b[^:\n.]{0,40})?:[ \t]*\n",
    ),
    _rule("ship", "distribute", detect=1, followed_by=r" (?:it|them|the|this|these|an?|any)\b"),
    _rule("push", "upload", detect=1, followed_by=r" (?:it|them|anything|the \w+|your \w+) to\b"),
    # "before you ship" / "before shipping": the embargo's own instructions.
    *(
        _rule(f"before you {verb}", f"before {verb[:-1] if verb.endswith('e') else verb}ing")
        for verb in ("publish", "release", "upload", "deploy", "install", "upgrade", "update")
    ),
    _rule("before you ship", "before shipping"),
    *(
        _rule(
            full,
            short,
            followed_by=r" (?:been|already|just|[a-z]+ed|[a-z]+-[a-z]+ed)\b",
        )
        for full, short in (("we have", "we've"), ("you have", "you've"), ("they have", "they've"))
    ),
)

RULES_V2: tuple[Rule, ...] = (
    tuple(
        rule
        for old in RULES_V1
        for rule in (_AFFECTED if old.name == "affected" else (_WIDER_BY_NAME.get(old.name, old),))
    )
    + _NEW
)
