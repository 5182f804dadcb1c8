"""Vouching rules (criterion 7), straight through the services."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from core.models import AuditEvent
from distributors.models import (
    Application,
    Criterion,
    CriterionReview,
    Organization,
    TeamMember,
    Vouch,
)
from distributors.selectors import (
    application_has_eligible_vouch,
    application_policy_accepted,
    criteria_active,
    vouches_for_application,
)
from distributors.services import (
    application_decide,
    application_submit,
    criterion_review_record,
    vouch_confirm,
    vouch_decline,
    vouch_request,
    vouch_withdraw,
    vouches_flag_for_organization,
)
from distributors.services.applications import APPROVAL_NEEDS_VOUCH_AND_POLICY
from distributors.services.vouching import VOUCHER_REFUSED
from tests.factories import (
    ApplicationFactory,
    CriterionAnswerFactory,
    MemberOrganizationFactory,
    OrganizationFactory,
    PolicyAcceptanceFactory,
    PolicyVersionFactory,
    TeamMemberFactory,
    UserFactory,
    VouchFactory,
    answer_all_criteria,
    criterion,
    review_all_criteria,
)

pytestmark = pytest.mark.django_db
State = Vouch.State


@pytest.fixture
def application(org_admin) -> Application:
    return ApplicationFactory(
        organization=org_admin.memberships.get().organization, created_by=org_admin
    )


@pytest.fixture
def member_person():
    return TeamMemberFactory(
        organization=MemberOrganizationFactory(name="Trusted Distro"),
        user=UserFactory(email="friend@trusted.example.org"),
    ).user


def snapshot() -> tuple:
    return (
        list(Vouch.objects.order_by("pk").values_list("pk", "state", "statement", "voucher_id")),
        AuditEvent.objects.count(),
        len(mail.outbox),
    )


def ask(application, email, actor):
    return vouch_request(application=application, voucher_email=email, actor=actor)


# --- Requesting ----------------------------------------------------------------------------


def test_an_applicant_asks_a_member_in_good_standing_and_they_are_emailed(
    application, org_admin, member_person, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        vouch = ask(application, "FRIEND@trusted.example.org", org_admin)
    assert vouch.state == State.REQUESTED
    assert vouch.voucher == member_person
    assert vouch.voucher_organization.name == "Trusted Distro"
    assert vouch.requested_by == org_admin
    event = AuditEvent.objects.get(action="vouch.requested")
    assert event.organization == application.organization
    assert event.data["voucher"] == member_person.pk
    assert [message.to for message in mail.outbox] == [[member_person.email]]
    body = mail.outbox[0].body
    assert f"/vouches/{vouch.pk}/" in body
    # The mail says nothing about who is applying; that is shown after signing in.
    assert application.organization.name not in body + mail.outbox[0].subject


def test_the_refusal_is_the_same_for_an_unknown_address_and_a_non_member(application, org_admin):
    applicant_person = TeamMemberFactory(organization=OrganizationFactory()).user
    messages = []
    for email in ("nobody@nowhere.example", applicant_person.email):
        before = snapshot()
        with pytest.raises(ValidationError) as error:
            ask(application, email, org_admin)
        assert snapshot() == before
        messages.append(error.value.message_dict["voucher_email"])
    assert messages[0] == messages[1] == [VOUCHER_REFUSED]


@pytest.mark.parametrize("status", [Organization.Status.SUSPENDED, Organization.Status.REMOVED])
def test_a_person_of_a_suspended_or_removed_organisation_cannot_vouch(
    application, org_admin, status
):
    person = TeamMemberFactory(organization=MemberOrganizationFactory(status=status)).user
    before = snapshot()
    with pytest.raises(ValidationError) as error:
        ask(application, person.email, org_admin)
    assert error.value.message_dict["voucher_email"] == [VOUCHER_REFUSED]
    assert snapshot() == before


def test_a_person_of_the_applying_organisation_cannot_vouch_even_from_a_member(
    application, org_admin
):
    colleague = TeamMemberFactory(organization=application.organization).user
    TeamMemberFactory(organization=MemberOrganizationFactory(), user=colleague)
    before = snapshot()
    with pytest.raises(ValidationError) as error:
        ask(application, colleague.email, org_admin)
    assert error.value.message_dict["voucher_email"] == [VOUCHER_REFUSED]
    assert snapshot() == before


def test_the_applicant_cannot_vouch_for_themselves(application, org_admin):
    TeamMemberFactory(organization=MemberOrganizationFactory(), user=org_admin)
    before = snapshot()
    with pytest.raises(ValidationError):
        ask(application, org_admin.email, org_admin)
    assert snapshot() == before


def test_an_inactive_member_cannot_vouch(application, org_admin, member_person):
    member_person.is_active = False
    member_person.save(update_fields=["is_active"])
    before = snapshot()
    with pytest.raises(ValidationError) as error:
        ask(application, member_person.email, org_admin)
    assert error.value.message_dict["voucher_email"] == [VOUCHER_REFUSED]
    assert snapshot() == before


def test_a_malformed_address_is_refused(application, org_admin):
    before = snapshot()
    with pytest.raises(ValidationError, match="valid email"):
        ask(application, "not an address", org_admin)
    assert snapshot() == before


def test_only_an_admin_of_the_applying_organisation_can_ask(
    application, outsider, staff_reviewer, member_person
):
    plain_member = TeamMemberFactory(organization=application.organization, is_admin=False).user
    before = snapshot()
    for actor in (outsider, staff_reviewer, plain_member):
        with pytest.raises(PermissionDenied):
            ask(application, member_person.email, actor)
    assert snapshot() == before


def test_asking_the_same_person_twice_is_refused(application, org_admin, member_person):
    ask(application, member_person.email, org_admin)
    before = snapshot()
    with pytest.raises(ValidationError, match="already asked"):
        ask(application, member_person.email, org_admin)
    assert snapshot() == before


def test_a_closed_application_cannot_ask_for_vouches(org_admin, member_person):
    application = ApplicationFactory(
        organization=org_admin.memberships.get().organization,
        created_by=org_admin,
        state=Application.State.REJECTED,
    )
    before = snapshot()
    with pytest.raises(ValidationError, match="closed"):
        ask(application, member_person.email, org_admin)
    assert snapshot() == before


def test_a_withdrawn_request_can_be_made_again(application, org_admin, member_person):
    vouch = ask(application, member_person.email, org_admin)
    vouch_withdraw(vouch=vouch, actor=org_admin)
    again = ask(application, member_person.email, org_admin)
    assert again.pk == vouch.pk
    assert again.state == State.REQUESTED
    assert AuditEvent.objects.filter(action="vouch.requested").count() == 2


def test_a_person_who_declined_cannot_be_asked_again(application, org_admin, member_person):
    vouch = ask(application, member_person.email, org_admin)
    vouch_decline(vouch=vouch, statement="", actor=member_person)
    before = snapshot()
    with pytest.raises(ValidationError, match="declined"):
        ask(application, member_person.email, org_admin)
    assert snapshot() == before


# --- Answering -----------------------------------------------------------------------------


def test_the_voucher_confirms_with_a_statement_and_the_applicant_is_told(
    application, org_admin, member_person, django_capture_on_commit_callbacks
):
    vouch = ask(application, member_person.email, org_admin)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        vouch_confirm(vouch=vouch, statement="  I know their team well.  ", actor=member_person)
    vouch.refresh_from_db()
    assert vouch.state == State.CONFIRMED
    assert vouch.statement == "I know their team well."
    assert vouch.responded_at is not None
    assert AuditEvent.objects.filter(action="vouch.confirmed", actor=member_person).count() == 1
    assert [message.to for message in mail.outbox] == [[org_admin.email]]
    assert "I know their team well" not in mail.outbox[0].body
    assert application_has_eligible_vouch(application=application)


def test_confirming_needs_a_statement(application, org_admin, member_person):
    vouch = ask(application, member_person.email, org_admin)
    before = snapshot()
    with pytest.raises(ValidationError) as error:
        vouch_confirm(vouch=vouch, statement="   ", actor=member_person)
    assert "statement" in error.value.message_dict
    assert snapshot() == before


def test_only_the_person_asked_can_answer(application, org_admin, member_person, staff_reviewer):
    vouch = ask(application, member_person.email, org_admin)
    other_member = TeamMemberFactory(organization=vouch.voucher_organization).user
    before = snapshot()
    for actor in (org_admin, staff_reviewer, other_member):
        with pytest.raises(PermissionDenied):
            vouch_confirm(vouch=vouch, statement="Sure.", actor=actor)
        with pytest.raises(PermissionDenied):
            vouch_decline(vouch=vouch, statement="", actor=actor)
    assert snapshot() == before


def test_a_voucher_whose_organisation_was_suspended_meanwhile_cannot_confirm(
    application, org_admin, member_person
):
    vouch = ask(application, member_person.email, org_admin)
    Organization.objects.filter(pk=vouch.voucher_organization_id).update(
        status=Organization.Status.SUSPENDED
    )
    before = snapshot()
    with pytest.raises(ValidationError, match="good standing"):
        vouch_confirm(vouch=vouch, statement="Sure.", actor=member_person)
    assert snapshot() == before


def test_the_voucher_declines_without_a_statement(application, org_admin, member_person):
    vouch = ask(application, member_person.email, org_admin)
    vouch_decline(vouch=vouch, statement="", actor=member_person)
    vouch.refresh_from_db()
    assert vouch.state == State.DECLINED
    assert AuditEvent.objects.get(action="vouch.declined").data["from"] == State.REQUESTED
    assert not application_has_eligible_vouch(application=application)


def test_a_voucher_can_take_back_a_confirmation_while_the_application_is_open(
    application, member_person
):
    vouch = VouchFactory(application=application, voucher=member_person)
    vouch_decline(vouch=vouch, statement="I was mistaken.", actor=member_person)
    vouch.refresh_from_db()
    assert vouch.state == State.DECLINED
    assert not application_has_eligible_vouch(application=application)


def test_an_answered_request_cannot_be_confirmed_again(application, org_admin, member_person):
    vouch = ask(application, member_person.email, org_admin)
    vouch_decline(vouch=vouch, statement="", actor=member_person)
    before = snapshot()
    with pytest.raises(ValidationError, match="no longer waiting"):
        vouch_confirm(vouch=vouch, statement="Changed my mind.", actor=member_person)
    assert snapshot() == before


def test_answers_are_refused_once_the_application_is_closed(org_admin, member_person):
    application = ApplicationFactory(
        organization=org_admin.memberships.get().organization,
        created_by=org_admin,
        state=Application.State.WITHDRAWN,
    )
    vouch = VouchFactory(application=application, voucher=member_person, state=State.REQUESTED)
    before = snapshot()
    with pytest.raises(ValidationError, match="closed"):
        vouch_confirm(vouch=vouch, statement="Sure.", actor=member_person)
    with pytest.raises(ValidationError, match="closed"):
        vouch_decline(vouch=vouch, statement="", actor=member_person)
    assert snapshot() == before


# --- Withdrawing ---------------------------------------------------------------------------


def test_the_applicant_withdraws_a_request(application, org_admin, member_person):
    vouch = ask(application, member_person.email, org_admin)
    vouch_withdraw(vouch=vouch, actor=org_admin)
    vouch.refresh_from_db()
    assert vouch.state == State.WITHDRAWN
    assert AuditEvent.objects.get(action="vouch.withdrawn").actor == org_admin


def test_nobody_else_can_withdraw_a_request(application, org_admin, member_person, outsider):
    vouch = ask(application, member_person.email, org_admin)
    before = snapshot()
    for actor in (outsider, member_person):
        with pytest.raises(PermissionDenied):
            vouch_withdraw(vouch=vouch, actor=actor)
    assert snapshot() == before


def test_a_declined_vouch_cannot_be_withdrawn(application, org_admin, member_person):
    vouch = ask(application, member_person.email, org_admin)
    vouch_decline(vouch=vouch, statement="", actor=member_person)
    before = snapshot()
    with pytest.raises(ValidationError):
        vouch_withdraw(vouch=vouch, actor=org_admin)
    assert snapshot() == before


# --- Good standing at decision time ----------------------------------------------------------


def test_a_confirmed_vouch_counts_only_while_the_voucher_is_in_good_standing(application):
    vouch = VouchFactory(application=application)
    assert application_has_eligible_vouch(application=application)
    organization = vouch.voucher_organization
    for status in (Organization.Status.SUSPENDED, Organization.Status.REMOVED):
        organization.status = status
        organization.save(update_fields=["status"])
        assert not application_has_eligible_vouch(application=application)
    organization.status = Organization.Status.MEMBER
    organization.save(update_fields=["status"])
    assert application_has_eligible_vouch(application=application)


def test_a_voucher_who_moved_to_another_organisation_no_longer_counts(application):
    vouch = VouchFactory(application=application)
    TeamMember.objects.filter(user=vouch.voucher).update(organization=OrganizationFactory())
    assert not application_has_eligible_vouch(application=application)
    assert vouches_for_application(application=application)[0].in_good_standing is False


@pytest.mark.parametrize("state", [State.REQUESTED, State.DECLINED, State.WITHDRAWN])
def test_only_a_confirmed_vouch_meets_the_criterion(application, state):
    VouchFactory(application=application, state=state)
    assert not application_has_eligible_vouch(application=application)


def test_staff_flag_the_vouches_given_for_a_removed_organisation(application, staff_reviewer):
    confirmed = VouchFactory(application=application)
    requested = VouchFactory(application=application, state=State.REQUESTED)
    count = vouches_flag_for_organization(
        organization=application.organization, reason="Leaked twice.", actor=staff_reviewer
    )
    assert count == 1
    confirmed.refresh_from_db()
    requested.refresh_from_db()
    assert confirmed.flagged_at is not None and confirmed.flag_reason == "Leaked twice."
    assert requested.flagged_at is None
    assert AuditEvent.objects.get(action="vouch.flagged").data["vouches"] == [confirmed.pk]


def test_only_staff_can_flag_vouches(application, org_admin):
    VouchFactory(application=application)
    before = snapshot()
    with pytest.raises(PermissionDenied):
        vouches_flag_for_organization(
            organization=application.organization, reason="", actor=org_admin
        )
    assert snapshot() == before
    assert not Vouch.objects.filter(flagged_at__isnull=False).exists()


# --- Criteria 6 and 7 in the application flow ------------------------------------------------


def _ready_for_decision(application, reviewer):
    """Every criterion answered and reviewed as met, policy accepted, a confirmed vouch."""
    application.state = Application.State.IN_REVIEW
    application.save(update_fields=["state"])
    answer_all_criteria(application)
    review_all_criteria(application, reviewer)
    return application


def _decision_snapshot(application) -> tuple:
    application.refresh_from_db()
    application.organization.refresh_from_db()
    return (application.state, application.organization.status, AuditEvent.objects.count())


def test_an_application_with_a_confirmed_vouch_and_accepted_policy_is_approved(
    application, staff_reviewer
):
    _ready_for_decision(application, staff_reviewer)
    application_decide(
        application=application, approve=True, reason="All met.", actor=staff_reviewer
    )
    application.refresh_from_db()
    assert application.state == Application.State.APPROVED


def test_approval_is_refused_once_the_vouchers_organisation_was_suspended(
    application, staff_reviewer
):
    _ready_for_decision(application, staff_reviewer)
    vouch = application.vouches.get(state=State.CONFIRMED)
    Organization.objects.filter(pk=vouch.voucher_organization_id).update(
        status=Organization.Status.SUSPENDED
    )
    before = _decision_snapshot(application)
    with pytest.raises(ValidationError) as error:
        application_decide(
            application=application, approve=True, reason="Met.", actor=staff_reviewer
        )
    assert APPROVAL_NEEDS_VOUCH_AND_POLICY in error.value.messages[0]
    assert "confirmed vouch from a voucher in good standing" in error.value.messages[0]
    assert _decision_snapshot(application) == before


def test_approval_is_refused_without_any_confirmed_vouch(application, staff_reviewer):
    _ready_for_decision(application, staff_reviewer)
    Vouch.objects.filter(application=application).update(state=State.REQUESTED)
    before = _decision_snapshot(application)
    with pytest.raises(ValidationError, match="cannot be approved without a confirmed vouch"):
        application_decide(
            application=application, approve=True, reason="Met.", actor=staff_reviewer
        )
    assert _decision_snapshot(application) == before


def test_approval_is_refused_when_the_applicants_acceptance_lapsed(application, staff_reviewer):
    _ready_for_decision(application, staff_reviewer)
    PolicyVersionFactory()  # a new version: the applicant's acceptance no longer counts
    before = _decision_snapshot(application)
    with pytest.raises(ValidationError) as error:
        application_decide(
            application=application, approve=True, reason="Met.", actor=staff_reviewer
        )
    assert APPROVAL_NEEDS_VOUCH_AND_POLICY in error.value.messages[0]
    assert "acceptance of the current embargo policy" in error.value.messages[0]
    assert _decision_snapshot(application) == before


def test_a_rejection_needs_neither_vouch_nor_policy(application, staff_reviewer):
    application.state = Application.State.IN_REVIEW
    application.save(update_fields=["state"])
    application_decide(
        application=application, approve=False, reason="Not a distributor.", actor=staff_reviewer
    )
    application.refresh_from_db()
    assert application.state == Application.State.REJECTED


def test_the_policy_criterion_cannot_be_marked_met_before_the_applicant_accepts(
    application, staff_reviewer
):
    application.state = Application.State.IN_REVIEW
    application.save(update_fields=["state"])
    before = (CriterionReview.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ValidationError) as error:
        criterion_review_record(
            application=application,
            criterion=criterion(6),
            verdict="met",
            note="",
            actor=staff_reviewer,
        )
    assert "not accepted the current version" in error.value.message_dict["verdict"][0]
    assert (CriterionReview.objects.count(), AuditEvent.objects.count()) == before
    PolicyAcceptanceFactory(user=application.created_by)
    criterion_review_record(
        application=application,
        criterion=criterion(6),
        verdict="met",
        note="",
        actor=staff_reviewer,
    )
    assert CriterionReview.objects.get(criterion=criterion(6)).verdict == "met"


def test_the_vouch_criterion_cannot_be_marked_met_without_an_eligible_confirmed_vouch(
    application, staff_reviewer
):
    application.state = Application.State.IN_REVIEW
    application.save(update_fields=["state"])
    VouchFactory(application=application, state=State.REQUESTED)
    before = (CriterionReview.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ValidationError) as error:
        criterion_review_record(
            application=application,
            criterion=criterion(7),
            verdict="met",
            note="",
            actor=staff_reviewer,
        )
    assert "no confirmed vouch" in error.value.message_dict["verdict"][0]
    assert (CriterionReview.objects.count(), AuditEvent.objects.count()) == before
    # Not met or needs information can still be recorded.
    criterion_review_record(
        application=application,
        criterion=criterion(7),
        verdict="not_met",
        note="Nobody vouched.",
        actor=staff_reviewer,
    )
    assert CriterionReview.objects.get(criterion=criterion(7)).verdict == "not_met"


def test_submitting_needs_the_applicants_acceptance_and_a_vouch_request(
    application, org_admin, member_person
):
    for item in criteria_active().filter(kind=Criterion.Kind.EVIDENCE):
        CriterionAnswerFactory(application=application, criterion=item)
    before = (application.state, AuditEvent.objects.count())
    with pytest.raises(ValidationError, match=r"Answer every criterion first: 6, 7\."):
        application_submit(application=application, actor=org_admin)
    PolicyAcceptanceFactory(user=org_admin)
    with pytest.raises(ValidationError, match=r"Answer every criterion first: 7\."):
        application_submit(application=application, actor=org_admin)
    application.refresh_from_db()
    assert (application.state, AuditEvent.objects.count()) == before
    # A request still waiting for its answer is enough to submit; no text is needed for 6 or 7.
    ask(application, member_person.email, org_admin)
    application_submit(application=application, actor=org_admin)
    application.refresh_from_db()
    assert application.state == Application.State.SUBMITTED


def test_another_admins_acceptance_does_not_meet_criterion_6(application, org_admin):
    other_admin = TeamMemberFactory(organization=application.organization, is_admin=True).user
    PolicyAcceptanceFactory(user=other_admin)
    assert not application_policy_accepted(application=application)
    PolicyAcceptanceFactory(user=org_admin)
    assert application_policy_accepted(application=application)
