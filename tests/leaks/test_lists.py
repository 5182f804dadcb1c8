"""Leak reports, the security team's list and a member's: pages, state filter, search,
flat query counts."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from core import lists
from devsupport.list_rows import leaks_add
from leaks.models import LeakReport
from tests.factories import (
    MemberOrganizationFactory,
    TeamMemberFactory,
    VulnerabilityFactory,
    make_eligible,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(staff_reviewer):
    organization = MemberOrganizationFactory(name="Acme Leaks", slug="acme-leaks")
    owner = make_eligible(TeamMemberFactory(organization=organization, is_admin=True)).user
    return organization, owner, VulnerabilityFactory(created_by=staff_reviewer)


def _reports(response, staff=True) -> set[bytes]:
    assert response.status_code == 200
    prefix = rb"/staff/leaks/" if staff else rb"/leaks/"
    return set(re.findall(rb'href="' + prefix + rb'(\d+)/"', response.content))


def test_the_staff_leak_list_is_paginated_filtered_and_searched(
    mfa_client, staff_reviewer, acme, monkeypatch
):
    monkeypatch.setattr(lists, "PAGE_SIZE", 2)
    organization, _, case = acme
    reports = leaks_add(organization=organization, case=case, n=3, reported_by=staff_reviewer)
    LeakReport.objects.filter(pk=reports[0].pk).update(state=LeakReport.State.DISMISSED)
    other = MemberOrganizationFactory(name="Other Leaks")
    leaks_add(organization=other, case=case, n=1, reported_by=staff_reviewer)
    staff = mfa_client(staff_reviewer)
    url = reverse("leaks:staff_leak_dashboard")
    first = staff.get(url)
    assert len(_reports(first)) == 2 and b"Urgent" in first.content
    assert b"<strong>3</strong> reports wait for a decision" in first.content
    assert len(_reports(staff.get(url, {"page": "2"}))) == 2
    assert _reports(staff.get(url, {"state": "dismissed"})) == {str(reports[0].pk).encode()}
    assert len(_reports(staff.get(url, {"q": "other leaks"}))) == 1
    assert len(_reports(staff.get(url, {"state": "nonsense", "page": "2"}))) == 2


def test_the_staff_leak_list_query_count_is_flat_from_10_to_100(
    mfa_client, staff_reviewer, acme, django_assert_max_num_queries
):
    organization, _, case = acme
    staff = mfa_client(staff_reviewer)
    url = reverse("leaks:staff_leak_dashboard")
    leaks_add(organization=organization, case=case, n=10, reported_by=staff_reviewer)
    with django_assert_max_num_queries(20) as ten:
        staff.get(url)
    leaks_add(organization=organization, case=case, n=90, reported_by=staff_reviewer)
    with django_assert_max_num_queries(len(ten.captured_queries)):
        assert len(_reports(staff.get(url))) == lists.PAGE_SIZE


def test_a_members_leak_list_is_paginated_filtered_and_only_their_own(
    mfa_client, staff_reviewer, acme, monkeypatch
):
    monkeypatch.setattr(lists, "PAGE_SIZE", 2)
    organization, owner, case = acme
    reports = leaks_add(organization=organization, case=case, n=3, reported_by=staff_reviewer)
    LeakReport.objects.filter(pk=reports[2].pk).update(state=LeakReport.State.CONFIRMED)
    leaks_add(organization=MemberOrganizationFactory(), case=case, n=2, reported_by=staff_reviewer)
    member = mfa_client(owner)
    url = reverse("leaks:leak_list")
    seen = _reports(member.get(url), staff=False) | _reports(
        member.get(url, {"page": "2"}), staff=False
    )
    assert seen == {str(report.pk).encode() for report in reports}
    confirmed = member.get(url, {"state": "confirmed"})
    assert _reports(confirmed, staff=False) == {str(reports[2].pk).encode()}


def test_a_members_leak_list_query_count_is_flat_from_10_to_100(
    mfa_client, staff_reviewer, acme, django_assert_max_num_queries
):
    organization, owner, case = acme
    member = mfa_client(owner)
    url = reverse("leaks:leak_list")
    leaks_add(organization=organization, case=case, n=10, reported_by=staff_reviewer)
    # The person's eligibility is read once (policy, memberships, keys), not once per
    # list on the page: it was 28 queries when each selector worked it out again. One of
    # the 12 is the header's member links (ops.context_processors).
    with django_assert_max_num_queries(12) as ten:
        member.get(url)
    leaks_add(organization=organization, case=case, n=90, reported_by=staff_reviewer)
    with django_assert_max_num_queries(len(ten.captured_queries)):
        assert len(_reports(member.get(url), staff=False)) == lists.PAGE_SIZE
