"""The review queue, the organisations and a team: pages, search, filters, flat query
counts; and the member list as CSV (staff only)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.urls import reverse

from core import lists
from devsupport.list_rows import applications_add, organizations_add, team_add
from distributors.models import Organization
from tests.factories import MemberOrganizationFactory, StaffFactory, TeamMemberFactory

pytestmark = pytest.mark.django_db
ORG_NAME = re.compile(rb"Rows \d+ distro \d{4}")
EMAIL = re.compile(rb"team\d+-\d+-\d+@rows\.example\.org")


def _names(response) -> set[bytes]:
    assert response.status_code == 200
    return set(ORG_NAME.findall(response.content))


@pytest.fixture
def staff(mfa_client, staff_reviewer):
    return mfa_client(staff_reviewer)


# --- the review queue --------------------------------------------------------------------


def test_the_review_queue_is_paginated(staff, staff_reviewer, monkeypatch):
    monkeypatch.setattr(lists, "PAGE_SIZE", 2)
    applications_add(n=5, created_by=staff_reviewer)
    url = reverse("distributors:review_queue")
    first, third = staff.get(url), staff.get(url, {"page": "3"})
    assert len(_names(first)) == 2 and len(_names(third)) == 1
    assert b"Page 1 of 3" in first.content and b"?page=2" in first.content
    assert len(_names(staff.get(url, {"page": "nonsense"}))) == 2


def test_the_review_queue_searches_by_organisation_and_keeps_the_filter_in_page_links(
    staff, staff_reviewer, monkeypatch
):
    monkeypatch.setattr(lists, "PAGE_SIZE", 2)
    applications = applications_add(n=4, created_by=staff_reviewer)
    url = reverse("distributors:review_queue")
    wanted = applications[2].organization.name
    assert _names(staff.get(url, {"q": wanted.lower()})) == {wanted.encode()}
    response = staff.get(url, {"state": "submitted"})
    assert b"?state=submitted&amp;page=2" in response.content
    assert _names(staff.get(url, {"state": "in_review"})) == set()


def test_the_review_queue_query_count_is_flat_from_10_to_100(
    staff, staff_reviewer, django_assert_max_num_queries
):
    url = reverse("distributors:review_queue")
    applications_add(n=10, created_by=staff_reviewer)
    with django_assert_max_num_queries(20) as ten:
        staff.get(url)
    applications_add(n=90, created_by=staff_reviewer)
    with django_assert_max_num_queries(len(ten.captured_queries)):
        assert len(_names(staff.get(url))) == lists.PAGE_SIZE


# --- the organisations ------------------------------------------------------------------


def test_the_organisations_are_paginated_searched_and_filtered(staff, monkeypatch):
    monkeypatch.setattr(lists, "PAGE_SIZE", 2)
    members = organizations_add(n=3)
    suspended = organizations_add(n=1, status=Organization.Status.SUSPENDED)
    url = reverse("distributors:staff_organizations")
    assert len(_names(staff.get(url))) == 2
    assert len(_names(staff.get(url, {"page": "2"}))) == 2
    assert _names(staff.get(url, {"status": "suspended"})) == {suspended[0].name.encode()}
    assert _names(staff.get(url, {"q": members[0].name})) == {members[0].name.encode()}
    # A status that does not exist is ignored, not an error.
    assert len(_names(staff.get(url, {"status": "bogus", "page": "2"}))) == 2


def test_the_organisations_query_count_is_flat_from_10_to_100(staff, django_assert_max_num_queries):
    url = reverse("distributors:staff_organizations")
    organizations_add(n=10)
    with django_assert_max_num_queries(20) as ten:
        staff.get(url)
    organizations_add(n=90)
    with django_assert_max_num_queries(len(ten.captured_queries)):
        assert len(_names(staff.get(url))) == lists.PAGE_SIZE


# --- a team ------------------------------------------------------------------------------


@pytest.fixture
def admin_team():
    organization = MemberOrganizationFactory(name="Acme Lists", slug="acme-lists")
    admin = TeamMemberFactory(organization=organization, is_admin=True)
    return organization, admin


def test_a_team_is_paginated_and_searched_by_address(client, admin_team, monkeypatch):
    monkeypatch.setattr(lists, "PAGE_SIZE", 2)
    organization, admin = admin_team
    people = team_add(organization=organization, n=4)
    client.force_login(admin.user)
    url = reverse("distributors:team", kwargs={"slug": organization.slug})

    def table(params) -> bytes:
        # The team table only: the vouching form below it offers the whole team.
        return client.get(url, params).content.split(b'id="vouch-listing-title"')[0]

    pages = [set(EMAIL.findall(table({"page": n}))) for n in (1, 2, 3)]
    assert [len(page) for page in pages] == [1, 2, 1]  # the admin is on page 1
    wanted = people[3].user.email
    assert set(EMAIL.findall(table({"q": wanted}))) == {wanted.encode()}
    admins = table({"role": "admin"})
    assert admin.user.email.encode() in admins and not EMAIL.findall(admins)


def test_a_team_admin_on_another_page_still_gets_the_actions(client, admin_team, monkeypatch):
    monkeypatch.setattr(lists, "PAGE_SIZE", 1)
    organization, admin = admin_team
    team_add(organization=organization, n=2)
    client.force_login(admin.user)
    url = reverse("distributors:team", kwargs={"slug": organization.slug})
    response = client.get(url, {"role": "need_to_know"})
    assert response.status_code == 200
    assert b"Save roles" in response.content


def test_a_team_query_count_is_flat_from_10_to_100(
    client, admin_team, django_assert_max_num_queries
):
    organization, admin = admin_team
    client.force_login(admin.user)
    url = reverse("distributors:team", kwargs={"slug": organization.slug})
    team_add(organization=organization, n=10)
    with django_assert_max_num_queries(25) as ten:
        client.get(url)
    team_add(organization=organization, n=90)
    with django_assert_max_num_queries(len(ten.captured_queries)):
        response = client.get(url)
    assert len(EMAIL.findall(response.content)) >= lists.PAGE_SIZE - 1


def test_another_organisation_cannot_list_a_team(client, admin_team, outsider):
    organization, _ = admin_team
    client.force_login(outsider)
    response = client.get(reverse("distributors:team", kwargs={"slug": organization.slug}))
    assert response.status_code == 404


# --- the member list as CSV -------------------------------------------------------------


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_member_list_csv_is_for_staff_only(client, mfa_client, admin_team, outsider):
    url = reverse("distributors:staff_members_csv")
    assert reverse("account_login") in client.get(url)["Location"]
    for user in (admin_team[1].user, outsider, StaffFactory()):
        client.force_login(user)
        # Staff without a second factor are sent to set one up, like every staff page.
        assert client.get(url).status_code in (404, 302)
        assert not hasattr(client.get(url), "streaming_content")


def test_the_member_list_csv_lists_members_with_their_counts(staff, admin_team):
    organization, _ = admin_team
    team_add(organization=organization, n=3)
    team_add(organization=organization, n=2, need_to_know=False)
    organizations_add(n=1, status=Organization.Status.APPLICANT)
    hostile = MemberOrganizationFactory(name="=cmd|' /C calc'!A0", slug="hostile")
    response = staff.get(reverse("distributors:staff_members_csv"))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="members.csv"'
    assert "no-store" in response["Cache-Control"]
    rows = _csv(response)
    assert rows[0] == ["organisation", "slug", "website", "member_since", "people", "need_to_know"]
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["Acme Lists"][4:] == ["6", "3"]
    assert by_name["'" + hostile.name][1] == "hostile"
    assert all(not row[0].startswith("Rows") for row in rows[1:])  # not the applicant
