"""The applicant's pages: every one for anonymous, the owner, another applicant and staff."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.models import AuditEvent
from distributors.models import (
    EVIDENCE_MAX_LENGTH,
    Application,
    CriterionAnswer,
    Organization,
    Question,
    TeamMember,
)
from tests.factories import (
    ApplicationFactory,
    CriterionAnswerFactory,
    QuestionFactory,
    UserFactory,
    answer_all_criteria,
    criterion,
)

State = Application.State


def application_of(user, **kwargs) -> Application:
    organization = user.memberships.get().organization
    return ApplicationFactory(organization=organization, created_by=user, **kwargs)


def world_state() -> tuple:
    return (
        list(Application.objects.order_by("pk").values_list("pk", "state", "submitted_at")),
        list(CriterionAnswer.objects.order_by("pk").values_list("pk", "evidence", "links")),
        list(Question.objects.order_by("pk").values_list("pk", "reply", "replied_at")),
        Organization.objects.count(),
        AuditEvent.objects.count(),
    )


def applicant_requests(application: Application, question: Question) -> list[tuple]:
    """Every applicant URL with a request that would change something if it were allowed."""
    pk = application.pk
    return [
        ("get", reverse("distributors:application_detail", args=[pk]), {}),
        ("get", reverse("distributors:criterion_answer", args=[pk, 1]), {}),
        (
            "post",
            reverse("distributors:criterion_answer", args=[pk, 1]),
            {"evidence": "taken over", "links": ""},
        ),
        ("post", reverse("distributors:application_submit", args=[pk]), {}),
        ("get", reverse("distributors:application_withdraw", args=[pk]), {}),
        ("post", reverse("distributors:application_withdraw", args=[pk]), {"reason": "x"}),
        (
            "post",
            reverse("distributors:question_reply", args=[pk, question.pk]),
            {f"q{question.pk}-reply": "hijacked"},
        ),
        (
            "post",
            reverse("distributors:application_start", args=[application.organization.slug]),
            {},
        ),
    ]


@pytest.fixture
def needs_info_application(org_admin):
    application = application_of(org_admin, state=State.NEEDS_INFO)
    answer_all_criteria(application)
    question = QuestionFactory(application=application, text="Which channels ship the fix?")
    return application, question


# Anonymous visitors


def test_anonymous_visitors_are_sent_to_sign_in_from_every_applicant_page(
    client, needs_info_application
):
    application, question = needs_info_application
    before = world_state()
    requests = [
        *applicant_requests(application, question),
        ("get", reverse("distributors:apply"), {}),
    ]
    for method, url, data in requests:
        response = getattr(client, method)(url, data)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("account_login")), url
    assert world_state() == before


# Another organisation's admin


def test_an_outsider_gets_404_on_every_url_of_another_organisations_application(
    client, outsider, needs_info_application
):
    application, question = needs_info_application
    # The outsider has an application of their own, so their rights are real, just elsewhere.
    application_of(outsider, state=State.DRAFT)
    client.force_login(outsider)
    before = world_state()
    for method, url, data in applicant_requests(application, question):
        response = getattr(client, method)(url, data)
        assert response.status_code == 404, (method, url)
    assert world_state() == before


def test_a_non_admin_team_member_cannot_open_the_application(client, needs_info_application):
    application, question = needs_info_application
    colleague = UserFactory()
    TeamMember.objects.create(organization=application.organization, user=colleague)
    client.force_login(colleague)
    before = world_state()
    for method, url, data in applicant_requests(application, question):
        assert getattr(client, method)(url, data).status_code == 404, (method, url)
    assert world_state() == before


# Staff on the applicant pages


def test_staff_reading_an_application_are_sent_to_the_review_page(
    mfa_client, staff_reviewer, needs_info_application
):
    application, _ = needs_info_application
    response = mfa_client(staff_reviewer).get(application.get_absolute_url())
    assert response.status_code == 302
    assert response.url == application.get_review_url()


def test_staff_cannot_act_for_the_applicant(mfa_client, staff_reviewer, needs_info_application):
    application, question = needs_info_application
    client = mfa_client(staff_reviewer)
    before = world_state()
    for method, url, data in applicant_requests(application, question)[1:]:
        assert getattr(client, method)(url, data).status_code == 404, (method, url)
    assert world_state() == before


def test_a_missing_application_is_404_for_staff_too(mfa_client, staff_reviewer, db):
    url = reverse("distributors:application_detail", args=[999999])
    assert mfa_client(staff_reviewer).get(url).status_code == 404


# The owner: registering


def test_a_new_user_registers_an_organisation_and_lands_on_the_draft(client, db):
    user = UserFactory()
    client.force_login(user)
    assert client.get(reverse("distributors:apply")).status_code == 200
    response = client.post(
        reverse("distributors:apply"), {"name": "Walrus BSD", "website": "https://walrus.example"}
    )
    application = Application.objects.get(organization__name="Walrus BSD")
    assert response.status_code == 302
    assert response.url == application.get_absolute_url()
    assert application.state == State.DRAFT
    assert TeamMember.objects.get(user=user, organization=application.organization).is_admin


def test_registering_with_a_bad_website_shows_the_error_beside_the_field(client, db):
    client.force_login(UserFactory())
    response = client.post(reverse("distributors:apply"), {"name": "X", "website": "nope nope"})
    assert response.status_code == 200
    assert response.context["form"].errors["website"]
    assert b'id="id_website_error"' in response.content
    assert not Organization.objects.exists()


def test_a_taken_name_is_reported_beside_the_name(client, org_admin):
    client.force_login(UserFactory())
    response = client.post(
        reverse("distributors:apply"), {"name": "acme linux", "website": "https://a.example"}
    )
    assert "already exists" in response.context["form"].errors["name"][0]
    assert Organization.objects.count() == 1


def test_the_owner_sees_their_existing_application_instead_of_the_form(client, org_admin):
    application = application_of(org_admin)
    client.force_login(org_admin)
    response = client.get(reverse("distributors:apply"))
    assert application.get_absolute_url().encode() in response.content
    assert b'<form method="post" novalidate>' not in response.content


# The owner: the application page and answers


def test_the_owner_sees_each_criterion_with_the_saved_answer_and_an_edit_link(client, org_admin):
    application = application_of(org_admin)
    CriterionAnswerFactory(
        application=application, criterion=criterion(2), evidence="Thousands of servers."
    )
    client.force_login(org_admin)
    response = client.get(application.get_absolute_url())
    assert response.status_code == 200
    content = response.content.decode()
    for number in range(1, 8):
        assert reverse("distributors:criterion_answer", args=[application.pk, number]) in content
    assert "Thousands of servers." in content
    assert "Edit<span" in content


@pytest.mark.parametrize("state", [State.SUBMITTED, State.IN_REVIEW, State.REJECTED])
def test_there_is_no_edit_link_when_the_state_forbids_changes(client, org_admin, state):
    application = application_of(org_admin, state=state)
    answer_all_criteria(application)
    client.force_login(org_admin)
    content = client.get(application.get_absolute_url()).content.decode()
    assert reverse("distributors:criterion_answer", args=[application.pk, 1]) not in content
    response = client.get(reverse("distributors:criterion_answer", args=[application.pk, 1]))
    assert response.status_code == 302


def test_the_owner_saves_an_answer_and_moves_to_the_next_criterion(client, org_admin):
    application = application_of(org_admin)
    client.force_login(org_admin)
    url = reverse("distributors:criterion_answer", args=[application.pk, 3])
    response = client.post(
        url,
        {
            "evidence": "Advisories since 2019.",
            "links": "https://sec.example/a\r\n\r\nhttps://sec.example/b",
            "then": "next",
        },
    )
    assert response.status_code == 302
    assert response.url == reverse("distributors:criterion_answer", args=[application.pk, 4])
    answer = CriterionAnswer.objects.get(application=application, criterion__number=3)
    assert answer.links == ["https://sec.example/a", "https://sec.example/b"]
    # The saved draft comes back into the form to finish later.
    response = client.get(url)
    assert (
        response.context["form"].initial["links"] == "https://sec.example/a\nhttps://sec.example/b"
    )


def test_an_invalid_link_is_reported_and_nothing_is_saved(client, org_admin):
    application = application_of(org_admin)
    client.force_login(org_admin)
    before = world_state()
    response = client.post(
        reverse("distributors:criterion_answer", args=[application.pk, 1]),
        {"evidence": "fine", "links": "https://ok.example\njavascript:alert(1)"},
    )
    assert response.status_code == 200
    assert "Link 2" in response.context["form"].errors["links"][0]
    assert b"is not a valid http(s) address" in response.content
    assert world_state() == before


def test_over_long_evidence_is_reported_and_nothing_is_saved(client, org_admin):
    application = application_of(org_admin)
    client.force_login(org_admin)
    before = world_state()
    response = client.post(
        reverse("distributors:criterion_answer", args=[application.pk, 1]),
        {"evidence": "x" * (EVIDENCE_MAX_LENGTH + 1), "links": ""},
    )
    assert response.status_code == 200
    assert "at most 5000 characters" in response.context["form"].errors["evidence"][0]
    assert world_state() == before


def test_an_unknown_criterion_number_is_404(client, org_admin):
    application = application_of(org_admin)
    client.force_login(org_admin)
    response = client.get(reverse("distributors:criterion_answer", args=[application.pk, 99]))
    assert response.status_code == 404


# The owner: submitting


def test_the_owner_submits_a_complete_draft(client, org_admin):
    application = application_of(org_admin)
    answer_all_criteria(application)
    client.force_login(org_admin)
    response = client.post(reverse("distributors:application_submit", args=[application.pk]))
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.state == State.SUBMITTED


def test_submitting_an_incomplete_draft_marks_the_missing_criteria(client, org_admin):
    application = application_of(org_admin)
    CriterionAnswerFactory(application=application, criterion=criterion(1))
    client.force_login(org_admin)
    before = world_state()
    response = client.post(reverse("distributors:application_submit", args=[application.pk]))
    assert response.status_code == 400
    content = response.content.decode()
    assert "Answer every criterion first: 2, 3, 4, 5, 6, 7." in content
    assert content.count("Not answered yet: required before submitting.") == 6
    assert world_state() == before


def test_submitting_is_post_only(client, org_admin):
    application = application_of(org_admin)
    answer_all_criteria(application)
    client.force_login(org_admin)
    response = client.get(reverse("distributors:application_submit", args=[application.pk]))
    assert response.status_code == 405
    application.refresh_from_db()
    assert application.state == State.DRAFT


def test_submitting_twice_shows_a_message_and_changes_nothing(client, org_admin):
    application = application_of(org_admin)
    answer_all_criteria(application)
    client.force_login(org_admin)
    url = reverse("distributors:application_submit", args=[application.pk])
    client.post(url)
    before = world_state()
    response = client.post(url)
    assert response.status_code == 400
    assert b"already was" in response.content
    assert world_state() == before


# The owner: questions, reasons, withdrawing, starting again


def test_the_owner_reads_an_open_question_and_replies(client, org_admin, needs_info_application):
    application, question = needs_info_application
    client.force_login(org_admin)
    response = client.get(application.get_absolute_url())
    assert b"Which channels ship the fix?" in response.content
    assert f'name="q{question.pk}-reply"'.encode() in response.content
    response = client.post(
        reverse("distributors:question_reply", args=[application.pk, question.pk]),
        {f"q{question.pk}-reply": "Stable and LTS."},
    )
    assert response.status_code == 302
    question.refresh_from_db()
    application.refresh_from_db()
    assert question.reply == "Stable and LTS."
    assert application.state == State.IN_REVIEW


def test_an_empty_reply_is_shown_as_an_error_beside_the_field(
    client, org_admin, needs_info_application
):
    application, question = needs_info_application
    client.force_login(org_admin)
    before = world_state()
    response = client.post(
        reverse("distributors:question_reply", args=[application.pk, question.pk]),
        {f"q{question.pk}-reply": ""},
    )
    assert response.status_code == 400
    assert f'id="id_q{question.pk}-reply_error"'.encode() in response.content
    assert world_state() == before


def test_the_rejection_reason_is_visible_to_the_applicant(client, org_admin):
    application = application_of(
        org_admin, state=State.REJECTED, decision_reason="No public security fixes found."
    )
    client.force_login(org_admin)
    response = client.get(application.get_absolute_url())
    assert b"No public security fixes found." in response.content


def test_withdrawing_asks_for_confirmation_first(client, org_admin):
    application = application_of(org_admin, state=State.SUBMITTED)
    client.force_login(org_admin)
    url = reverse("distributors:application_withdraw", args=[application.pk])
    before = world_state()
    response = client.get(url)
    assert response.status_code == 200
    assert b"Withdraw application" in response.content
    assert world_state() == before
    response = client.post(url, {"reason": "We merged with another distributor."})
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.state == State.WITHDRAWN


def test_withdrawing_a_closed_application_shows_a_message(client, org_admin):
    application = application_of(org_admin, state=State.REJECTED)
    client.force_login(org_admin)
    before = world_state()
    response = client.post(
        reverse("distributors:application_withdraw", args=[application.pk]), follow=True
    )
    assert b"Only an open application can be withdrawn." in response.content
    assert world_state() == before


def test_an_over_long_withdraw_reason_is_refused(client, org_admin):
    application = application_of(org_admin, state=State.SUBMITTED)
    client.force_login(org_admin)
    before = world_state()
    response = client.post(
        reverse("distributors:application_withdraw", args=[application.pk]),
        {"reason": "x" * 2001},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    assert world_state() == before


def test_the_owner_starts_a_new_application_after_a_closed_one(client, org_admin):
    old = application_of(org_admin, state=State.WITHDRAWN)
    client.force_login(org_admin)
    response = client.get(old.get_absolute_url())
    start_url = reverse("distributors:application_start", args=[old.organization.slug])
    assert start_url.encode() in response.content
    assert client.get(start_url).status_code == 405
    response = client.post(start_url)
    new = Application.objects.exclude(pk=old.pk).get()
    assert response.url == new.get_absolute_url()
    assert new.state == State.DRAFT


def test_starting_again_with_an_open_application_shows_a_message(client, org_admin):
    application = application_of(org_admin, state=State.SUBMITTED)
    client.force_login(org_admin)
    before = world_state()
    response = client.post(
        reverse("distributors:application_start", args=[application.organization.slug]),
        follow=True,
    )
    assert b"already has an open application" in response.content
    assert world_state() == before


def test_the_policy_and_vouch_criteria_show_their_own_steps_not_an_evidence_form(client, org_admin):
    application = application_of(org_admin)
    client.force_login(org_admin)
    policy_page = client.get(reverse("distributors:criterion_answer", args=[application.pk, 6]))
    assert b"Read and accept the embargo policy" in policy_page.content
    assert b'name="evidence"' not in policy_page.content
    vouch_page = client.get(reverse("distributors:criterion_answer", args=[application.pk, 7]))
    assert b'name="voucher_email"' in vouch_page.content
    assert b'name="evidence"' not in vouch_page.content
    before = world_state()
    response = client.post(
        reverse("distributors:criterion_answer", args=[application.pk, 6]),
        {"evidence": "We accept it, promise.", "links": ""},
    )
    assert response.status_code == 302
    assert world_state() == before
