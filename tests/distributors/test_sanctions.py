"""Suspension, removal and reinstatement in distributors: sessions end, the decision is
stated on sign-in, and a removed organisation's people and domains cannot apply again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from distributors.models import BlockedIdentity, Organization
from distributors.services import (
    organization_apply,
    organization_reinstate,
    organization_remove,
    organization_suspend,
)
from distributors.services.sanctions import REMOVED_REFUSAL, sessions_end_for_users
from tests.factories import PASSWORD, MemberOrganizationFactory, TeamMemberFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    return MemberOrganizationFactory(name="Acme Sanctioned", website="https://acme-linux.test")


def _person(organization, email, **extra):
    return TeamMemberFactory(organization=organization, user__email=email, **extra).user


def test_suspending_ends_every_session_of_the_organisations_people_only(
    client, acme, staff_reviewer, django_capture_on_commit_callbacks
):
    person = _person(acme, "ada@acme-linux.test")
    bystander = TeamMemberFactory(organization=MemberOrganizationFactory()).user
    for user in (person, bystander):
        client.force_login(user)
        client.cookies.clear()
    assert Session.objects.count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        organization_suspend(organization=acme, actor=staff_reviewer, reason="Under review.")
    remaining = [s.get_decoded().get("_auth_user_id") for s in Session.objects.all()]
    assert remaining == [str(bystander.pk)]


def test_sessions_end_for_nobody_when_no_user_is_given():
    assert sessions_end_for_users(user_ids=[]) == 0


def test_a_suspended_person_sees_the_decision_when_signing_in_again(client, acme, staff_reviewer):
    person = _person(acme, "ada@acme-linux.test")
    until = timezone.now() + timedelta(days=10)
    organization_suspend(organization=acme, actor=staff_reviewer, reason="A leak.", until=until)
    response = client.post(reverse("account_login"), {"login": person.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("distributors:standing")
    page = client.get(reverse("distributors:standing"))
    assert b"suspended" in page.content and b"A leak." in page.content


def test_the_standing_page_is_private_and_plain(client, acme, staff_reviewer):
    assert client.get(reverse("distributors:standing")).status_code == 302
    person = _person(acme, "ada@acme-linux.test")
    client.force_login(person)
    assert b"good standing" in client.get(reverse("distributors:standing")).content
    organization_remove(organization=acme, actor=staff_reviewer, reason="Repeated leaks.")
    page = client.get(reverse("distributors:standing"))
    assert b"permanently removed" in page.content and b"Repeated leaks." in page.content


def test_removal_blocks_domains_and_addresses_but_not_shared_mail_providers(acme, staff_reviewer):
    _person(acme, "ada@acme-linux.test")
    gmail_person = _person(acme, "someone@gmail.com")
    organization_remove(organization=acme, actor=staff_reviewer, reason="Repeated leaks.")
    domains = set(BlockedIdentity.objects.filter(kind="domain").values_list("value", flat=True))
    emails = set(BlockedIdentity.objects.filter(kind="email").values_list("value", flat=True))
    assert domains == {"acme-linux.test"}
    assert {"ada@acme-linux.test", "someone@gmail.com"} <= emails
    # Another gmail user is not refused; the removed one is.
    organization_apply(
        actor=UserFactory(email="stranger@gmail.com"), name="Stranger", website="https://s.test"
    )
    # Even after leaving the removed organisation's team, the address stays blocked.
    gmail_person.memberships.all().delete()
    with pytest.raises(ValidationError) as error:
        organization_apply(actor=gmail_person, name="Other", website="https://o.test")
    assert REMOVED_REFUSAL in error.value.messages


def test_suspension_and_removal_need_staff_a_reason_and_the_right_state(acme, org_admin):
    staff = UserFactory(is_staff=True)
    events = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):
        organization_suspend(organization=acme, actor=org_admin, reason="x")
    with pytest.raises(ValidationError):
        organization_suspend(organization=acme, actor=staff, reason="  ")
    with pytest.raises(ValidationError):
        organization_suspend(
            organization=acme, actor=staff, reason="x", until=timezone.now() - timedelta(days=1)
        )
    with pytest.raises(ValidationError):
        organization_reinstate(organization=acme, actor=staff, reason="Not suspended.")
    applicant = Organization.objects.get(people__user=org_admin)
    with pytest.raises(ValidationError):
        organization_suspend(organization=applicant, actor=staff, reason="Not a member.")
    assert AuditEvent.objects.count() == events
    acme.refresh_from_db()
    assert acme.status == Organization.Status.MEMBER


def test_reinstating_a_suspension_restores_membership_and_records_it(acme):
    staff = UserFactory(is_staff=True)
    organization_suspend(organization=acme, actor=staff, reason="Pause.")
    organization_reinstate(organization=acme, actor=staff, reason="Resolved.")
    acme.refresh_from_db()
    assert acme.status == Organization.Status.MEMBER and acme.suspended_until is None
    actions = list(AuditEvent.objects.filter(organization=acme).values_list("action", flat=True))
    assert actions[-2:] == ["organization.suspended", "organization.reinstated"]
    organization_remove(organization=acme, actor=staff, reason="Later removed.")
    with pytest.raises(ValidationError):
        organization_reinstate(organization=acme, actor=staff, reason="No way back.")
