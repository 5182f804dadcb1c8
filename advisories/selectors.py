"""Reads for the exports. Every case here comes from embargo's advisories_public(), so
nothing is exported before disclosure; every organisation statement comes from
feedback's statuses_publishable(), which checks consent and disclosure in the database.

Each list costs the same number of queries however many advisories there are."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import F, Max, Prefetch, QuerySet
from django.db.models.functions import Coalesce

from embargo.models import AdvisoryRevision, AffectedPackage, Vulnerability
from embargo.selectors import advisories_public
from feedback.models import OrganizationStatus
from feedback.selectors import statuses_publishable

FEED_SIZE = 50
OSV_INDEX_PAGE_SIZE = 1000
OSV_ALL_PAGE_SIZE = 100


def _with_modified(cases: QuerySet[Vulnerability]) -> QuerySet[Vulnerability]:
    """`last_published_at`: when the advisory last changed in public, its newest
    revision or else its disclosure; the same rule as advisories.osv.modified_at."""
    newest_revision = Max("advisory_revisions__published_at")
    return cases.annotate(
        last_published_at=Coalesce(newest_revision, F("disclosed_at"), F("updated_at"))
    )


def _with_export_rows(cases: QuerySet[Vulnerability]) -> QuerySet[Vulnerability]:
    """Everything an OSV record or CSAF document reads of a case, in one query per
    relation whatever the number of cases."""
    return cases.prefetch_related(
        Prefetch(
            "packages",
            queryset=AffectedPackage.objects.prefetch_related("ranges").order_by("position", "pk"),
        ),
        "fix_references",
        "cvss_ratings",
        Prefetch("advisory_revisions", queryset=AdvisoryRevision.objects.order_by("number")),
    )


def advisory_export_get(*, public_id: str) -> Vulnerability | None:
    """A disclosed case with what the exports need; None for an undisclosed or unknown id,
    which the views turn into the same 404."""
    return _with_export_rows(advisories_public().filter(public_id=public_id)).first()


def statuses_for_export(*, vulnerability: Vulnerability) -> list[OrganizationStatus]:
    """The organisations' statuses that may be published: consent given and the case
    disclosed, both checked by feedback's selector against the database."""
    return list(statuses_publishable(vulnerability=vulnerability))


def osv_index_page(*, page: str | None) -> Page:
    """The OSV index: (public_id, last_published_at) for every disclosed case, newest
    change first, a page at a time (a count and a slice: two queries)."""
    rows = (
        _with_modified(advisories_public())
        .order_by("-last_published_at", "-pk")
        .values("public_id", "last_published_at")
    )
    return Paginator(rows, OSV_INDEX_PAGE_SIZE).get_page(page)


def osv_records_page(*, page: str | None) -> Page:
    """Disclosed cases with their export rows, a page at a time, for all.json."""
    cases = _with_export_rows(advisories_public().order_by("-disclosed_at", "-pk"))
    return Paginator(cases, OSV_ALL_PAGE_SIZE).get_page(page)


def advisories_for_feed() -> list[Vulnerability]:
    """The latest published advisories for the Atom feed, newest change first."""
    cases = _with_modified(advisories_public()).order_by("-last_published_at", "-pk")
    return list(cases[:FEED_SIZE])
