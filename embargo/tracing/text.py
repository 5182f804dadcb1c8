"""Reading a leaked text as the trace compares it: what a mail client, a chat, a web page
or a Markdown renderer does to a copy must not change what the trace reads.

`normalise` is applied alike to the needles built from a notice and to the pasted text,
so anything it removes (Markdown syntax, HTML tags, typography, case, spacing) can never
be a difference between them."""

from __future__ import annotations

import html
import re

_QUOTE_PREFIX = re.compile(r"^[ \t]*(?:>[ \t]?)+", re.MULTILINE)
# Markdown's line syntax, which a rendered page or a chat client drops: heading marks,
# bullets and numbered-list marks at the start of a line, horizontal rules.
_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]+", re.MULTILINE)
_HEADING_CLOSE = re.compile(r"[ \t]+#+[ \t]*$", re.MULTILINE)
_BULLET = re.compile(r"^[ \t]*(?:[-*+\u2022\u25e6\u2023]|\d{1,3}[.)])[ \t]+", re.MULTILINE)
_RULE = re.compile(r"^[ \t]*(?:[-*_][ \t]*){3,}$", re.MULTILINE)
_SETEXT = re.compile(r"^[ \t]*[=-]{3,}[ \t]*$", re.MULTILINE)
# [text](url) reads as "text" on a page; a bare URL stays as it is.
_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\s]*(?:\s+\"[^\"]*\")?\)")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_EMPHASIS = re.compile(r"[*_`~]")
_SPACE = re.compile(r"\s+")
_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u202f": " ",
    }
)
# After dashes are single: "--" (what chat clients turn into a dash) reads as one too,
# and so does the ellipsis character.
_DASHES = re.compile(r"-{2,}")


def normalise(text: str) -> str:
    """Case, spacing, quoting, emphasis, Markdown line syntax, HTML tags and entities and
    typography do not matter: a re-wrapped, quoted, chat-pasted or rendered copy reads
    the same as the original."""
    text = html.unescape(text).replace("\u2026", "...")
    text = _TAG.sub(" ", text)
    text = _QUOTE_PREFIX.sub(" ", text)
    text = _LINK.sub(r"\1", text)
    text = _RULE.sub(" ", text)
    text = _SETEXT.sub(" ", text)
    text = _HEADING.sub("", text)
    text = _HEADING_CLOSE.sub("", text)
    text = _BULLET.sub("", text)
    text = _INVISIBLE.sub("", text).translate(_TYPOGRAPHY)
    text = _DASHES.sub("-", text)
    text = _EMPHASIS.sub("", text)
    return _SPACE.sub(" ", text).casefold()


# Markdown's line marks once the lines are joined: a copy pasted or cut as one run of
# words shows "- item" and "## Heading" mid-line, where the line rules of `normalise`
# cannot see them. The trace drops a mark that stands alone as a word from its needles
# and from the text alike, so a point next to a bullet or a heading reads either way.
# (Kept out of `normalise`, which also decides how a body is parsed: a catalogue version's
# parse must never change.)
_LONE_MARK = re.compile(r"(?<!\S)(?:[-+\u2022\u25e6\u2023]|#{1,6})(?!\S) ?")


def marks_drop(normalised: str) -> str:
    """`normalised` without Markdown's list and heading marks standing alone as words."""
    return _LONE_MARK.sub("", normalised)
