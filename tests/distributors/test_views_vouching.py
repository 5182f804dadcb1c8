"""The vouching pages: the applicant asks, the voucher answers, staff see the graph."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from core.models import AuditEvent
from distributors.models import Application, Organization, Vouch
from distributors.services.vouching import VOUCHER_REFUSED
from tests.conftest import enable_totp, sign_in_with_mfa
from tests.factories import (
    ApplicationFactory,
    MemberOrganizationFactory,
    OrganizationFactory,
    TeamMemberFactory,
    UserFactory,
    VouchFactory,
)

pytestmark = pytest.mark.django_db
State = Vouch.State


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def answering(user) -> Client:
    """Signed in with a second factor, which answering a request needs."""
    return sign_in_with_mfa(Client(), user)


@pytest.fixture
def application(org_admin) -> Application:
    return ApplicationFactory(
        organization=org_admin.memberships.get().organization, created_by=org_admin
    )


@pytest.fixture
def voucher():
    return TeamMemberFactory(
        organization=MemberOrganizationFactory(name="Trusted Distro"),
        user=UserFactory(email="friend@trusted.example.org"),
    ).user


@pytest.fixture
def vouch(application, voucher) -> Vouch:
    return VouchFactory(
        application=application,
        voucher=voucher,
        voucher_organization=voucher.memberships.get().organization,
        state=State.REQUESTED,
        statement="",
    )


def snapshot() -> tuple:
    return (
        list(Vouch.objects.order_by("pk").values_list("pk", "state", "statement")),
        AuditEvent.objects.count(),
    )


def request_url(application) -> str:
    return reverse("distributors:vouch_request", args=[application.pk])


def withdraw_url(vouch) -> str:
    return reverse("distributors:vouch_withdraw", args=[vouch.application_id, vouch.pk])


def detail_url(vouch) -> str:
    return reverse("distributors:vouch_detail", args=[vouch.pk])


# --- Asking (applicant) -----------------------------------------------------------------------


def test_an_anonymous_visitor_cannot_ask_for_a_vouch(client, application, voucher):
    before = snapshot()
    response = client.post(request_url(application), {"voucher_email": voucher.email})
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]
    assert snapshot() == before


def test_the_applicant_asks_for_a_vouch_and_returns_to_the_vouch_criterion(
    org_admin, application, voucher
):
    response = logged_in(org_admin).post(request_url(application), {"voucher_email": voucher.email})
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "distributors:criterion_answer", kwargs={"pk": application.pk, "number": 7}
    )
    assert Vouch.objects.get().voucher == voucher


def test_the_applicant_sees_the_generic_refusal_for_a_non_member(org_admin, application):
    stranger = TeamMemberFactory(organization=OrganizationFactory()).user
    before = snapshot()
    response = logged_in(org_admin).post(
        request_url(application), {"voucher_email": stranger.email}
    )
    assert response.status_code == 400
    assert response.context["vouch_form"].errors["voucher_email"] == [VOUCHER_REFUSED]
    assert snapshot() == before


@pytest.mark.parametrize("who", ["outsider", "staff_reviewer"])
def test_another_organisation_or_staff_cannot_ask_on_the_applicants_behalf(
    request, who, application, voucher
):
    user = request.getfixturevalue(who)
    before = snapshot()
    response = logged_in(user).post(request_url(application), {"voucher_email": voucher.email})
    assert response.status_code == 404
    assert snapshot() == before


def test_asking_is_post_only(org_admin, application):
    assert logged_in(org_admin).get(request_url(application)).status_code == 405


# --- Withdrawing (applicant) ------------------------------------------------------------------


def test_the_applicant_withdraws_a_request(org_admin, vouch):
    assert logged_in(org_admin).post(withdraw_url(vouch)).status_code == 302
    vouch.refresh_from_db()
    assert vouch.state == State.WITHDRAWN


def test_an_anonymous_visitor_cannot_withdraw(client, vouch):
    before = snapshot()
    assert client.post(withdraw_url(vouch)).status_code == 302
    assert snapshot() == before


@pytest.mark.parametrize("who", ["outsider", "staff_reviewer", "voucher"])
def test_nobody_but_the_applicant_can_withdraw(request, who, vouch):
    before = snapshot()
    assert logged_in(request.getfixturevalue(who)).post(withdraw_url(vouch)).status_code == 404
    assert snapshot() == before


# --- The voucher's pages ---------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in_from_the_vouch_pages(client, vouch):
    for url in (reverse("distributors:vouch_list"), detail_url(vouch)):
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("account_login") in response["Location"]
    before = snapshot()
    client.post(detail_url(vouch), {"action": "confirm", "statement": "Sure."})
    assert snapshot() == before


def test_the_voucher_lists_the_requests_addressed_to_them(voucher, vouch):
    response = logged_in(voucher).get(reverse("distributors:vouch_list"))
    assert response.status_code == 200
    assert b"Acme Linux" in response.content
    assert detail_url(vouch).encode() in response.content


@pytest.mark.parametrize("who", ["org_admin", "outsider", "staff_reviewer"])
def test_nobody_else_sees_a_request_in_their_list(request, who, vouch):
    response = logged_in(request.getfixturevalue(who)).get(reverse("distributors:vouch_list"))
    assert response.status_code == 200
    assert detail_url(vouch).encode() not in response.content


def test_the_voucher_opens_the_request_and_sees_who_asks(voucher, vouch):
    response = answering(voucher).get(detail_url(vouch))
    assert response.status_code == 200
    assert b"Acme Linux" in response.content
    assert b"I vouch for them" in response.content


@pytest.mark.parametrize("who", ["org_admin", "outsider", "staff_reviewer"])
def test_a_request_is_a_404_for_anyone_but_the_voucher(request, who, vouch):
    client = answering(request.getfixturevalue(who))
    before = snapshot()
    assert client.get(detail_url(vouch)).status_code == 404
    response = client.post(detail_url(vouch), {"action": "confirm", "statement": "Sure."})
    assert response.status_code == 404
    assert snapshot() == before


def test_a_voucher_without_two_factor_is_sent_to_set_it_up_before_answering(voucher, vouch):
    client = logged_in(voucher)
    before = snapshot()
    for response in (
        client.get(detail_url(vouch)),
        client.post(detail_url(vouch), {"action": "confirm", "statement": "I know them."}),
    ):
        assert response.status_code == 302
        assert response["Location"] == reverse("mfa_activate_totp")
    assert snapshot() == before


def test_a_voucher_signed_in_with_a_password_alone_confirms_the_second_factor_first(voucher, vouch):
    enable_totp(voucher)
    client = logged_in(voucher)
    before = snapshot()
    response = client.post(detail_url(vouch), {"action": "decline", "statement": ""})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_reauthenticate"))
    assert snapshot() == before


def test_the_voucher_confirms_with_a_statement(voucher, vouch):
    response = answering(voucher).post(
        detail_url(vouch), {"action": "confirm", "statement": "I know them well."}
    )
    assert response.status_code == 302
    vouch.refresh_from_db()
    assert vouch.state == State.CONFIRMED
    assert vouch.statement == "I know them well."


def test_confirming_without_a_statement_shows_the_error_and_changes_nothing(voucher, vouch):
    before = snapshot()
    response = answering(voucher).post(detail_url(vouch), {"action": "confirm", "statement": ""})
    assert response.status_code == 200
    assert b"Say in a sentence or two" in response.content
    assert snapshot() == before


def test_the_voucher_declines(voucher, vouch):
    answering(voucher).post(detail_url(vouch), {"action": "decline", "statement": ""})
    vouch.refresh_from_db()
    assert vouch.state == State.DECLINED


def test_a_suspended_voucher_gets_a_clear_message_when_confirming(voucher, vouch):
    Organization.objects.filter(pk=vouch.voucher_organization_id).update(
        status=Organization.Status.SUSPENDED
    )
    before = snapshot()
    response = answering(voucher).post(
        detail_url(vouch), {"action": "confirm", "statement": "Sure."}
    )
    assert response.status_code == 200
    assert b"good standing" in response.content
    assert snapshot() == before


# --- Applicant's criterion-7 block ----------------------------------------------------------


def test_the_applicant_status_block_says_who_still_has_to_vouch(rf, org_admin, vouch):
    from django.template import Context, Template

    request = rf.get("/")
    request.user = org_admin
    html = Template("{% load trust %}{% vouch_status application %}").render(
        Context({"application": vouch.application, "request": request, "csrf_token": "t"})
    )
    assert "Still to answer: friend@trusted.example.org" in html
    assert withdraw_url(vouch) in html


def test_the_reviewer_block_shows_who_vouched_when_and_what_they_said(application):
    from django.template import Context, Template

    confirmed = VouchFactory(application=application, statement="Known them since 2019.")
    html = Template("{% load trust %}{% vouch_review application %}").render(
        Context({"application": application})
    )
    assert confirmed.voucher.email in html
    assert "Known them since 2019." in html
    assert "Confirmed by a voucher in good standing" in html


# --- The vouch graph (staff) ------------------------------------------------------------------

GRAPH_URL = reverse("distributors:vouch_graph")


def test_the_vouch_graph_sends_anonymous_visitors_to_sign_in(client):
    response = client.get(GRAPH_URL)
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


@pytest.mark.parametrize("who", ["org_admin", "outsider", "voucher"])
def test_the_vouch_graph_is_a_404_for_organisation_people(request, who):
    VouchFactory()
    assert logged_in(request.getfixturevalue(who)).get(GRAPH_URL).status_code == 404


def test_staff_see_who_vouched_for_whom_with_each_organisations_status(staff_reviewer, mfa_client):
    vouch = VouchFactory(statement="Trusted partner.")
    response = mfa_client(staff_reviewer).get(GRAPH_URL)
    assert response.status_code == 200
    content = response.content.decode()
    assert vouch.voucher.email in content
    assert str(vouch.voucher_organization) in content
    assert str(vouch.application.organization) in content
    assert "Trusted partner." in content
    assert 'class="badge member"' in content and 'class="badge applicant"' in content


def test_the_vouch_graph_highlights_a_removed_members_vouches(staff_reviewer, mfa_client):
    fine = VouchFactory()
    removed = VouchFactory(
        voucher_organization=MemberOrganizationFactory(status=Organization.Status.REMOVED)
    )
    client = mfa_client(staff_reviewer)
    content = client.get(GRAPH_URL).content.decode()
    assert content.count('class="flagged"') == 1
    flagged_only = client.get(GRAPH_URL, {"flagged": "on"}).content.decode()
    assert removed.voucher.email in flagged_only
    assert fine.voucher.email not in flagged_only


def test_the_vouch_graph_query_count_is_the_same_for_3_and_30_vouches(staff_reviewer, mfa_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = mfa_client(staff_reviewer)
    counts = []
    for total in (3, 30):
        VouchFactory.create_batch(total - Vouch.objects.count())
        with CaptureQueriesContext(connection) as queries:
            response = client.get(GRAPH_URL)
        assert response.content.decode().count("<tr") == total + 1
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert counts[1] <= 12


# --- Criteria 6 and 7 on the application pages ------------------------------------------------


def test_the_vouch_criterion_page_shows_the_request_form_and_who_is_waiting(org_admin, vouch):
    url = reverse("distributors:criterion_answer", args=[vouch.application_id, 7])
    content = logged_in(org_admin).get(url).content.decode()
    assert request_url(vouch.application) in content
    assert 'name="voucher_email"' in content
    assert "Still to answer: friend@trusted.example.org" in content


def test_the_application_page_says_who_still_has_to_vouch(org_admin, vouch):
    content = logged_in(org_admin).get(vouch.application.get_absolute_url()).content.decode()
    assert "Still to answer: friend@trusted.example.org" in content


def test_during_review_the_applicant_can_still_ask_from_the_application_page(
    org_admin, vouch, voucher
):
    Application.objects.filter(pk=vouch.application_id).update(state=Application.State.IN_REVIEW)
    client = logged_in(org_admin)
    content = client.get(vouch.application.get_absolute_url()).content.decode()
    assert request_url(vouch.application) in content
    other = TeamMemberFactory(organization=MemberOrganizationFactory()).user
    response = client.post(request_url(vouch.application), {"voucher_email": other.email})
    assert response["Location"] == vouch.application.get_absolute_url()
    assert Vouch.objects.filter(voucher=other, state=State.REQUESTED).exists()


def test_reviewers_see_who_vouched_when_and_what_they_said(staff_reviewer, mfa_client, application):
    Application.objects.filter(pk=application.pk).update(state=Application.State.IN_REVIEW)
    confirmed = VouchFactory(application=application, statement="Known them since 2019.")
    content = mfa_client(staff_reviewer).get(application.get_review_url()).content.decode()
    assert confirmed.voucher.email in content
    assert "Known them since 2019." in content
    assert str(confirmed.voucher_organization) in content
    assert "Confirmed by a voucher in good standing" in content


def test_reviewers_see_when_a_voucher_is_no_longer_in_good_standing(
    staff_reviewer, mfa_client, application
):
    Application.objects.filter(pk=application.pk).update(state=Application.State.IN_REVIEW)
    vouch = VouchFactory(application=application)
    Organization.objects.filter(pk=vouch.voucher_organization_id).update(
        status=Organization.Status.SUSPENDED
    )
    content = mfa_client(staff_reviewer).get(application.get_review_url()).content.decode()
    assert "No confirmed vouch from a voucher in good standing" in content
    assert "not in good standing" in content


def test_recording_met_on_the_vouch_criterion_without_a_vouch_shows_why(
    staff_reviewer, mfa_client, application
):
    Application.objects.filter(pk=application.pk).update(state=Application.State.IN_REVIEW)
    before = AuditEvent.objects.count()
    response = mfa_client(staff_reviewer).post(
        reverse("distributors:criterion_review", args=[application.pk, 7]),
        {"c7-verdict": "met", "c7-note": ""},
    )
    assert response.status_code == 400
    assert b"no confirmed vouch" in response.content
    assert AuditEvent.objects.count() == before
