"""The admin cannot change who receives notices, nor erase an organisation, and what it
may edit leaves an audit event."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.models import AuditEvent
from distributors.models import Criterion, Organization, TeamMember
from tests.conftest import enable_totp
from tests.factories import (
    MemberOrganizationFactory,
    StaffFactory,
    TeamMemberFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(mfa_client):
    superuser = StaffFactory(username="root", is_superuser=True)
    enable_totp(superuser)
    return mfa_client(superuser), superuser


def test_the_admin_cannot_add_change_or_delete_team_members(superuser_client):
    client, _ = superuser_client
    member = TeamMemberFactory(is_need_to_know=False, is_admin=False)
    stranger = UserFactory()
    before = (TeamMember.objects.count(), AuditEvent.objects.count())

    assert client.get(reverse("admin:distributors_teammember_add")).status_code == 403
    client.post(
        reverse("admin:distributors_teammember_add"),
        {
            "user": stranger.pk,
            "organization": member.organization.pk,
            "is_need_to_know": "on",
            "is_admin": "on",
        },
    )
    client.post(
        reverse("admin:distributors_teammember_change", args=[member.pk]),
        {
            "user": member.user.pk,
            "organization": member.organization.pk,
            "is_need_to_know": "on",
            "is_admin": "on",
        },
    )
    delete_url = reverse("admin:distributors_teammember_delete", args=[member.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403

    member.refresh_from_db()
    assert (member.is_need_to_know, member.is_admin) == (False, False)
    assert not TeamMember.objects.filter(user=stranger).exists()
    assert (TeamMember.objects.count(), AuditEvent.objects.count()) == before


def test_the_admin_cannot_add_or_delete_an_organisation(superuser_client):
    client, _ = superuser_client
    removed = MemberOrganizationFactory(status=Organization.Status.REMOVED)
    assert client.get(reverse("admin:distributors_organization_add")).status_code == 403
    delete_url = reverse("admin:distributors_organization_delete", args=[removed.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    removed.refresh_from_db()
    assert removed.status == Organization.Status.REMOVED


def test_editing_a_criterion_in_the_admin_is_audited(superuser_client):
    client, superuser = superuser_client
    item = Criterion.objects.get(number=2)
    response = client.post(
        reverse("admin:distributors_criterion_change", args=[item.pk]),
        {"number": 2, "title": item.title, "guidance": "Tell us who uses it.", "is_active": "on"},
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="criterion.edited_in_admin")
    assert event.actor == superuser
    assert event.target_id == str(item.pk)
    assert event.data == {"fields": ["guidance"]}


def test_editing_an_organisation_in_the_admin_is_audited(superuser_client):
    client, superuser = superuser_client
    organization = MemberOrganizationFactory(name="Orca OS", website="https://orca.example")
    change_url = reverse("admin:distributors_organization_change", args=[organization.pk])
    data = {
        "name": "Orca OS",
        "slug": organization.slug,
        "website": "https://orca-os.example",
        "people-TOTAL_FORMS": "0",
        "people-INITIAL_FORMS": "0",
        "people-MIN_NUM_FORMS": "0",
        "people-MAX_NUM_FORMS": "1000",
    }
    response = client.post(change_url, data)
    assert response.status_code == 302, response.content[:2000]
    organization.refresh_from_db()
    assert organization.website == "https://orca-os.example"
    event = AuditEvent.objects.get(action="organization.edited_in_admin")
    assert (event.actor, event.organization) == (superuser, organization)
    assert event.data == {"fields": ["website"]}
