"""Personal bars (issue 15, items 1 and 4): a removed organisation's people are barred by
account and by verified address at every door, until staff lift the bar with a reason;
a suspended organisation's people are ineligible through every other membership."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from core.models import AuditEvent
from distributors.eligibility import (
    Reason,
    audience_for_send,
    eligibility_at_send,
    eligibility_for_audience,
    eligibility_for_member,
)
from distributors.models import BlockedIdentity, Invitation, TeamMember
from distributors.services import organization_apply, organization_remove, organization_suspend
from distributors.services.bars import (
    ACCEPT_REFUSAL,
    INVITE_REFUSAL,
    person_bar_lift,
    person_barred,
)
from distributors.services.sanctions import REMOVED_REFUSAL
from distributors.services.team import invitation_accept, invitation_create
from tests.factories import (
    InvitationFactory,
    MemberOrganizationFactory,
    StaffFactory,
    TeamMemberFactory,
    UserFactory,
    make_eligible,
)

pytestmark = pytest.mark.django_db

SOON = timedelta(days=7)


@pytest.fixture
def staff():
    return StaffFactory()


@pytest.fixture
def rogue():
    return MemberOrganizationFactory(name="Rogue OS", website="https://rogue-os.test")


@pytest.fixture
def other_admin():
    return TeamMemberFactory(
        organization=MemberOrganizationFactory(name="Honest Linux"), is_admin=True
    ).user


def _person(organization, email, **extra):
    return TeamMemberFactory(organization=organization, user__email=email, **extra).user


def _invite(organization, email):
    token = secrets.token_urlsafe(32)
    return InvitationFactory(organization=organization, email=email, token=token), token


def _reasons_everywhere(member):
    """The reasons against one person from all three read paths."""
    disclosure = timezone.now() + SOON
    full = eligibility_for_member(team_member_id=member.pk, disclosure_at=disclosure).reasons
    audience = {
        item.member.pk: item.reasons
        for item in eligibility_for_audience(
            organizations=[member.organization], disclosure_at=disclosure
        )
    }[member.pk]
    at_send = {
        item.member_id: item.reasons
        for item in audience_for_send(organizations=[member.organization], disclosure_at=disclosure)
    }[member.pk]
    checked = eligibility_at_send(team_member_ids=[member.pk], disclosure_at=disclosure)
    return full, audience, at_send, checked[member.pk].reasons


# --- the bar is made by the removal ---------------------------------------------------------


def test_a_removal_bars_each_persons_account_and_verified_addresses_only(rogue, staff):
    ada = _person(rogue, "ada@rogue-os.test")
    EmailAddress.objects.create(user=ada, email="Ada@Home.test", verified=True)
    EmailAddress.objects.create(user=ada, email="ada@victim-distro.test", verified=False)

    organization_remove(organization=rogue, actor=staff, reason="Repeated leaks.")

    bars = set(BlockedIdentity.objects.filter(user=ada).values_list("kind", "value", "lifted_at"))
    assert bars == {
        ("account", str(ada.pk), None),
        ("email", "ada@rogue-os.test", None),
        ("email", "ada@home.test", None),
    }
    event = AuditEvent.objects.get(action="organization.removed")
    assert event.data["blocked"]["accounts"] == [str(ada.pk)]


def test_an_unverified_address_never_leads_to_a_domain_block(rogue, staff):
    # The reproduction: a rogue admin adds an address at another distributor's
    # domain without verifying it; the removal must not refuse that distributor.
    admin = _person(rogue, "admin@rogue-os.test", is_admin=True)
    EmailAddress.objects.create(user=admin, email="someone@victim-distro.test", verified=False)

    organization_remove(organization=rogue, actor=staff, reason="Repeated leaks.")

    domains = set(BlockedIdentity.objects.filter(kind="domain").values_list("value", flat=True))
    assert domains == {"rogue-os.test"}
    assert not BlockedIdentity.objects.filter(value__contains="victim-distro").exists()
    genuine = UserFactory(email="security@victim-distro.test")
    application = organization_apply(
        actor=genuine, name="Victim Distro", website="https://victim-distro.test"
    )
    assert application.organization.name == "Victim Distro"


def test_a_verified_address_at_a_shared_mail_domain_blocks_the_address_not_the_domain(rogue, staff):
    person = _person(rogue, "rogue.person@gmail.com")

    organization_remove(organization=rogue, actor=staff, reason="Repeated leaks.")

    assert BlockedIdentity.objects.filter(kind="email", value="rogue.person@gmail.com").exists()
    assert not BlockedIdentity.objects.filter(kind="domain", value="gmail.com").exists()
    assert person_barred(user=person)


# --- invitations ----------------------------------------------------------------------------


def test_a_member_admin_cannot_invite_a_person_of_a_removed_organisation(rogue, staff, other_admin):
    _person(rogue, "ada@example.org")
    organization_remove(organization=rogue, actor=staff, reason="Repeated leaks.")
    honest = other_admin.memberships.get().organization

    with pytest.raises(ValidationError) as error:
        invitation_create(actor=other_admin, organization=honest, email="ADA@example.org")

    assert error.value.message_dict == {"email": [INVITE_REFUSAL]}
    # The admin is not told which organisation or why.
    assert "Rogue" not in INVITE_REFUSAL and "removed" not in INVITE_REFUSAL
    assert not Invitation.objects.exists()


def test_inviting_any_verified_address_of_a_barred_account_is_refused(rogue, staff, other_admin):
    ada = _person(rogue, "ada@example.org")
    organization_remove(organization=rogue, actor=staff, reason="Repeated leaks.")
    # An address verified after the removal: no address bar names it, the account bar does.
    EmailAddress.objects.create(user=ada, email="ada.new@example.org", verified=True)
    honest = other_admin.memberships.get().organization

    with pytest.raises(ValidationError, match="cannot be invited"):
        invitation_create(actor=other_admin, organization=honest, email="ada.new@example.org")


def test_an_address_at_a_blocked_domain_cannot_be_invited(rogue, staff, other_admin):
    organization_remove(organization=rogue, actor=staff, reason="Repeated leaks.")
    honest = other_admin.memberships.get().organization

    with pytest.raises(ValidationError, match="cannot be invited"):
        invitation_create(actor=other_admin, organization=honest, email="new@mail.rogue-os.test")


def test_an_invitation_made_before_the_removal_cannot_be_accepted(rogue, staff, other_admin):
    # The reproduction: remove A, invite one of A's people from B, accept.
    ada = _person(rogue, "ada@example.org")
    honest = other_admin.memberships.get().organization
    _invitation, token = _invite(honest, "ada@example.org")
    organization_remove(organization=rogue, actor=staff, reason="Repeated leaks.")
    events = AuditEvent.objects.count()

    with pytest.raises(ValidationError) as error:
        invitation_accept(token=token, user=ada)

    assert error.value.messages == [ACCEPT_REFUSAL]
    assert not TeamMember.objects.filter(organization=honest, user=ada).exists()
    assert AuditEvent.objects.count() == events


def test_a_new_account_with_a_barred_address_cannot_accept_an_invitation(rogue, staff, other_admin):
    old = _person(rogue, "ada@example.org")
    organization_remove(organization=rogue, actor=staff, reason="Repeated leaks.")
    # The same person drops the address from the old account, signs up again under a
    # fresh one, then verifies the barred address there.
    EmailAddress.objects.filter(user=old, email="ada@example.org").delete()
    new = UserFactory(email="ada.fresh@example.org")
    EmailAddress.objects.create(user=new, email="ada@example.org", verified=True)
    honest = other_admin.memberships.get().organization
    _invitation, token = _invite(honest, "ada.fresh@example.org")

    assert new.pk != old.pk
    with pytest.raises(ValidationError, match="barred"):
        invitation_accept(token=token, user=new)
    assert not TeamMember.objects.filter(user=new).exists()


# --- applying again -------------------------------------------------------------------------


def test_a_new_account_with_a_barred_verified_address_cannot_apply(rogue, staff):
    old = _person(rogue, "ada@example.org")
    organization_remove(organization=rogue, actor=staff, reason="Repeated leaks.")
    EmailAddress.objects.filter(user=old).delete()
    new = UserFactory(email="ada.fresh@example.org")
    EmailAddress.objects.create(user=new, email="ada@example.org", verified=True)

    with pytest.raises(ValidationError) as error:
        organization_apply(actor=new, name="Fresh Start", website="https://fresh.test")

    assert REMOVED_REFUSAL in error.value.messages


# --- eligibility ----------------------------------------------------------------------------


def test_a_barred_person_already_in_another_team_is_ineligible_on_every_read_path(rogue, staff):
    ada = _person(rogue, "ada@example.org")
    elsewhere = make_eligible(
        TeamMemberFactory(organization=MemberOrganizationFactory(name="Honest Linux"), user=ada)
    )
    assert all(reasons == () for reasons in _reasons_everywhere(elsewhere))

    organization_remove(organization=rogue, actor=staff, reason="Repeated leaks.")

    for reasons in _reasons_everywhere(elsewhere):
        assert reasons == (Reason.PERSON_BARRED,)


def test_a_new_account_holding_a_barred_address_is_ineligible(rogue, staff):
    old = _person(rogue, "ada@example.org")
    organization_remove(organization=rogue, actor=staff, reason="Repeated leaks.")
    EmailAddress.objects.filter(user=old).delete()
    new = UserFactory(email="ada.fresh@example.org")
    # Made by staff or by hand in the admin: a bar must still hold at send time.
    member = make_eligible(TeamMemberFactory(organization=MemberOrganizationFactory(), user=new))
    assert all(reasons == () for reasons in _reasons_everywhere(member))

    EmailAddress.objects.create(user=new, email="ADA@example.org", verified=True)

    for reasons in _reasons_everywhere(member):
        assert reasons == (Reason.PERSON_BARRED,)


def test_an_unverified_barred_address_does_not_make_someone_else_ineligible(rogue, staff):
    old = _person(rogue, "ada@example.org")
    organization_remove(organization=rogue, actor=staff, reason="Repeated leaks.")
    EmailAddress.objects.filter(user=old).delete()
    member = make_eligible(TeamMemberFactory(organization=MemberOrganizationFactory()))
    EmailAddress.objects.create(user=member.user, email="ada@example.org", verified=False)

    assert all(reasons == () for reasons in _reasons_everywhere(member))


def test_a_person_of_a_suspended_organisation_is_ineligible_through_their_other_team(staff):
    suspended = MemberOrganizationFactory(name="Paused Linux")
    person = TeamMemberFactory(organization=suspended).user
    elsewhere = make_eligible(
        TeamMemberFactory(organization=MemberOrganizationFactory(), user=person)
    )
    bystander = make_eligible(TeamMemberFactory(organization=elsewhere.organization))

    organization_suspend(organization=suspended, actor=staff, reason="A leak is looked into.")

    for reasons in _reasons_everywhere(elsewhere):
        assert reasons == (Reason.OTHER_ORG_SUSPENDED,)
    assert all(reasons == () for reasons in _reasons_everywhere(bystander))
    assert Reason(Reason.OTHER_ORG_SUSPENDED).label == (
        "Another organisation of this person is suspended."
    )


def test_the_suspended_organisations_own_membership_gives_only_its_own_reason(staff):
    suspended = MemberOrganizationFactory()
    member = make_eligible(TeamMemberFactory(organization=suspended))
    organization_suspend(organization=suspended, actor=staff, reason="A leak is looked into.")

    for reasons in _reasons_everywhere(member):
        assert reasons == (Reason.ORG_SUSPENDED,)


def test_the_send_time_check_stays_one_query(rogue, staff, django_assert_num_queries):
    ada = _person(rogue, "ada@example.org")
    members = [make_eligible(TeamMemberFactory(organization=MemberOrganizationFactory()))]
    members.append(make_eligible(TeamMemberFactory(organization=members[0].organization, user=ada)))
    organization_remove(organization=rogue, actor=staff, reason="Repeated leaks.")
    ids = [member.pk for member in members]
    disclosure = timezone.now() + SOON
    eligibility_at_send(team_member_ids=ids, disclosure_at=disclosure)  # compiled once

    with django_assert_num_queries(1):
        checked = eligibility_at_send(team_member_ids=ids, disclosure_at=disclosure)

    assert checked[members[0].pk].eligible
    assert checked[members[1].pk].reasons == (Reason.PERSON_BARRED,)


# --- lifting --------------------------------------------------------------------------------


def test_staff_lift_a_bar_with_a_reason_and_the_history_stays(rogue, staff, other_admin):
    ada = _person(rogue, "ada@example.org")
    organization_remove(organization=rogue, actor=staff, reason="Repeated leaks.")
    bar = BlockedIdentity.objects.get(kind="account", user=ada)

    lifted = person_bar_lift(bar=bar, actor=staff, reason="Left Rogue OS a year before the leak.")

    assert {item.kind for item in lifted} == {"account", "email"}
    assert BlockedIdentity.objects.filter(user=ada).count() == 2
    assert not BlockedIdentity.objects.filter(user=ada, lifted_at__isnull=True).exists()
    bar.refresh_from_db()
    assert bar.lifted_by == staff and bar.lift_reason.startswith("Left Rogue OS")
    events = AuditEvent.objects.filter(action="blocked_identity.lifted")
    assert events.count() == 2 and all(e.actor == staff for e in events)
    assert not person_barred(user=ada)
    honest = other_admin.memberships.get().organization
    invitation = invitation_create(actor=other_admin, organization=honest, email=ada.email)
    assert invitation.email == ada.email


def test_a_person_barred_again_after_a_lift_gets_a_new_bar_beside_the_old(staff):
    first, second = MemberOrganizationFactory(), MemberOrganizationFactory()
    ada = _person(first, "ada@example.org")
    TeamMemberFactory(organization=second, user=ada)
    organization_remove(organization=first, actor=staff, reason="Repeated leaks.")
    bar = BlockedIdentity.objects.get(kind="account", user=ada)
    person_bar_lift(bar=bar, actor=staff, reason="Not involved.")

    organization_remove(organization=second, actor=staff, reason="Another leak.")

    assert BlockedIdentity.objects.filter(kind="account", user=ada).count() == 2
    assert person_barred(user=ada)


@pytest.mark.parametrize("reason", ["", "   ", "x" * 2001])
def test_lifting_needs_a_reason_and_changes_nothing_without_one(rogue, staff, reason):
    ada = _person(rogue, "ada@example.org")
    organization_remove(organization=rogue, actor=staff, reason="Repeated leaks.")
    bar = BlockedIdentity.objects.get(kind="account", user=ada)

    with pytest.raises(ValidationError):
        person_bar_lift(bar=bar, actor=staff, reason=reason)

    assert person_barred(user=ada)
    assert not AuditEvent.objects.filter(action="blocked_identity.lifted").exists()


def test_only_staff_can_lift_a_bar(rogue, staff):
    ada = _person(rogue, "ada@example.org")
    organization_remove(organization=rogue, actor=staff, reason="Repeated leaks.")
    bar = BlockedIdentity.objects.get(kind="account", user=ada)
    member_admin = TeamMemberFactory(organization=MemberOrganizationFactory(), is_admin=True).user

    with pytest.raises(PermissionDenied):
        person_bar_lift(bar=bar, actor=member_admin, reason="Please.")

    assert person_barred(user=ada)


def test_a_domain_block_is_not_lifted_as_a_personal_bar(rogue, staff):
    organization_remove(organization=rogue, actor=staff, reason="Repeated leaks.")
    domain = BlockedIdentity.objects.get(kind="domain")

    with pytest.raises(ValidationError, match="not a personal bar"):
        person_bar_lift(bar=domain, actor=staff, reason="Sold the domain.")

    domain.refresh_from_db()
    assert domain.lifted_at is None


def test_a_bar_cannot_be_lifted_twice(rogue, staff):
    ada = _person(rogue, "ada@example.org")
    organization_remove(organization=rogue, actor=staff, reason="Repeated leaks.")
    bar = BlockedIdentity.objects.get(kind="account", user=ada)
    person_bar_lift(bar=bar, actor=staff, reason="Not involved.")

    with pytest.raises(ValidationError, match="already lifted"):
        person_bar_lift(bar=bar, actor=staff, reason="Again.")

    assert AuditEvent.objects.filter(action="blocked_identity.lifted").count() == 2
