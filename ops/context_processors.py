"""The site header's member links, each shown only to the people its page is for.

Here in the top layer because the rules come from three apps (teams, notices, leaks).
The answer is one query, run lazily: only when a page's header asks for it, so an
anonymous visitor, a staff page and an error page without the header pay nothing."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Exists
from django.utils.functional import SimpleLazyObject

from distributors.models import Organization, TeamMember
from distributors.selectors import vouches_addressed_to
from embargo.models import Delivery
from embargo.selectors import deliveries_of_user
from leaks.selectors import LEAK_ORGANIZATION_STATUSES


@dataclass(frozen=True)
class HeaderLinks:
    notices: bool = False
    vouch_requests: bool = False
    leak_reports: bool = False


NONE = HeaderLinks()


def header_links_of(user) -> HeaderLinks:
    """Which member links `user` gets, mirroring the pages' own rules:

    - Leak reports: a person of a member or suspended organisation (leak_access_of
      considers those only); the page then lists the reports or says what they lack.
    - Notices: the same people, who receive notices or are told why not; and anyone who
      was sent a copy (my_notices lists their own sent copies, whatever became of the
      organisation since).
    - Vouch requests: a person of a member organisation, whom an applicant may ask
      (voucher_membership allows any of them, not only admins); and anyone already
      asked (the page lists requests addressed to them).

    Staff get none: their pages are in the staff bar."""
    if not user.is_authenticated or user.is_staff:
        return NONE
    memberships = TeamMember.objects.filter(user=user)
    row = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .values(
            in_leak_organization=Exists(
                memberships.filter(organization__status__in=LEAK_ORGANIZATION_STATUSES)
            ),
            in_member_organization=Exists(
                memberships.filter(organization__status=Organization.Status.MEMBER)
            ),
            was_sent_notices=Exists(deliveries_of_user(user).filter(state=Delivery.State.SENT)),
            was_asked_to_vouch=Exists(vouches_addressed_to(user)),
        )
        .first()
    )
    if row is None:
        return NONE
    return HeaderLinks(
        notices=row["in_leak_organization"] or row["was_sent_notices"],
        vouch_requests=row["in_member_organization"] or row["was_asked_to_vouch"],
        leak_reports=row["in_leak_organization"],
    )


def header_links(request) -> dict:
    """`header_links` for base.html; nothing is read until the template looks."""
    return {"header_links": SimpleLazyObject(lambda: header_links_of(request.user))}
