"""The one-page review: every verdict in one form, progress, errors linked from the top and
the exact list of what blocks approval (the same list the approval service refuses on)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import AuditEvent
from distributors.models import Application, CriterionReview, Question, Vouch
from distributors.selectors import application_approval_blockers
from distributors.services import application_ask, application_decide, criteria_review_record
from tests.factories import (
    ApplicationFactory,
    answer_all_criteria,
    criterion,
    review_all_criteria,
)

State = Application.State
Verdict = CriterionReview.Verdict


def application_of(user, **kwargs) -> Application:
    organization = user.memberships.get().organization
    application = ApplicationFactory(organization=organization, created_by=user, **kwargs)
    answer_all_criteria(application)
    return application


def world_state() -> tuple:
    return (
        list(Application.objects.order_by("pk").values_list("pk", "state")),
        list(CriterionReview.objects.order_by("pk").values_list("pk", "verdict", "note")),
        Question.objects.count(),
        AuditEvent.objects.count(),
    )


def all_met(numbers=range(1, 8)) -> dict:
    return {f"c{number}-verdict": "met" for number in numbers}


@pytest.fixture
def submitted(org_admin):
    return application_of(org_admin, state=State.SUBMITTED)


def review_url(application) -> str:
    return reverse("distributors:criteria_review", args=[application.pk])


# The service


def test_it_records_every_given_verdict_in_one_call_audited_per_criterion(
    org_admin, staff_reviewer, submitted
):
    reviews = criteria_review_record(
        application=submitted,
        verdicts={1: ("met", ""), 2: ("not_met", "No advisories."), 3: ("", "")},
        actor=staff_reviewer,
    )
    assert [review.criterion.number for review in reviews] == [1, 2]
    audited = AuditEvent.objects.filter(action="application.criterion_reviewed")
    assert sorted(event.data["criterion"] for event in audited) == [1, 2]
    submitted.refresh_from_db()
    assert submitted.state == State.IN_REVIEW


def test_it_records_nothing_when_one_verdict_breaks_a_rule(staff_reviewer, submitted):
    before = world_state()
    with pytest.raises(ValidationError) as raised:
        criteria_review_record(
            application=submitted,
            verdicts={1: ("met", ""), 2: ("not_met", ""), 4: ("maybe", "")},
            actor=staff_reviewer,
        )
    assert set(raised.value.message_dict) == {"c2-note", "c4-verdict"}
    assert world_state() == before


def test_it_does_not_record_an_unchanged_verdict_twice(staff_reviewer, submitted):
    criteria_review_record(
        application=submitted, verdicts={5: ("needs_info", "Which patches?")}, actor=staff_reviewer
    )
    before = world_state()
    assert (
        criteria_review_record(
            application=submitted,
            verdicts={5: ("needs_info", "Which patches?")},
            actor=staff_reviewer,
        )
        == []
    )
    assert world_state() == before


def test_it_refuses_a_non_staff_actor(org_admin, submitted):
    before = world_state()
    with pytest.raises(PermissionDenied):
        criteria_review_record(application=submitted, verdicts={1: ("met", "")}, actor=org_admin)
    assert world_state() == before


# The blockers


def test_the_blockers_name_each_unreviewed_and_failed_criterion(staff_reviewer, org_admin):
    application = application_of(org_admin, state=State.IN_REVIEW)
    criteria_review_record(
        application=application,
        verdicts={1: ("met", ""), 2: ("not_met", "Old."), **{n: ("met", "") for n in (4, 5, 6, 7)}},
        actor=staff_reviewer,
    )
    messages = [b.message for b in application_approval_blockers(application=application)]
    assert messages == [
        f"Criterion 2 ({criterion(2).title}) is reviewed as “Not met”.",
        f"Criterion 3 ({criterion(3).title}) is not reviewed yet.",
    ]


def test_the_blockers_name_open_questions_a_missing_vouch_and_policy(staff_reviewer, org_admin):
    application = application_of(org_admin, state=State.IN_REVIEW)
    review_all_criteria(application, staff_reviewer)
    question = application_ask(application=application, text="Who?", actor=staff_reviewer)
    Vouch.objects.filter(application=application).update(state=Vouch.State.DECLINED)
    application.created_by.policy_acceptances.all().delete()
    blockers = application_approval_blockers(application=application)
    assert [b.kind for b in blockers] == ["question", "vouch", "policy"]
    assert blockers[0].anchor == f"question-{question.pk}"
    assert blockers[1].anchor == "criterion-7"
    assert blockers[2].anchor == "criterion-6"


def test_the_approval_refusal_says_exactly_what_blocks_it(staff_reviewer, org_admin):
    application = application_of(org_admin, state=State.IN_REVIEW)
    review_all_criteria(application, staff_reviewer)
    application_ask(application=application, text="Who?", actor=staff_reviewer)
    before = world_state()
    with pytest.raises(ValidationError) as raised:
        application_decide(application=application, approve=True, reason="OK", actor=staff_reviewer)
    assert "waiting for the applicant's reply" in raised.value.messages[0]
    assert world_state() == before


def test_nothing_blocks_a_fully_met_application(staff_reviewer, org_admin):
    application = application_of(org_admin, state=State.IN_REVIEW)
    review_all_criteria(application, staff_reviewer)
    assert application_approval_blockers(application=application) == []


# The page


def test_the_page_shows_one_form_progress_and_the_blockers(mfa_client, staff_reviewer, submitted):
    criteria_review_record(
        application=submitted,
        verdicts={n: ("met", "") for n in range(1, 6)},
        actor=staff_reviewer,
    )
    content = mfa_client(staff_reviewer).get(submitted.get_review_url()).content.decode()
    assert content.count(f'action="{review_url(submitted)}"') == 1
    assert "Record the verdict on criterion" not in content
    assert "5/7 reviewed" in content
    assert "Approval is blocked by:" in content
    assert 'href="#criterion-6"' in content
    assert 'href="#criterion-7"' in content


def test_one_post_records_all_seven_verdicts(mfa_client, staff_reviewer, submitted):
    response = mfa_client(staff_reviewer).post(review_url(submitted), all_met())
    assert response.status_code == 302
    assert response.url.endswith("#criteria-title")
    assert CriterionReview.objects.filter(application=submitted, verdict="met").count() == 7
    submitted.refresh_from_db()
    assert application_approval_blockers(application=submitted) == []


def test_a_refused_verdict_is_shown_beside_it_and_linked_from_the_top(
    mfa_client, staff_reviewer, submitted
):
    Vouch.objects.filter(application=submitted).update(state=Vouch.State.DECLINED)
    before = world_state()
    data = {**all_met(), "c3-verdict": "not_met", "c3-note": ""}
    response = mfa_client(staff_reviewer).post(review_url(submitted), data)
    assert response.status_code == 400
    assert world_state() == before
    content = response.content.decode()
    summary = content[content.index('id="review-errors-title"') : content.index("criteria-title")]
    assert 'href="#criterion-3"' in summary
    assert 'href="#criterion-7"' in summary
    section_7 = content[content.index('id="criterion-7"') :]
    assert 'id="id_c7-verdict_error"' in section_7
    assert 'id="id_c3-note_error"' in content
    # What was typed is still there.
    assert 'name="c1-verdict" value="met" id="id_c1-verdict_0" checked' in content


@pytest.mark.parametrize("who", ["anonymous", "org_admin", "outsider"])
def test_only_staff_can_post_the_review(client, request, who, submitted):
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))
    before = world_state()
    response = client.post(review_url(submitted), all_met())
    assert response.status_code in (302, 404)
    if who != "anonymous":
        assert response.status_code == 404
    assert world_state() == before


def test_a_decided_application_cannot_be_reviewed(mfa_client, staff_reviewer, org_admin):
    application = application_of(org_admin, state=State.REJECTED)
    before = world_state()
    response = mfa_client(staff_reviewer).post(review_url(application), all_met())
    assert response.status_code == 400
    assert world_state() == before


def test_the_review_page_query_count_does_not_grow_with_open_questions(
    mfa_client, staff_reviewer, org_admin, outsider, django_assert_max_num_queries
):
    client = mfa_client(staff_reviewer)
    small = application_of(org_admin, state=State.IN_REVIEW)
    application_ask(application=small, text="One?", actor=staff_reviewer)
    client.get(small.get_review_url())
    with CaptureQueriesContext(connection) as few:
        client.get(small.get_review_url())
    large = application_of(outsider, state=State.IN_REVIEW)
    for number in range(10):
        application_ask(application=large, text=f"Q{number}?", actor=staff_reviewer)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(large.get_review_url())
    assert len([b for b in response.context["blockers"] if b.kind == "question"]) == 10
