"""A member admin's home: whether the organisation is on the list, and a request to vouch
addressed to them leading straight to where they answer it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from distributors.models import Organization, Vouch
from tests.factories import (
    MemberOrganizationFactory,
    TeamMemberFactory,
    VouchFactory,
    make_eligible,
)

pytestmark = pytest.mark.django_db


def home(client, user) -> str:
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def member_org():
    return MemberOrganizationFactory(
        name="Walrus Linux", member_since=datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    )


@pytest.fixture
def member_admin(member_org):
    return make_eligible(TeamMemberFactory(organization=member_org, is_admin=True)).user


def test_the_home_says_the_organisation_is_a_member_and_since_when(client, member_admin):
    assert "Walrus Linux is a member of the list since 2026-03-02." in home(client, member_admin)


def test_the_home_says_a_suspended_organisation_is_suspended(client, member_org, member_admin):
    Organization.objects.filter(pk=member_org.pk).update(
        status=Organization.Status.SUSPENDED,
        status_changed_at=datetime(2026, 5, 1, tzinfo=UTC),
    )
    text = home(client, member_admin)
    assert "Walrus Linux is suspended from the list since 2026-05-01." in text
    assert "is a member of the list" not in text


def test_a_request_to_the_admin_links_to_its_answer_page_and_a_colleagues_does_not(
    client, member_org, member_admin
):
    mine = VouchFactory(
        voucher=member_admin,
        voucher_organization=member_org,
        state=Vouch.State.REQUESTED,
        application__organization__name="Seal OS",
    )
    colleague = TeamMemberFactory(organization=member_org, user__email="colleague@example.org")
    theirs = VouchFactory(
        voucher=colleague.user,
        voucher_organization=member_org,
        state=Vouch.State.REQUESTED,
        application__organization__name="Otter OS",
    )
    text = home(client, member_admin)
    mine_url = reverse("distributors:vouch_detail", args=[mine.pk])
    assert f'<a href="{mine_url}">Seal OS asked you</a>' in text
    # Only the person asked can open a request (vouches_addressed_to): no link to a 404.
    assert reverse("distributors:vouch_detail", args=[theirs.pk]) not in text
    assert "Otter OS asked colleague@example.org" in text
