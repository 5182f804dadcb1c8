"""Team services: invitations and the admins' changes, with the last-admin rule."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from core.models import AuditEvent
from distributors.models import Invitation, Organization, TeamMember
from distributors.services.reminders import policy_reminder_recipients, policy_reminders_send
from distributors.services.team import (
    invitation_accept,
    invitation_create,
    invitation_revoke,
    invitation_send,
    team_member_remove,
    team_member_update,
)
from tests.factories import (
    InvitationFactory,
    MemberOrganizationFactory,
    OrganizationFactory,
    PolicyAcceptanceFactory,
    TeamMemberFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

LINK = re.compile(r"/invitations/([A-Za-z0-9_\-]+)/")


@pytest.fixture
def admin_member():
    return TeamMemberFactory(organization=MemberOrganizationFactory(), is_admin=True)


def _invite(**kwargs):
    token = secrets.token_urlsafe(32)
    return InvitationFactory(token=token, **kwargs), token


def _token_from_mail(message) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1)


def _snapshot():
    return (
        AuditEvent.objects.count(),
        Invitation.objects.count(),
        list(TeamMember.objects.values_list("pk", "is_admin", "is_need_to_know").order_by("pk")),
    )


# --- invitation_create / invitation_send ---------------------------------------------------


def test_an_admin_invites_by_email_and_only_the_token_hash_is_stored(
    admin_member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invitation_create(
            actor=admin_member.user,
            organization=admin_member.organization,
            email="New.Person@Example.org",
            is_admin=False,
            is_need_to_know=True,
        )

    invitation.refresh_from_db()
    assert invitation.email == "New.Person@Example.org"
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    [message] = mail.outbox
    assert message.to == ["New.Person@Example.org"]
    token = _token_from_mail(message)
    assert len(token) >= 40
    assert invitation.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(list(Invitation.objects.values()))
    assert token not in str(list(AuditEvent.objects.values()))
    event = AuditEvent.objects.get(action="invitation.created")
    assert event.organization == admin_member.organization
    assert event.actor == admin_member.user


def test_the_invitation_mail_names_the_team_and_the_admin_who_sent_it(admin_member):
    invitation, _token = _invite(organization=admin_member.organization)
    invitation_send(invitation_id=invitation.pk)
    [message] = mail.outbox
    assert admin_member.organization.name in message.subject
    assert f"{invitation.invited_by.email}, an admin of {admin_member.organization.name}" in (
        " ".join(message.body.split())
    )


def test_sending_again_mints_a_new_link_and_the_old_one_stops_working(admin_member):
    invitation, _token = _invite(organization=admin_member.organization)
    invitation_send(invitation_id=invitation.pk)
    invitation_send(invitation_id=invitation.pk)
    first, second = (_token_from_mail(m) for m in mail.outbox)
    assert first != second
    user = UserFactory(email=invitation.email)

    with pytest.raises(ValidationError, match="not valid"):
        invitation_accept(token=first, user=user)
    assert invitation_accept(token=second, user=user).organization == admin_member.organization


def test_a_revoked_invitation_is_not_mailed(admin_member):
    invitation, _token = _invite(organization=admin_member.organization, revoked_at=timezone.now())
    assert invitation_send(invitation_id=invitation.pk) == 0
    assert mail.outbox == []


def test_a_person_who_is_not_an_admin_cannot_invite(admin_member):
    plain = TeamMemberFactory(organization=admin_member.organization)
    before = _snapshot()

    with pytest.raises(PermissionDenied):
        invitation_create(
            actor=plain.user, organization=admin_member.organization, email="x@example.org"
        )

    assert _snapshot() == before


def test_an_admin_of_another_organisation_cannot_invite(admin_member, outsider):
    before = _snapshot()
    with pytest.raises(PermissionDenied):
        invitation_create(
            actor=outsider, organization=admin_member.organization, email="x@example.org"
        )
    assert _snapshot() == before


def test_an_organisation_that_is_not_a_member_cannot_invite():
    admin = TeamMemberFactory(organization=OrganizationFactory(), is_admin=True)
    before = _snapshot()

    with pytest.raises(ValidationError, match="member organisation"):
        invitation_create(actor=admin.user, organization=admin.organization, email="x@example.org")

    assert _snapshot() == before


@pytest.mark.parametrize("email", ["", "not-an-address", "a@" + "b" * 260 + ".org"])
def test_an_invalid_address_is_refused(admin_member, email):
    before = _snapshot()
    with pytest.raises(ValidationError) as error:
        invitation_create(
            actor=admin_member.user, organization=admin_member.organization, email=email
        )
    assert "email" in error.value.message_dict
    assert _snapshot() == before


def test_a_second_pending_invitation_for_the_same_address_is_refused(admin_member):
    InvitationFactory(organization=admin_member.organization, email="dup@example.org")
    before = _snapshot()
    with pytest.raises(ValidationError, match="pending invitation"):
        invitation_create(
            actor=admin_member.user, organization=admin_member.organization, email="DUP@example.org"
        )
    assert _snapshot() == before


def test_inviting_someone_already_in_the_team_is_refused(admin_member):
    existing = TeamMemberFactory(organization=admin_member.organization)
    with pytest.raises(ValidationError, match="already in this team"):
        invitation_create(
            actor=admin_member.user,
            organization=admin_member.organization,
            email=existing.user.email.upper(),
        )


# --- invitation_accept -------------------------------------------------------------------


def test_the_invited_person_joins_with_the_invited_roles():
    invitation, token = _invite(email="Joiner@Example.org", is_admin=True, is_need_to_know=False)
    user = UserFactory(email="joiner@example.org")

    member = invitation_accept(token=token, user=user)

    assert member.organization == invitation.organization
    assert member.is_admin and not member.is_need_to_know
    invitation.refresh_from_db()
    assert invitation.accepted_by == user
    assert invitation.accepted_at is not None
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"invitation.accepted", "team_member.added"} <= actions


def test_a_different_account_is_refused_and_the_invitation_stays_usable():
    invitation, token = _invite(email="right@example.org")
    wrong = UserFactory(email="wrong@example.org")
    before = _snapshot()

    with pytest.raises(ValidationError, match="different email address"):
        invitation_accept(token=token, user=wrong)

    assert _snapshot() == before
    invitation.refresh_from_db()
    assert invitation.accepted_at is None
    right = UserFactory(email="right@example.org")
    assert invitation_accept(token=token, user=right).user == right


def test_an_unverified_address_is_not_enough():
    _invitation, token = _invite(email="unverified@example.org")
    user = UserFactory(email="unverified@example.org")
    EmailAddress.objects.filter(user=user).update(verified=False)
    before = _snapshot()

    with pytest.raises(ValidationError, match="different email address"):
        invitation_accept(token=token, user=user)

    assert _snapshot() == before


def test_a_verified_secondary_address_is_accepted():
    _invitation, token = _invite(email="work@example.org")
    user = UserFactory(email="home@example.org")
    EmailAddress.objects.create(user=user, email="work@example.org", verified=True, primary=False)

    assert invitation_accept(token=token, user=user).user == user


def test_a_link_works_only_once():
    _invitation, token = _invite(email="once@example.org")
    user = UserFactory(email="once@example.org")
    invitation_accept(token=token, user=user)
    before = _snapshot()

    with pytest.raises(ValidationError, match="already been used"):
        invitation_accept(token=token, user=user)

    assert _snapshot() == before


def test_an_expired_link_is_refused():
    _invitation, token = _invite(
        email="late@example.org", created_at=timezone.now() - timedelta(days=8)
    )
    user = UserFactory(email="late@example.org")
    before = _snapshot()

    with pytest.raises(ValidationError, match="expired"):
        invitation_accept(token=token, user=user)

    assert _snapshot() == before


def test_a_revoked_link_is_refused():
    _invitation, token = _invite(email="gone@example.org", revoked_at=timezone.now())
    user = UserFactory(email="gone@example.org")
    with pytest.raises(ValidationError, match="withdrawn"):
        invitation_accept(token=token, user=user)
    assert not TeamMember.objects.filter(user=user).exists()


def test_an_unknown_token_is_refused():
    user = UserFactory()
    with pytest.raises(ValidationError, match="not valid"):
        invitation_accept(token="no-such-token", user=user)


def test_a_link_of_an_organisation_no_longer_member_is_refused():
    invitation, token = _invite(email="sus@example.org")
    Organization.objects.filter(pk=invitation.organization_id).update(
        status=Organization.Status.SUSPENDED
    )
    user = UserFactory(email="sus@example.org")
    with pytest.raises(ValidationError, match="not a member"):
        invitation_accept(token=token, user=user)


# --- invitation_revoke -------------------------------------------------------------------


def test_an_admin_revokes_a_pending_invitation(admin_member):
    invitation, _token = _invite(organization=admin_member.organization)

    invitation_revoke(actor=admin_member.user, invitation=invitation)

    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    assert AuditEvent.objects.filter(action="invitation.revoked").count() == 1


def test_a_non_admin_cannot_revoke(admin_member):
    invitation, _token = _invite(organization=admin_member.organization)
    plain = TeamMemberFactory(organization=admin_member.organization)
    before = _snapshot()
    with pytest.raises(PermissionDenied):
        invitation_revoke(actor=plain.user, invitation=invitation)
    assert _snapshot() == before


def test_an_accepted_invitation_cannot_be_revoked(admin_member):
    invitation, _token = _invite(organization=admin_member.organization, accepted_at=timezone.now())
    with pytest.raises(ValidationError, match="already accepted"):
        invitation_revoke(actor=admin_member.user, invitation=invitation)


# --- team_member_update / team_member_remove ----------------------------------------------


def test_an_admin_marks_a_person_need_to_know_and_admin(admin_member):
    person = TeamMemberFactory(organization=admin_member.organization)

    team_member_update(actor=admin_member.user, member=person, is_need_to_know=True, is_admin=True)

    person.refresh_from_db()
    assert person.is_need_to_know and person.is_admin
    event = AuditEvent.objects.get(action="team_member.updated")
    assert event.data == {"is_admin": [False, True], "is_need_to_know": [False, True]}


def test_an_update_that_changes_nothing_writes_no_event(admin_member):
    person = TeamMemberFactory(organization=admin_member.organization)
    team_member_update(actor=admin_member.user, member=person, is_need_to_know=False)
    assert not AuditEvent.objects.filter(action="team_member.updated").exists()


def test_the_last_admin_cannot_be_demoted(admin_member):
    before = _snapshot()
    with pytest.raises(ValidationError, match="last admin"):
        team_member_update(actor=admin_member.user, member=admin_member, is_admin=False)
    assert _snapshot() == before


def test_an_admin_can_step_down_when_another_admin_remains(admin_member):
    TeamMemberFactory(organization=admin_member.organization, is_admin=True)
    team_member_update(actor=admin_member.user, member=admin_member, is_admin=False)
    admin_member.refresh_from_db()
    assert not admin_member.is_admin


def test_a_non_admin_cannot_change_roles(admin_member):
    plain = TeamMemberFactory(organization=admin_member.organization)
    before = _snapshot()
    with pytest.raises(PermissionDenied):
        team_member_update(actor=plain.user, member=plain, is_admin=True)
    assert _snapshot() == before


def test_an_admin_removes_a_person(admin_member):
    person = TeamMemberFactory(organization=admin_member.organization)

    team_member_remove(actor=admin_member.user, member=person)

    assert not TeamMember.objects.filter(pk=person.pk).exists()
    event = AuditEvent.objects.get(action="team_member.removed")
    assert event.organization == admin_member.organization
    assert event.data["email"] == person.user.email


def test_the_last_admin_cannot_be_removed(admin_member):
    TeamMemberFactory(organization=admin_member.organization)
    before = _snapshot()
    with pytest.raises(ValidationError, match="last admin"):
        team_member_remove(actor=admin_member.user, member=admin_member)
    assert _snapshot() == before


def test_an_admin_of_another_organisation_cannot_remove_anyone(admin_member, outsider):
    before = _snapshot()
    with pytest.raises(PermissionDenied):
        team_member_remove(actor=outsider, member=admin_member)
    assert _snapshot() == before


# --- policy reminders -------------------------------------------------------------------------


def test_people_who_have_not_accepted_the_policy_are_reminded_at_most_weekly(
    django_capture_on_commit_callbacks,
):
    member_org = MemberOrganizationFactory()
    pending = TeamMemberFactory(organization=member_org)
    accepted = TeamMemberFactory(organization=member_org)
    PolicyAcceptanceFactory(user=accepted.user)
    TeamMemberFactory(organization=OrganizationFactory())  # applicant: not yet concerned
    TeamMemberFactory(organization=OrganizationFactory(status=Organization.Status.SUSPENDED))
    inactive = TeamMemberFactory(organization=member_org)
    inactive.user.is_active = False
    inactive.user.save(update_fields=["is_active"])
    now = timezone.now()

    def remind(at):
        with django_capture_on_commit_callbacks(execute=True):
            return policy_reminders_send(now=at)

    assert remind(now) == 1
    assert [m.to for m in mail.outbox] == [[pending.user.email]]
    assert "/me/" in mail.outbox[0].body
    assert AuditEvent.objects.filter(
        action="policy.reminder_sent", target_id=str(pending.user.pk)
    ).exists()

    # The rate limit reads the audit log, whose events carry the real clock.
    assert remind(timezone.now() + timedelta(days=6)) == 0
    assert remind(timezone.now() + timedelta(days=7, minutes=1)) == 1
    assert len(mail.outbox) == 2


def test_accepting_the_policy_stops_the_reminders():
    person = TeamMemberFactory(organization=MemberOrganizationFactory())
    assert policy_reminder_recipients() == [person.user]
    PolicyAcceptanceFactory(user=person.user)
    assert policy_reminder_recipients() == []
