"""The reporter's tracking link: the report's reference and a token only we can make.

The token is an HMAC of the reference and a per-report secret under SECRET_KEY, so a copy
of the database alone does not open anyone's reports, and it is checked in constant time."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac

_SALT = "haulout.intake.report-link"
# No 0/O, 1/I/L: a reference is read out and typed back.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def reference_new() -> str:
    return "R-" + "".join(secrets.choice(_ALPHABET) for _ in range(10))


def secret_new() -> str:
    return secrets.token_hex(32)


def report_token(report) -> str:
    return salted_hmac(_SALT, f"{report.reference}:{report.secret}", algorithm="sha256").hexdigest()


def report_token_matches(report, token: str) -> bool:
    return constant_time_compare(report_token(report), token or "")


def report_link(report) -> str:
    """The full tracking URL, for the receipt and for mail that says there is news."""
    path = reverse(
        "intake:report_track", kwargs={"reference": report.reference, "token": report_token(report)}
    )
    return settings.SITE_URL + path
