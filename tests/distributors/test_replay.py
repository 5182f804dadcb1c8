"""The audit events of an application replay its whole history."""

from __future__ import annotations

import pytest
from django.utils import timezone

from core.models import AuditEvent
from distributors.models import Application, Criterion, CriterionReview
from distributors.replay import ReplayError, application_replay
from distributors.selectors import application_history, criteria_active
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
from tests.factories import PolicyAcceptanceFactory, UserFactory, VouchFactory, criterion

State = Application.State
Verdict = CriterionReview.Verdict


def database_view(application: Application) -> dict:
    """The same facts as the replay, read from the tables."""
    application.refresh_from_db()
    return {
        "state": application.state,
        "submitted": application.submitted_at is not None,
        "decided": application.decided_at is not None,
        "verdicts": {
            review.criterion.number: review.verdict
            for review in application.reviews.select_related("criterion")
        },
        "answered": sorted(application.answers.values_list("criterion__number", flat=True)),
        "open_questions": sorted(
            application.questions.filter(replied_at__isnull=True).values_list("pk", flat=True)
        ),
        "decision_reason": application.decision_reason,
    }


def replay(application: Application) -> dict:
    return application_replay(events=list(application_history(application=application)))


def test_the_audit_events_of_an_application_replay_its_whole_history(db, staff_reviewer):
    applicant = UserFactory()
    application = organization_apply(
        actor=applicant, name="Harbour Linux", website="https://harbour.example"
    )
    assert replay(application) == database_view(application)

    # A draft saved in pieces, one answer rewritten; criteria 6 and 7 are met by the
    # applicant's policy acceptance and a member's vouch, not by a written answer.
    PolicyAcceptanceFactory(user=applicant)
    VouchFactory(application=application)
    for item in criteria_active().filter(kind=Criterion.Kind.EVIDENCE):
        criterion_answer_save(
            application=application,
            criterion=item,
            evidence=f"Evidence {item.number}",
            links=[],
            actor=applicant,
        )
    criterion_answer_save(
        application=application,
        criterion=criterion(3),
        evidence="Better evidence",
        links=["https://harbour.example/advisories"],
        actor=applicant,
    )
    assert replay(application) == database_view(application)

    application_submit(application=application, actor=applicant)
    for number in (1, 2, 4, 5, 6, 7):
        criterion_review_record(
            application=application,
            criterion=criterion(number),
            verdict=Verdict.MET,
            note="",
            actor=staff_reviewer,
        )
    criterion_review_record(
        application=application,
        criterion=criterion(3),
        verdict=Verdict.NEEDS_INFO,
        note="Which advisories are from this year?",
        actor=staff_reviewer,
    )
    general = application_ask(
        application=application, text="Who is your contact?", actor=staff_reviewer
    )
    snapshot = database_view(application)
    assert snapshot["state"] == State.NEEDS_INFO
    assert len(snapshot["open_questions"]) == 2
    assert replay(application) == snapshot

    for question in application.questions.all():
        question_reply(question=question, reply="Answered.", actor=applicant)
    assert database_view(application)["state"] == State.IN_REVIEW
    assert replay(application) == database_view(application)
    assert general.pk not in replay(application)["open_questions"]

    criterion_review_record(
        application=application,
        criterion=criterion(3),
        verdict=Verdict.MET,
        note="",
        actor=staff_reviewer,
    )
    application_decide(
        application=application, approve=True, reason="Welcome.", actor=staff_reviewer
    )
    final = database_view(application)
    assert final["state"] == State.APPROVED
    assert final["verdicts"] == {number: Verdict.MET for number in range(1, 8)}
    assert replay(application) == final


def test_a_rejection_and_a_withdrawal_replay_too(db, staff_reviewer):
    applicant = UserFactory()
    application = organization_apply(actor=applicant, name="Fjord", website="https://f.example")
    PolicyAcceptanceFactory(user=applicant)
    VouchFactory(application=application)
    for item in criteria_active().filter(kind=Criterion.Kind.EVIDENCE):
        criterion_answer_save(
            application=application, criterion=item, evidence="x", links=[], actor=applicant
        )
    application_submit(application=application, actor=applicant)
    criterion_review_record(
        application=application,
        criterion=criterion(2),
        verdict=Verdict.NOT_MET,
        note="Internal use only.",
        actor=staff_reviewer,
    )
    application_decide(
        application=application, approve=False, reason="No outside users.", actor=staff_reviewer
    )
    assert replay(application) == database_view(application)

    second = application_start(actor=applicant, organization=application.organization)
    application_withdraw(application=second, actor=applicant, reason="Later.")
    assert replay(second) == database_view(second)
    # Each application's events replay on their own.
    assert replay(application)["state"] == State.REJECTED


def test_a_replay_refuses_events_that_lack_what_it_needs(db):
    now = timezone.now()
    events = [
        AuditEvent(pk=1, action="application.created", data={"to": "draft"}, created_at=now),
        AuditEvent(pk=2, action="application.answer_saved", data={}, created_at=now),
    ]
    with pytest.raises(ReplayError):
        application_replay(events=events)


def test_a_replay_refuses_a_transition_from_the_wrong_state(db):
    now = timezone.now()
    events = [
        AuditEvent(pk=1, action="application.created", data={"to": "draft"}, created_at=now),
        AuditEvent(
            pk=2,
            action="application.approved",
            data={"from": "in_review", "to": "approved"},
            created_at=now,
        ),
    ]
    with pytest.raises(ReplayError):
        application_replay(events=events)
