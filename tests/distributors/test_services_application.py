"""The application lifecycle rules, straight through the services."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from core.models import AuditEvent
from distributors.models import (
    EVIDENCE_MAX_LENGTH,
    LINKS_MAX,
    NOTE_MAX_LENGTH,
    Application,
    Criterion,
    CriterionAnswer,
    CriterionReview,
    Organization,
    Question,
    TeamMember,
)
from distributors.services import (
    application_ask,
    application_decide,
    application_start,
    application_submit,
    application_withdraw,
    criterion_answer_save,
    criterion_review_record,
    organization_apply,
    question_reply,
)
from tests.factories import (
    ApplicationFactory,
    CriterionReviewFactory,
    QuestionFactory,
    UserFactory,
    answer_all_criteria,
    criterion,
    review_all_criteria,
)

State = Application.State
Verdict = CriterionReview.Verdict


def application_of(user, **kwargs) -> Application:
    organization = user.memberships.get().organization
    return ApplicationFactory(organization=organization, created_by=user, **kwargs)


def ready_for_decision(user, reviewer) -> Application:
    application = application_of(user, state=State.IN_REVIEW)
    answer_all_criteria(application)
    review_all_criteria(application, reviewer)
    return application


def snapshot(application: Application) -> tuple:
    application.refresh_from_db()
    return (
        application.state,
        application.organization.status,
        AuditEvent.objects.count(),
        CriterionAnswer.objects.count(),
        CriterionReview.objects.count(),
        Question.objects.count(),
    )


# Creating an organisation and its application


def test_applying_creates_the_organisation_its_admin_and_a_draft(db):
    user = UserFactory()
    application = organization_apply(actor=user, name="Pinniped OS", website="https://pos.example")
    assert application.state == State.DRAFT
    assert application.organization.status == Organization.Status.APPLICANT
    assert TeamMember.objects.get(user=user).is_admin
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions == ["organization.created", "application.created"]


@pytest.mark.parametrize(
    ("name", "website", "field"),
    [
        ("", "https://ok.example", "name"),
        ("x" * 201, "https://ok.example", "name"),
        ("Fine", "not a url", "website"),
        ("Fine", "ftp://files.example", "website"),
    ],
)
def test_applying_with_bad_details_creates_nothing(db, name, website, field):
    user = UserFactory()
    with pytest.raises(ValidationError) as raised:
        organization_apply(actor=user, name=name, website=website)
    assert field in raised.value.message_dict
    assert not Organization.objects.exists()
    assert not AuditEvent.objects.exists()


def test_a_person_in_an_organisation_cannot_register_a_second_one(org_admin):
    before = (Organization.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ValidationError):
        organization_apply(actor=org_admin, name="Second", website="https://second.example")
    assert (Organization.objects.count(), AuditEvent.objects.count()) == before


def test_an_organisation_name_is_taken_once_whatever_the_case(db):
    organization_apply(actor=UserFactory(), name="Seal Linux", website="https://seal.example")
    with pytest.raises(ValidationError) as raised:
        organization_apply(actor=UserFactory(), name="SEAL linux", website="https://s2.example")
    assert "name" in raised.value.message_dict


# Answers


def test_an_admin_saves_and_then_replaces_an_answer(org_admin):
    application = application_of(org_admin)
    first = criterion(1)
    criterion_answer_save(
        application=application, criterion=first, evidence="v1", links=[], actor=org_admin
    )
    answer = criterion_answer_save(
        application=application,
        criterion=first,
        evidence="v2",
        links=["https://a.example/x", " ", "http://b.example"],
        actor=org_admin,
    )
    assert CriterionAnswer.objects.get() == answer
    assert answer.evidence == "v2"
    assert answer.links == ["https://a.example/x", "http://b.example"]
    assert AuditEvent.objects.filter(action="application.answer_saved").count() == 2


def test_over_long_evidence_is_refused_and_nothing_is_saved(org_admin):
    application = application_of(org_admin)
    before = snapshot(application)
    with pytest.raises(ValidationError) as raised:
        criterion_answer_save(
            application=application,
            criterion=criterion(1),
            evidence="x" * (EVIDENCE_MAX_LENGTH + 1),
            links=[],
            actor=org_admin,
        )
    assert "limit" in raised.value.message_dict["evidence"][0]
    assert snapshot(application) == before


@pytest.mark.parametrize(
    "links",
    [
        ["javascript:alert(1)"],
        ["https://fine.example", "not a link"],
        ["ftp://files.example/a"],
        ["https://example.org/" + "a" * 500],
        [f"https://example.org/{n}" for n in range(LINKS_MAX + 1)],
    ],
)
def test_invalid_links_are_refused_and_nothing_is_saved(org_admin, links):
    application = application_of(org_admin)
    before = snapshot(application)
    with pytest.raises(ValidationError) as raised:
        criterion_answer_save(
            application=application,
            criterion=criterion(1),
            evidence="fine",
            links=links,
            actor=org_admin,
        )
    assert "links" in raised.value.message_dict
    assert snapshot(application) == before


def test_someone_who_is_not_an_admin_of_the_organisation_cannot_answer(org_admin, outsider):
    application = application_of(org_admin)
    before = snapshot(application)
    with pytest.raises(PermissionDenied):
        criterion_answer_save(
            application=application,
            criterion=criterion(1),
            evidence="mine now",
            links=[],
            actor=outsider,
        )
    assert snapshot(application) == before


@pytest.mark.parametrize("state", [State.SUBMITTED, State.IN_REVIEW, State.APPROVED])
def test_answers_are_frozen_outside_draft_and_needs_info(org_admin, state):
    application = application_of(org_admin, state=state)
    before = snapshot(application)
    with pytest.raises(ValidationError):
        criterion_answer_save(
            application=application,
            criterion=criterion(1),
            evidence="late change",
            links=[],
            actor=org_admin,
        )
    assert snapshot(application) == before


def test_a_retired_criterion_cannot_be_answered(org_admin):
    application = application_of(org_admin)
    retired = criterion(5)
    Criterion.objects.filter(pk=retired.pk).update(is_active=False)
    retired.refresh_from_db()
    with pytest.raises(ValidationError):
        criterion_answer_save(
            application=application, criterion=retired, evidence="x", links=[], actor=org_admin
        )
    assert not CriterionAnswer.objects.exists()


# Submitting


def test_submitting_needs_every_criterion_answered(org_admin):
    application = application_of(org_admin)
    criterion_answer_save(
        application=application, criterion=criterion(1), evidence="x", links=[], actor=org_admin
    )
    before = snapshot(application)
    with pytest.raises(ValidationError) as raised:
        application_submit(application=application, actor=org_admin)
    assert "2, 3, 4, 5, 6, 7" in raised.value.messages[0]
    assert snapshot(application) == before


def test_submitting_moves_the_draft_and_alerts_the_reviewers(
    org_admin, staff_reviewer, mailoutbox, django_capture_on_commit_callbacks
):
    application = application_of(org_admin)
    answer_all_criteria(application)
    with django_capture_on_commit_callbacks(execute=True):
        application_submit(application=application, actor=org_admin)
    application.refresh_from_db()
    assert application.state == State.SUBMITTED
    assert application.submitted_at is not None
    event = AuditEvent.objects.get(action="application.submitted")
    assert event.data == {"from": "draft", "to": "submitted"}
    recipients = {address for message in mailoutbox for address in message.to}
    assert staff_reviewer.email in recipients
    assert org_admin.email in recipients


def test_submitting_twice_is_refused_the_second_time(org_admin):
    application = application_of(org_admin)
    answer_all_criteria(application)
    application_submit(application=application, actor=org_admin)
    before = snapshot(application)
    with pytest.raises(ValidationError):
        application_submit(application=application, actor=org_admin)
    assert snapshot(application) == before


# Reviewing


def test_the_first_verdict_opens_the_review(org_admin, staff_reviewer):
    application = application_of(org_admin, state=State.SUBMITTED)
    answer_all_criteria(application)
    criterion_review_record(
        application=application,
        criterion=criterion(1),
        verdict=Verdict.MET,
        note="",
        actor=staff_reviewer,
    )
    application.refresh_from_db()
    assert application.state == State.IN_REVIEW
    assert CriterionReview.objects.get().verdict == Verdict.MET


def test_a_needs_information_verdict_asks_the_applicant(org_admin, staff_reviewer):
    application = application_of(org_admin, state=State.IN_REVIEW)
    criterion_review_record(
        application=application,
        criterion=criterion(3),
        verdict=Verdict.NEEDS_INFO,
        note="Link the 2024 advisories.",
        actor=staff_reviewer,
    )
    application.refresh_from_db()
    assert application.state == State.NEEDS_INFO
    question = Question.objects.get()
    assert question.criterion == criterion(3)
    assert question.text == "Link the 2024 advisories."


@pytest.mark.parametrize("verdict", [Verdict.NOT_MET, Verdict.NEEDS_INFO])
def test_a_verdict_other_than_met_needs_a_note(org_admin, staff_reviewer, verdict):
    application = application_of(org_admin, state=State.IN_REVIEW)
    before = snapshot(application)
    with pytest.raises(ValidationError) as raised:
        criterion_review_record(
            application=application,
            criterion=criterion(1),
            verdict=verdict,
            note=" ",
            actor=staff_reviewer,
        )
    assert "note" in raised.value.message_dict
    assert snapshot(application) == before


def test_an_unknown_verdict_and_an_over_long_note_are_refused(org_admin, staff_reviewer):
    application = application_of(org_admin, state=State.IN_REVIEW)
    before = snapshot(application)
    for verdict, note in [("maybe", ""), (Verdict.NOT_MET, "x" * (NOTE_MAX_LENGTH + 1))]:
        with pytest.raises(ValidationError):
            criterion_review_record(
                application=application,
                criterion=criterion(1),
                verdict=verdict,
                note=note,
                actor=staff_reviewer,
            )
    assert snapshot(application) == before


def test_only_staff_record_verdicts(org_admin):
    application = application_of(org_admin, state=State.SUBMITTED)
    before = snapshot(application)
    with pytest.raises(PermissionDenied):
        criterion_review_record(
            application=application,
            criterion=criterion(1),
            verdict=Verdict.MET,
            note="",
            actor=org_admin,
        )
    assert snapshot(application) == before


def test_a_draft_cannot_be_reviewed(org_admin, staff_reviewer):
    application = application_of(org_admin)
    with pytest.raises(ValidationError):
        criterion_review_record(
            application=application,
            criterion=criterion(1),
            verdict=Verdict.MET,
            note="",
            actor=staff_reviewer,
        )
    assert not CriterionReview.objects.exists()


# Questions


def test_the_application_returns_to_review_when_every_question_is_answered(
    org_admin, staff_reviewer
):
    application = application_of(org_admin, state=State.IN_REVIEW)
    first = application_ask(application=application, text="Who builds it?", actor=staff_reviewer)
    second = application_ask(application=application, text="Where?", actor=staff_reviewer)
    question_reply(question=first, reply="Our release team.", actor=org_admin)
    application.refresh_from_db()
    assert application.state == State.NEEDS_INFO
    question_reply(question=second, reply="In Berlin.", actor=org_admin)
    application.refresh_from_db()
    assert application.state == State.IN_REVIEW
    assert not Question.objects.filter(replied_at__isnull=True).exists()


def test_a_question_is_answered_once(org_admin, staff_reviewer):
    application = application_of(org_admin, state=State.IN_REVIEW)
    first = application_ask(application=application, text="One?", actor=staff_reviewer)
    application_ask(application=application, text="Two?", actor=staff_reviewer)
    question_reply(question=first, reply="First answer.", actor=org_admin)
    before = snapshot(application)
    with pytest.raises(ValidationError):
        question_reply(question=first, reply="Changed my mind.", actor=org_admin)
    assert snapshot(application) == before
    first.refresh_from_db()
    assert first.reply == "First answer."


def test_an_over_long_reply_is_refused(org_admin):
    question = QuestionFactory(application=application_of(org_admin, state=State.NEEDS_INFO))
    before = snapshot(question.application)
    with pytest.raises(ValidationError) as raised:
        question_reply(question=question, reply="x" * (EVIDENCE_MAX_LENGTH + 1), actor=org_admin)
    assert "reply" in raised.value.message_dict
    assert snapshot(question.application) == before


def test_an_outsider_cannot_reply_to_another_organisations_question(org_admin, outsider):
    question = QuestionFactory(application=application_of(org_admin, state=State.NEEDS_INFO))
    with pytest.raises(PermissionDenied):
        question_reply(question=question, reply="Hijack", actor=outsider)
    question.refresh_from_db()
    assert question.is_open


@pytest.mark.parametrize("state", [State.DRAFT, State.APPROVED, State.WITHDRAWN])
def test_questions_are_asked_only_during_review(org_admin, staff_reviewer, state):
    application = application_of(org_admin, state=state)
    before = snapshot(application)
    with pytest.raises(ValidationError):
        application_ask(application=application, text="Anything?", actor=staff_reviewer)
    assert snapshot(application) == before


# Deciding


def test_approving_makes_the_organisation_a_member(org_admin, staff_reviewer):
    application = ready_for_decision(org_admin, staff_reviewer)
    application_decide(
        application=application, approve=True, reason="All good.", actor=staff_reviewer
    )
    application.refresh_from_db()
    assert application.state == State.APPROVED
    assert application.decided_by == staff_reviewer
    assert application.organization.status == Organization.Status.MEMBER
    assert application.organization.member_since is not None
    assert AuditEvent.objects.filter(action="organization.became_member").count() == 1


@pytest.mark.parametrize("verdict", [Verdict.NOT_MET, Verdict.NEEDS_INFO, None])
@pytest.mark.parametrize("number", [1, 7])
def test_approving_with_any_criterion_not_met_is_refused(
    org_admin, staff_reviewer, verdict, number
):
    application = ready_for_decision(org_admin, staff_reviewer)
    review = CriterionReview.objects.get(application=application, criterion__number=number)
    if verdict is None:
        review.delete()
    else:
        review.verdict = verdict
        review.save(update_fields=["verdict"])
    before = snapshot(application)
    with pytest.raises(ValidationError) as raised:
        application_decide(
            application=application, approve=True, reason="Looks fine", actor=staff_reviewer
        )
    assert str(number) in raised.value.messages[0]
    assert snapshot(application) == before


def test_approving_with_an_open_question_is_refused(org_admin, staff_reviewer):
    application = ready_for_decision(org_admin, staff_reviewer)
    application_ask(application=application, text="One more thing?", actor=staff_reviewer)
    before = snapshot(application)
    with pytest.raises(ValidationError):
        application_decide(application=application, approve=True, reason="Ok", actor=staff_reviewer)
    assert snapshot(application) == before


def test_rejecting_needs_a_reason_the_applicant_will_read(org_admin, staff_reviewer):
    application = application_of(org_admin, state=State.IN_REVIEW)
    before = snapshot(application)
    with pytest.raises(ValidationError) as raised:
        application_decide(application=application, approve=False, reason="", actor=staff_reviewer)
    assert "reason" in raised.value.message_dict
    assert snapshot(application) == before
    application_decide(
        application=application, approve=False, reason="No public fixes.", actor=staff_reviewer
    )
    application.refresh_from_db()
    assert application.state == State.REJECTED
    assert application.decision_reason == "No public fixes."
    assert application.organization.status == Organization.Status.APPLICANT


@pytest.mark.parametrize("state", [State.APPROVED, State.REJECTED, State.WITHDRAWN])
@pytest.mark.parametrize("approve", [True, False])
def test_deciding_an_already_decided_application_is_refused(
    org_admin, staff_reviewer, state, approve
):
    application = application_of(org_admin, state=state)
    before = snapshot(application)
    with pytest.raises(ValidationError) as raised:
        application_decide(
            application=application, approve=approve, reason="again", actor=staff_reviewer
        )
    assert "already" in raised.value.messages[0]
    assert snapshot(application) == before


def test_only_staff_decide(org_admin):
    application = ready_for_decision(org_admin, UserFactory(is_staff=True))
    before = snapshot(application)
    with pytest.raises(PermissionDenied):
        application_decide(application=application, approve=True, reason="me", actor=org_admin)
    assert snapshot(application) == before


# Withdrawing and starting again


@pytest.mark.parametrize("state", Application.OPEN_STATES)
def test_an_open_application_can_be_withdrawn_from_each_open_state(org_admin, state):
    application = application_of(org_admin, state=state)
    application_withdraw(application=application, actor=org_admin, reason="Not now.")
    application.refresh_from_db()
    assert application.state == State.WITHDRAWN
    assert application.decided_at is not None
    event = AuditEvent.objects.get(action="application.withdrawn")
    assert event.data == {"from": state, "to": "withdrawn", "reason": "Not now."}


@pytest.mark.parametrize("state", Application.FINAL_STATES)
def test_a_closed_application_cannot_be_withdrawn(org_admin, state):
    application = application_of(org_admin, state=state)
    before = snapshot(application)
    with pytest.raises(ValidationError):
        application_withdraw(application=application, actor=org_admin)
    assert snapshot(application) == before


def test_an_outsider_cannot_withdraw_another_organisations_application(org_admin, outsider):
    application = application_of(org_admin, state=State.SUBMITTED)
    before = snapshot(application)
    with pytest.raises(PermissionDenied):
        application_withdraw(application=application, actor=outsider)
    assert snapshot(application) == before


@pytest.mark.parametrize("state", [State.REJECTED, State.WITHDRAWN])
def test_a_new_application_can_start_after_a_closed_one(org_admin, state):
    old = application_of(org_admin, state=state)
    new = application_start(actor=org_admin, organization=old.organization)
    assert new.state == State.DRAFT
    assert new.pk != old.pk
    assert AuditEvent.objects.filter(action="application.created", target_id=str(new.pk)).exists()


def test_a_second_open_application_is_refused(org_admin):
    application = application_of(org_admin, state=State.SUBMITTED)
    before = (Application.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ValidationError):
        application_start(actor=org_admin, organization=application.organization)
    assert (Application.objects.count(), AuditEvent.objects.count()) == before


def test_a_member_organisation_does_not_apply_again(org_admin):
    application = application_of(org_admin, state=State.APPROVED)
    Organization.objects.filter(pk=application.organization_id).update(
        status=Organization.Status.MEMBER
    )
    application.organization.refresh_from_db()
    with pytest.raises(ValidationError):
        application_start(actor=org_admin, organization=application.organization)
    assert Application.objects.count() == 1


def test_an_outsider_cannot_start_an_application_for_another_organisation(org_admin, outsider):
    application = application_of(org_admin, state=State.REJECTED)
    with pytest.raises(PermissionDenied):
        application_start(actor=outsider, organization=application.organization)
    assert Application.objects.count() == 1


def test_a_review_is_recorded_by_the_reviewer_who_made_it(org_admin, staff_reviewer):
    application = application_of(org_admin, state=State.IN_REVIEW)
    CriterionReviewFactory(application=application, criterion=criterion(2), reviewer=UserFactory())
    criterion_review_record(
        application=application,
        criterion=criterion(2),
        verdict=Verdict.NOT_MET,
        note="No users outside.",
        actor=staff_reviewer,
    )
    review = CriterionReview.objects.get(application=application, criterion=criterion(2))
    assert (review.reviewer, review.verdict) == (staff_reviewer, Verdict.NOT_MET)
