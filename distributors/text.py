"""Names people type (organisation names), made safe to store, show and compare.

A name ends up verbatim in plain-text mail and on every staff page, and is compared with
the names of removed organisations. So it is normalised once, the same way everywhere:
Unicode NFKC (full-width and compatibility forms become the plain letters), every run of
whitespace becomes one space, and control and format characters (line breaks, tabs,
zero-width spaces, bidirectional overrides) are refused rather than silently dropped, so
what the person sees is what is stored.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError

# Unicode categories a name may never contain: control (Cc: CR, LF, tab, NUL...), format
# (Cf: zero-width space and joiners, bidi overrides, soft hyphen), surrogates, private use
# and unassigned code points, and the line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

INVISIBLE_MESSAGE = (
    "{label} contains a line break, a tab or an invisible character. "
    "Type it on one line, with visible characters only."
)
NO_LETTERS_MESSAGE = "{label} needs at least one letter or digit."


def name_normalise(value: str, *, field: str = "name", label: str = "The name") -> str:
    """The name as it is stored: NFKC, single spaces, no leading or trailing space.
    Raises ValidationError({field: ...}) for control or format characters, or for a name
    with no letter or digit at all."""
    value = unicodedata.normalize("NFKC", value or "")
    if any(unicodedata.category(char) in _REFUSED_CATEGORIES for char in value):
        raise ValidationError({field: INVISIBLE_MESSAGE.format(label=label)})
    value = " ".join(value.split())
    if value and not name_skeleton(value):
        raise ValidationError({field: NO_LETTERS_MESSAGE.format(label=label)})
    return value


def organization_name_clean(value: str, *, field: str = "name", max_length: int = 200) -> str:
    """An organisation's name as the services store it: normalised, required, within the
    column's length."""
    name = name_normalise(value, field=field)
    if not name:
        raise ValidationError({field: "The name is required."})
    if len(name) > max_length:
        raise ValidationError(
            {field: f"The name is {len(name):,} characters; the limit is {max_length:,}."}
        )
    return name


def name_fold(value: str) -> str:
    """For comparing two names as people read them: normalised and case-folded. Never
    raises; invisible characters are dropped, so a name stored before normalisation
    compares as it reads."""
    value = unicodedata.normalize("NFKC", value or "")
    value = "".join(c for c in value if unicodedata.category(c) not in _REFUSED_CATEGORIES)
    return " ".join(value.casefold().split())


def name_skeleton(value: str) -> str:
    """Only the letters and digits, case-folded: "Rogue  OS", "Rogue-OS", "rogue.os" and
    "RogueOS" all have the skeleton "rogueos". Used to refuse a name that merely looks
    like a removed (or an existing) organisation's."""
    folded = name_fold(value)
    return "".join(c for c in folded if unicodedata.category(c)[0] in ("L", "N"))
