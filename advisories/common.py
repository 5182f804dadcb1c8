"""What the OSV records, CSAF documents and the feed share: absolute links, timestamps,
and when an advisory was published and last changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse

from embargo.models import Vulnerability

INITIAL_REVISION_SUMMARY = "Initial public release."


def absolute_url(path: str) -> str:
    """The address on the public site. The scheme and host come from SITE_URL, never from
    the request's Host header: exports are mirrored and cached, their links must be the
    canonical ones. `path` comes from reverse(), which already carries any script prefix."""
    parts = urlsplit(settings.SITE_URL)
    return f"{parts.scheme}://{parts.netloc}{path}"


def advisory_url(case: Vulnerability) -> str:
    return absolute_url(reverse("embargo:advisory_detail", kwargs={"public_id": case.public_id}))


def export_url(name: str, case: Vulnerability) -> str:
    return absolute_url(reverse(f"advisories:{name}", kwargs={"public_id": case.public_id}))


def rfc3339(moment: datetime) -> str:
    """UTC with a Z, whole seconds: the form OSV's schema accepts and CSAF allows."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Revision:
    number: int
    published_at: datetime
    summary: str


def published_at(case: Vulnerability) -> datetime:
    # A disclosed case always has disclosed_at; updated_at only covers rows written before
    # the field existed.
    return case.disclosed_at or case.updated_at


def revisions_of(case: Vulnerability) -> list[Revision]:
    """The public revisions, oldest first; a case disclosed before revisions were kept has
    one: its disclosure."""
    rows = sorted(case.advisory_revisions.all(), key=lambda row: row.number)
    if not rows:
        return [Revision(1, published_at(case), INITIAL_REVISION_SUMMARY)]
    return [Revision(row.number, row.published_at, row.summary) for row in rows]


def modified_at(case: Vulnerability) -> datetime:
    """The newest revision's time (the same rule as advisories.selectors._with_modified)."""
    return max(revision.published_at for revision in revisions_of(case))
