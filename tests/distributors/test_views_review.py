"""The security team's pages: the queue, one application, verdicts, questions, decisions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from distributors.models import (
    Application,
    CriterionAnswer,
    CriterionReview,
    Organization,
    Question,
)
from distributors.services import application_ask, criterion_review_record, question_reply
from tests.factories import (
    ApplicationFactory,
    CriterionAnswerFactory,
    QuestionFactory,
    TeamMemberFactory,
    answer_all_criteria,
    criterion,
    review_all_criteria,
)

State = Application.State
Verdict = CriterionReview.Verdict


def application_of(user, **kwargs) -> Application:
    organization = user.memberships.get().organization
    return ApplicationFactory(organization=organization, created_by=user, **kwargs)


def world_state() -> tuple:
    return (
        list(Application.objects.order_by("pk").values_list("pk", "state", "decided_at")),
        list(CriterionReview.objects.order_by("pk").values_list("pk", "verdict", "note")),
        Question.objects.count(),
        list(Organization.objects.order_by("pk").values_list("pk", "status")),
        AuditEvent.objects.count(),
    )


def staff_requests(application: Application) -> list[tuple]:
    pk = application.pk
    return [
        ("get", reverse("distributors:review_queue"), {}),
        ("get", reverse("distributors:review_detail", args=[pk]), {}),
        (
            "post",
            reverse("distributors:criterion_review", args=[pk, 1]),
            {"c1-verdict": "met", "c1-note": ""},
        ),
        ("post", reverse("distributors:application_ask", args=[pk]), {"text": "Why?"}),
        (
            "post",
            reverse("distributors:application_decide", args=[pk]),
            {"decision": "reject", "reason": "No."},
        ),
        (
            "post",
            reverse("distributors:criteria_review", args=[pk]),
            {"c1-verdict": "met", "c1-note": "", "c2-verdict": "not_met", "c2-note": "No."},
        ),
    ]


@pytest.fixture
def submitted(org_admin):
    application = application_of(org_admin, state=State.SUBMITTED)
    answer_all_criteria(application)
    return application


# Who may open the staff pages


def test_anonymous_visitors_are_sent_to_sign_in_from_every_staff_page(client, submitted):
    before = world_state()
    for method, url, data in staff_requests(submitted):
        response = getattr(client, method)(url, data)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("account_login")), url
    assert world_state() == before


def test_the_applicant_gets_404_on_every_staff_page(client, org_admin, submitted):
    client.force_login(org_admin)
    before = world_state()
    for method, url, data in staff_requests(submitted):
        assert getattr(client, method)(url, data).status_code == 404, url
    assert world_state() == before


def test_another_applicant_gets_404_on_every_staff_page(client, outsider, submitted):
    client.force_login(outsider)
    before = world_state()
    for method, url, data in staff_requests(submitted):
        assert getattr(client, method)(url, data).status_code == 404, url
    assert world_state() == before


def test_staff_without_mfa_are_sent_to_enrol_first(client, staff_without_mfa, submitted):
    client.force_login(staff_without_mfa)
    before = world_state()
    for method, url, data in staff_requests(submitted):
        response = getattr(client, method)(url, data)
        assert response.status_code == 302, url
        assert response.url == reverse("mfa_activate_totp"), url
    assert world_state() == before


def test_staff_without_mfa_are_sent_to_enrol_before_the_admin(client, staff_without_mfa):
    client.force_login(staff_without_mfa)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.url == reverse("mfa_activate_totp")


def test_staff_with_mfa_open_the_queue_and_the_detail(mfa_client, staff_reviewer, submitted):
    client = mfa_client(staff_reviewer)
    assert client.get(reverse("distributors:review_queue")).status_code == 200
    assert client.get(submitted.get_review_url()).status_code == 200


def test_a_draft_is_not_on_the_staff_pages(mfa_client, staff_reviewer, org_admin):
    draft = application_of(org_admin)
    client = mfa_client(staff_reviewer)
    assert client.get(draft.get_review_url()).status_code == 404
    assert f"#{draft.pk}".encode() not in client.get(reverse("distributors:review_queue")).content


@pytest.mark.parametrize("index", [2, 3, 4, 5])
def test_staff_actions_are_post_only(mfa_client, staff_reviewer, submitted, index):
    _, url, _ = staff_requests(submitted)[index]
    before = world_state()
    assert mfa_client(staff_reviewer).get(url).status_code == 405
    assert world_state() == before


# The queue


def test_the_queue_lists_open_applications_oldest_first(mfa_client, staff_reviewer):
    now = timezone.now()
    newer = ApplicationFactory(state=State.SUBMITTED, submitted_at=now - timedelta(days=1))
    older = ApplicationFactory(state=State.NEEDS_INFO, submitted_at=now - timedelta(days=20))
    middle = ApplicationFactory(state=State.IN_REVIEW, submitted_at=now - timedelta(days=5))
    for state in (State.DRAFT, State.APPROVED, State.REJECTED, State.WITHDRAWN):
        ApplicationFactory(state=state)
    response = mfa_client(staff_reviewer).get(reverse("distributors:review_queue"))
    listed = [row["application"].pk for row in response.context["rows"]]
    assert listed == [older.pk, middle.pk, newer.pk]
    assert [row["waiting_days"] for row in response.context["rows"]] == [20, 5, 1]


def test_the_queue_filters_by_state_and_age(mfa_client, staff_reviewer):
    now = timezone.now()
    fresh = ApplicationFactory(state=State.SUBMITTED, submitted_at=now - timedelta(days=1))
    stale = ApplicationFactory(state=State.SUBMITTED, submitted_at=now - timedelta(days=30))
    waiting = ApplicationFactory(state=State.NEEDS_INFO, submitted_at=now - timedelta(days=30))
    client = mfa_client(staff_reviewer)

    def listed(params):
        response = client.get(reverse("distributors:review_queue"), params)
        assert response.status_code == 200
        return {row["application"].pk for row in response.context["rows"]}

    assert listed({"state": "submitted"}) == {fresh.pk, stale.pk}
    assert listed({"older_than_days": "7"}) == {stale.pk, waiting.pk}
    assert listed({"state": "submitted", "older_than_days": "7"}) == {stale.pk}
    assert listed({"state": "", "older_than_days": ""}) == {fresh.pk, stale.pk, waiting.pk}


@pytest.mark.parametrize(
    "params",
    [
        {"state": "approved"},
        {"state": "<script>"},
        {"older_than_days": "abc"},
        {"older_than_days": "-3"},
        {"older_than_days": "99999999999999999999"},
    ],
)
def test_a_bad_filter_shows_a_message_not_an_error(mfa_client, staff_reviewer, submitted, params):
    response = mfa_client(staff_reviewer).get(reverse("distributors:review_queue"), params)
    assert response.status_code == 200
    assert b"The filter was not applied" in response.content
    assert response.context["form"].errors
    # The queue still shows, unfiltered, so the page stays useful.
    assert [row["application"].pk for row in response.context["rows"]] == [submitted.pk]


def test_the_queue_query_count_does_not_grow_with_rows(
    mfa_client, staff_reviewer, django_assert_max_num_queries
):
    client = mfa_client(staff_reviewer)
    url = reverse("distributors:review_queue")
    for _ in range(3):
        QuestionFactory(application=ApplicationFactory(state=State.NEEDS_INFO))
    client.get(url)  # warm the session and content-type caches
    with CaptureQueriesContext(connection) as few:
        assert len(client.get(url).context["rows"]) == 3
    for _ in range(27):
        QuestionFactory(application=ApplicationFactory(state=State.NEEDS_INFO))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert len(response.context["rows"]) == 30
    assert all(row["application"].open_questions == 1 for row in response.context["rows"])


# One application


def test_the_detail_shows_evidence_and_links_beside_the_current_verdict(
    mfa_client, staff_reviewer, org_admin
):
    application = application_of(org_admin, state=State.IN_REVIEW)
    CriterionAnswerFactory(
        application=application,
        criterion=criterion(3),
        evidence="We published 41 advisories.",
        links=["https://sec.example/advisories"],
    )
    criterion_review_record(
        application=application,
        criterion=criterion(3),
        verdict=Verdict.NOT_MET,
        note="The newest advisory is from 2019.",
        actor=staff_reviewer,
    )
    response = mfa_client(staff_reviewer).get(application.get_review_url())
    row = next(r for r in response.context["rows"] if r["criterion"].number == 3)
    assert row["answer"].evidence == "We published 41 advisories."
    assert row["review"].verdict == Verdict.NOT_MET
    content = response.content.decode()
    section = content[content.index('id="criterion-3"') : content.index('id="criterion-4"')]
    assert "We published 41 advisories." in section
    assert 'href="https://sec.example/advisories"' in section
    assert "The newest advisory is from 2019." in section
    assert 'name="c3-verdict"' in section


def test_the_history_names_the_actor_the_action_and_the_time_in_utc(
    mfa_client, staff_reviewer, org_admin
):
    application = application_of(org_admin, state=State.SUBMITTED)
    answer_all_criteria(application)
    criterion_review_record(
        application=application,
        criterion=criterion(2),
        verdict=Verdict.MET,
        note="",
        actor=staff_reviewer,
    )
    response = mfa_client(staff_reviewer).get(application.get_review_url())
    words = [row["words"] for row in response.context["history"]]
    assert words == ["recorded “met” for criterion 2", "started the review"]
    content = response.content.decode()
    event = AuditEvent.objects.get(action="application.review_started")
    assert f"{event.created_at:%Y-%m-%d %H:%M:%S} UTC" in content
    assert staff_reviewer.email in content
    assert "(Submitted → In review)" in content


def test_the_detail_query_count_does_not_grow_with_questions_and_history(
    mfa_client, staff_reviewer, org_admin, outsider, django_assert_max_num_queries
):
    client = mfa_client(staff_reviewer)
    small = application_of(org_admin, state=State.IN_REVIEW)
    answer_all_criteria(small)
    application_ask(application=small, text="One?", actor=staff_reviewer)
    client.get(small.get_review_url())
    with CaptureQueriesContext(connection) as few:
        client.get(small.get_review_url())
    large = application_of(outsider, state=State.IN_REVIEW)
    answer_all_criteria(large)
    review_all_criteria(large, staff_reviewer, verdict=Verdict.MET)
    for number in range(10):
        question = application_ask(application=large, text=f"Q{number}?", actor=staff_reviewer)
        question_reply(question=question, reply=f"A{number}.", actor=outsider)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(large.get_review_url())
    assert len(response.context["history"]) >= 30
    assert len(response.context["questions"]) == 10


# Recording verdicts and asking


def test_a_reviewer_records_a_verdict_per_criterion(mfa_client, staff_reviewer, submitted):
    response = mfa_client(staff_reviewer).post(
        reverse("distributors:criterion_review", args=[submitted.pk, 4]),
        {"c4-verdict": "met", "c4-note": "Independent build farm."},
    )
    assert response.status_code == 302
    review = CriterionReview.objects.get(application=submitted)
    assert (review.criterion.number, review.verdict, review.note) == (
        4,
        "met",
        "Independent build farm.",
    )
    submitted.refresh_from_db()
    assert submitted.state == State.IN_REVIEW


def test_a_verdict_without_its_note_is_shown_beside_the_field(
    mfa_client, staff_reviewer, submitted
):
    before = world_state()
    response = mfa_client(staff_reviewer).post(
        reverse("distributors:criterion_review", args=[submitted.pk, 4]),
        {"c4-verdict": "not_met", "c4-note": ""},
    )
    assert response.status_code == 400
    row = next(r for r in response.context["rows"] if r["criterion"].number == 4)
    assert row["form"].errors["note"]
    assert b'id="id_c4-note_error"' in response.content
    assert world_state() == before


def test_an_unknown_verdict_is_refused(mfa_client, staff_reviewer, submitted):
    before = world_state()
    response = mfa_client(staff_reviewer).post(
        reverse("distributors:criterion_review", args=[submitted.pk, 4]),
        {"c4-verdict": "probably", "c4-note": ""},
    )
    assert response.status_code == 400
    assert world_state() == before


def test_a_needs_information_verdict_becomes_a_question_for_the_applicant(
    mfa_client, staff_reviewer, submitted, org_admin, client
):
    mfa_client(staff_reviewer).post(
        reverse("distributors:criterion_review", args=[submitted.pk, 5]),
        {"c5-verdict": "needs_info", "c5-note": "Link your upstream patches."},
    )
    submitted.refresh_from_db()
    assert submitted.state == State.NEEDS_INFO
    client.force_login(org_admin)
    assert b"Link your upstream patches." in client.get(submitted.get_absolute_url()).content


def test_a_reviewer_asks_a_general_question(mfa_client, staff_reviewer, submitted):
    response = mfa_client(staff_reviewer).post(
        reverse("distributors:application_ask", args=[submitted.pk]),
        {"text": "Who is your security contact?"},
    )
    assert response.status_code == 302
    question = Question.objects.get(application=submitted)
    assert question.criterion is None
    submitted.refresh_from_db()
    assert submitted.state == State.NEEDS_INFO


def test_an_over_long_question_is_refused(mfa_client, staff_reviewer, submitted):
    before = world_state()
    response = mfa_client(staff_reviewer).post(
        reverse("distributors:application_ask", args=[submitted.pk]), {"text": "x" * 2001}
    )
    assert response.status_code == 400
    assert response.context["ask_form"].errors["text"]
    assert world_state() == before


# Deciding


@pytest.mark.parametrize("verdict", [Verdict.NOT_MET, Verdict.NEEDS_INFO, None])
def test_a_reviewer_cannot_approve_with_any_criterion_not_met(
    mfa_client, staff_reviewer, org_admin, verdict
):
    application = application_of(org_admin, state=State.IN_REVIEW)
    answer_all_criteria(application)
    review_all_criteria(application, staff_reviewer)
    review = CriterionReview.objects.get(application=application, criterion__number=6)
    if verdict is None:
        review.delete()
    else:
        review.verdict = verdict
        review.save(update_fields=["verdict"])
    before = world_state()
    response = mfa_client(staff_reviewer).post(
        reverse("distributors:application_decide", args=[application.pk]),
        {"decision": "approve", "reason": "Looks fine."},
    )
    assert response.status_code == 400
    assert b"Not approved." in response.content
    assert b"Criterion 6 (" in response.content
    assert world_state() == before


def test_approving_makes_the_organisation_a_member_and_mails_its_admins_without_evidence(
    mfa_client, staff_reviewer, org_admin, mailoutbox, django_capture_on_commit_callbacks
):
    application = application_of(org_admin, state=State.IN_REVIEW)
    answer_all_criteria(application)
    CriterionAnswer.objects.filter(application=application, criterion__number=1).update(
        evidence="SECRET-EVIDENCE-MARKER shipped to 3 customers"
    )
    review_all_criteria(application, staff_reviewer)
    colleague = TeamMemberFactory(organization=application.organization, is_admin=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = mfa_client(staff_reviewer).post(
            reverse("distributors:application_decide", args=[application.pk]),
            {"decision": "approve", "reason": "Welcome aboard."},
        )
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.state == State.APPROVED
    assert application.organization.status == Organization.Status.MEMBER
    assert [message.to for message in mailoutbox] == [[org_admin.email]]
    message = mailoutbox[0]
    assert colleague.user.email not in message.to
    assert "Approved" in message.body
    assert application.get_absolute_url() in message.body
    for text in ("SECRET-EVIDENCE-MARKER", "shipped to 3 customers", "Welcome aboard."):
        assert text not in message.body
        assert text not in message.subject


def test_rejecting_shows_the_reason_to_the_applicant(
    mfa_client, staff_reviewer, submitted, org_admin, client
):
    response = mfa_client(staff_reviewer).post(
        reverse("distributors:application_decide", args=[submitted.pk]),
        {"decision": "reject", "reason": "Your last security fix was in 2017."},
    )
    assert response.status_code == 302
    submitted.refresh_from_db()
    assert submitted.state == State.REJECTED
    client.force_login(org_admin)
    assert (
        b"Your last security fix was in 2017." in client.get(submitted.get_absolute_url()).content
    )


def test_a_decision_without_a_reason_is_shown_beside_the_field(
    mfa_client, staff_reviewer, submitted
):
    before = world_state()
    response = mfa_client(staff_reviewer).post(
        reverse("distributors:application_decide", args=[submitted.pk]),
        {"decision": "reject", "reason": ""},
    )
    assert response.status_code == 400
    assert response.context["decide_form"].errors["reason"]
    assert world_state() == before


@pytest.mark.parametrize("state", [State.APPROVED, State.REJECTED, State.WITHDRAWN])
def test_deciding_again_shows_a_message_and_changes_nothing(
    mfa_client, staff_reviewer, org_admin, state
):
    application = application_of(org_admin, state=state, decided_at=timezone.now())
    client = mfa_client(staff_reviewer)
    response = client.get(application.get_review_url())
    assert response.status_code == 200
    assert b'name="decision"' not in response.content
    before = world_state()
    response = client.post(
        reverse("distributors:application_decide", args=[application.pk]),
        {"decision": "reject", "reason": "Again."},
    )
    assert response.status_code == 400
    assert b"already" in response.content
    assert world_state() == before


def test_the_reviewer_sees_the_vouch_and_policy_beside_criteria_6_and_7(
    mfa_client, staff_reviewer, submitted
):
    content = mfa_client(staff_reviewer).get(submitted.get_review_url()).content.decode()
    vouch = submitted.vouches.get()
    section_6 = content[content.index('id="criterion-6"') : content.index('id="criterion-7"')]
    section_7 = content[
        content.index('id="criterion-7"') : content.index('<h2 id="questions-title">Questions</h2>')
    ]
    assert "Accepted" in section_6
    assert vouch.voucher.email in section_7
    assert vouch.statement in section_7
