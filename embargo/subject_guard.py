"""The outer-subject guard: the one line of a notice every mail server on the way can read.

A copy of the title was easy to refuse; a paraphrase was not ("Fix for the tarball
unpacker in 2.4.1, out 12 March" gave the issue away and passed). So the guard refuses an
outer subject that shares with the private fields any of:
- a version number ("2.4.1", "v3"; "2.4" also counts against "2.4.1": it names the branch),
- an identifier (CVE-..., GHSA-..., the case id HAUL-..., any LETTERS-123 shaped id),
- a date, in any of the usual spellings ("2026-03-12", "12/03/2026", "12 March",
  "March 12", "Mar 12th"),
- two or more significant words (case-folded, stop words and words that describe every
  notice removed, light stemming, so "overflows" meets "overflow").
The message names what was shared, so the author can see what to take out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError

# Two shared significant words are a paraphrase; one is often chance ("patch").
SHARED_WORDS_LIMIT = 2

_VERSION = re.compile(r"(?<![\w.])v?(\d+(?:\.\d+)+|(?<=v)\d+)(?![\w]|\.\d)", re.IGNORECASE)
# LETTERS-then-dash-separated parts, at least one digit somewhere: CVE-2026-12345,
# GHSA-jfh8-c2jp-5v3q, HAUL-2026-0042.
_IDENTIFIER = re.compile(r"\b[a-z]{2,}(?:-[a-z0-9]+)+\b", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]{3,}")
_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
_DATES = [
    re.compile(r"\b(?P<year>\d{4})-(?P<month>[01]?\d)-(?P<day>[0-3]?\d)\b"),
    # 12/03/2026 is 12 March in most of the world and 3 December in the US: both count.
    re.compile(r"\b(?P<a>[0-3]?\d)[/.](?P<b>[0-3]?\d)[/.](?P<year>\d{4})\b"),
    re.compile(rf"\b{_DAY}(?:\s+of)?\s+{_MONTH}(?:,?\s+{_YEAR}(?!\d))?", re.IGNORECASE),
    re.compile(rf"\b{_MONTH}\s+{_DAY}\b(?:,?\s+{_YEAR}(?!\d))?", re.IGNORECASE),
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOP_WORDS = _words(
    """
    about above after again against all also among and any are around because been before
    being below between both but can cannot could did does doing down during each few for
    from further had has have having her here hers him his how into its itself just more
    most not now off once only other our ours out over own same she should some such than
    that the their theirs them then there these they this those through too under until
    upon very was were what when where which while who whom why will with within without
    would you your yours yet via per new please read
    """
)
# Words that describe every notice, so sharing them says nothing about the issue; the
# default outer subject is made of them.
_GENERIC_WORDS = _words(
    """
    embargo embargoed notice notices security team private distributor distributors list
    message update updates important information issue issues vulnerability
    vulnerabilities advisory advisories haulout project
    """
)
_SUFFIXES = ("ions", "ion", "ings", "ing", "edly", "ers", "er", "ed", "es", "ly", "s", "e")


@dataclass(frozen=True)
class _Date:
    month: int
    day: int
    year: int | None

    def matches(self, other: _Date) -> bool:
        if (self.month, self.day) != (other.month, other.day):
            return False
        return self.year is None or other.year is None or self.year == other.year

    def label(self) -> str:
        text = date(self.year or 2000, self.month, self.day).strftime("%d %B").lstrip("0")
        return f"{text} {self.year}" if self.year else text


def outer_subject_guard(
    *,
    outer_subject: str,
    private: Mapping[str, str | None],
    private_dates: Mapping[str, date | None] | None = None,
    generic_words: Iterable[str] = (),
) -> None:
    """Raise ValidationError (on "outer_subject") if the outer subject shares a version,
    an identifier, a date or several significant words with the private fields.

    `private` maps a label ("the case title") to its text; `private_dates` maps a label
    to a date (the disclosure date); `generic_words` are more words that say nothing
    (the project's own name)."""
    shared = outer_subject_shared(
        outer_subject=outer_subject,
        private=private,
        private_dates=private_dates or {},
        generic_words=generic_words,
    )
    if shared:
        raise ValidationError(
            {
                "outer_subject": [
                    "The outer subject is sent in clear, so it must say nothing about the "
                    f"issue. It shares {'; '.join(shared)}. Take that out, or use the "
                    "default outer subject."
                ]
            }
        )


def outer_subject_shared(
    *,
    outer_subject: str,
    private: Mapping[str, str | None],
    private_dates: Mapping[str, date | None],
    generic_words: Iterable[str] = (),
) -> list[str]:
    """What the outer subject shares with the private fields, each as a phrase naming
    the item and where it comes from; empty if nothing."""
    texts = {label: text.strip() for label, text in private.items() if text and text.strip()}
    folded = outer_subject.casefold()
    found: dict[str, list[str]] = {}  # what is shared -> the fields it comes from

    def note(item: str, label: str) -> None:
        found.setdefault(item, []).append(label)

    for label, text in texts.items():
        # A whole field copied in (a one-word title, say): the old guard's rule, kept.
        if len(text) >= 3 and text.casefold() in folded:
            note("a copy of the field", label)
        private_versions = _versions(text)
        for version in _versions(outer_subject):
            if any(_same_version(version, other) for other in private_versions):
                note(f"the version {version}", label)
        outer_ids = _identifiers(outer_subject)
        for identifier in _identifiers(text):
            # The number without its prefix counts too: "2026-12345" is the CVE id.
            if identifier in outer_ids or _id_number(identifier) in folded:
                note(f"the identifier {identifier.upper()}", label)

    dated = {label: _dates(text) for label, text in texts.items()}
    for label, moment in private_dates.items():
        if moment is not None:
            dated.setdefault(label, []).append(_Date(moment.month, moment.day, moment.year))
    outer_dates = _dates(outer_subject)
    for label, dates in dated.items():
        for shown in sorted({o.label() for o in outer_dates if any(o.matches(d) for d in dates)}):
            note(f"the date {shown}", label)

    extra = {w.casefold() for text in generic_words for w in _WORD.findall(text)}
    ignore = _STOP_WORDS | _GENERIC_WORDS | extra | {_stem(w) for w in extra}
    outer_words = _significant(outer_subject, ignore)
    common: dict[str, str] = {}  # stem -> the word as the outer subject spells it
    labels = []
    for label, text in texts.items():
        stems = outer_words.keys() & _significant(text, ignore).keys()
        if stems:
            labels.append(label)
            common.update((stem, outer_words[stem]) for stem in stems)
    if len(common) >= SHARED_WORDS_LIMIT:
        words = ", ".join(f'"{word}"' for word in sorted(common.values()))
        found[f"the words {words}"] = labels
    return [f"{item} ({', '.join(dict.fromkeys(labels))})" for item, labels in found.items()]


def _versions(text: str) -> set[str]:
    return {match.group(1) for match in _VERSION.finditer(text)}


def _same_version(outer: str, private: str) -> bool:
    # "2.4" against "2.4.1" names the branch; "2" against "2.4.1" is just a number.
    if outer == private:
        return True
    return "." in outer and (private.startswith(outer + ".") or outer.startswith(private + "."))


def _identifiers(text: str) -> set[str]:
    found = {match.group(0).casefold() for match in _IDENTIFIER.finditer(text)}
    return {i for i in found if any(ch.isdigit() for ch in i)}


def _id_number(identifier: str) -> str:
    """The part after the letters ("2026-12345" of "cve-2026-12345"); a short one (the
    "8" of "utf-8") could be any number, so it never matches."""
    number = identifier.split("-", 1)[1]
    return number if len(number) >= 4 else "\0"


def _dates(text: str) -> list[_Date]:
    found = []
    for pattern in _DATES:
        for match in pattern.finditer(text):
            parts = match.groupdict()
            year = int(parts["year"]) if parts.get("year") else None
            if "a" in parts:
                pairs = [(int(parts["b"]), int(parts["a"])), (int(parts["a"]), int(parts["b"]))]
            else:
                month = parts["month"]
                month = int(month) if month.isdigit() else _MONTHS[month.casefold()]
                pairs = [(month, int(parts["day"]))]
            for month, day in pairs:
                if _valid(year or 2000, month, day):
                    found.append(_Date(month, day, year))
    return found


def _valid(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _significant(text: str, ignore: frozenset[str] | set[str]) -> dict[str, str]:
    words = {}
    for match in _WORD.finditer(text):
        word = match.group(0).casefold()
        stem = _stem(word)
        if word in ignore or stem in ignore or word in _MONTHS:
            continue
        words.setdefault(stem, word)
    return words


def _stem(word: str) -> str:
    """A light stemmer: one common English ending off, keeping at least three letters, so
    "overflows", "overflowed" and "overflowing" all meet "overflow"."""
    word = word.casefold()
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word
