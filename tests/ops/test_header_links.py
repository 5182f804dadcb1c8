"""The header's member links: each only for whom its page is, and for one query at most."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from distributors.models import Organization
from embargo.models import Delivery
from ops.context_processors import HeaderLinks, header_links_of
from tests.factories import (
    ApplicationFactory,
    DeliveryFactory,
    MemberOrganizationFactory,
    OrganizationFactory,
    StaffFactory,
    TeamMemberFactory,
    UserFactory,
    VouchFactory,
    make_eligible,
)

pytestmark = pytest.mark.django_db

LINKS = {
    "Notices": reverse("embargo:my_notices"),
    "Vouch requests": reverse("distributors:vouch_list"),
    "Leak reports": reverse("leaks:leak_list"),
}
# Only the header's own query names this column.
HEADER_QUERY_MARK = "was_asked_to_vouch"


def header(client, user=None) -> str:
    """The account navigation of the home page, as `user` sees it."""
    if user is not None:
        client.force_login(user)
    text = client.get(reverse("home")).content.decode()
    start = text.index('<nav aria-label="Your account">')
    return text[start : text.index("</nav>", start)]


def links_in(nav: str) -> set[str]:
    return {label for label, url in LINKS.items() if f'href="{url}">{label}</a>' in nav}


def test_an_anonymous_visitor_gets_no_member_link(client):
    assert links_in(header(client)) == set()


def test_a_person_without_an_organisation_gets_no_member_link(client):
    assert links_in(header(client, UserFactory())) == set()


def test_an_applicant_gets_no_member_link(client):
    application = ApplicationFactory()
    assert application.organization.status == Organization.Status.APPLICANT
    assert links_in(header(client, application.created_by)) == set()


def test_a_need_to_know_person_of_a_member_gets_all_three(client):
    person = make_eligible(TeamMemberFactory(organization=MemberOrganizationFactory())).user
    assert links_in(header(client, person)) == set(LINKS)


def test_a_member_admin_gets_all_three(client):
    admin = TeamMemberFactory(organization=MemberOrganizationFactory(), is_admin=True).user
    assert links_in(header(client, admin)) == set(LINKS)


def test_staff_get_none_of_the_member_links_in_their_account_menu(client):
    # Even one who is also in a member organisation: the staff bar has their pages.
    staff = TeamMemberFactory(organization=MemberOrganizationFactory(), user=StaffFactory()).user
    assert links_in(header(client, staff)) == set()


def test_a_suspended_organisations_people_keep_notices_and_leaks_but_cannot_be_asked(client):
    # A suspended member is not a voucher (voucher_membership), but still answers for
    # its leaks and reads the notices it was sent.
    organization = OrganizationFactory(status=Organization.Status.SUSPENDED)
    person = TeamMemberFactory(organization=organization).user
    assert header_links_of(person) == HeaderLinks(
        notices=True, vouch_requests=False, leak_reports=True
    )


def test_a_removed_organisations_person_keeps_the_notices_they_were_sent_and_vouches_asked(
    client,
):
    organization = OrganizationFactory(status=Organization.Status.REMOVED)
    person = TeamMemberFactory(organization=organization).user
    assert header_links_of(person) == HeaderLinks()
    DeliveryFactory(user=person, organization=organization, state=Delivery.State.SENT)
    VouchFactory(voucher=person, voucher_organization=organization)
    assert header_links_of(person) == HeaderLinks(
        notices=True, vouch_requests=True, leak_reports=False
    )


def test_a_copy_not_sent_does_not_open_the_notices_link(client):
    organization = OrganizationFactory(status=Organization.Status.REMOVED)
    person = TeamMemberFactory(organization=organization).user
    DeliveryFactory(user=person, organization=organization, state=Delivery.State.WITHHELD)
    assert header_links_of(person).notices is False


def test_the_links_are_worked_out_in_one_query():
    person = make_eligible(TeamMemberFactory(organization=MemberOrganizationFactory())).user
    with CaptureQueriesContext(connection) as queries:
        header_links_of(person)
    assert len(queries) == 1


@pytest.mark.parametrize("who", ["member", "applicant", "staff", "anonymous"])
def test_a_page_runs_the_header_query_at_most_once_and_never_for_anonymous_or_staff(client, who):
    user = {
        "member": lambda: TeamMemberFactory(organization=MemberOrganizationFactory()).user,
        "applicant": lambda: ApplicationFactory().created_by,
        "staff": StaffFactory,
        "anonymous": lambda: None,
    }[who]()
    if user is not None:
        client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("home"))
    assert response.status_code == 200
    runs = [q for q in queries.captured_queries if HEADER_QUERY_MARK in q["sql"]]
    assert len(runs) == (1 if who in ("member", "applicant") else 0)
