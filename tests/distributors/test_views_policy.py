"""The policy pages: /policy/ for every person, /staff/policy/ for the security team."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from core.models import AuditEvent
from distributors.models import PolicyAcceptance, PolicyVersion
from distributors.selectors import policy_current, policy_has_accepted_current
from tests.factories import PolicyAcceptanceFactory, PolicyVersionFactory

pytestmark = pytest.mark.django_db

POLICY_URL = reverse("distributors:policy")
STAFF_URL = reverse("distributors:staff_policy")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def accept(client, number, **extra):
    return client.post(POLICY_URL, {"version": number, **extra}, HTTP_USER_AGENT="TestBrowser/1")


# --- /policy/ --------------------------------------------------------------------------------


def test_an_anonymous_visitor_is_sent_to_sign_in_and_cannot_accept(client):
    assert client.get(POLICY_URL).status_code == 302
    response = accept(client, 1)
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]
    assert not PolicyAcceptance.objects.exists()


def test_an_applicant_reads_the_rendered_policy_and_an_accept_button(org_admin):
    response = logged_in(org_admin).get(POLICY_URL)
    assert response.status_code == 200
    assert b"<h1>Embargo policy</h1>" in response.content  # the Markdown, rendered
    assert b"I accept version 1" in response.content


def test_an_applicant_accepts_and_the_evidence_is_recorded(org_admin):
    response = accept(logged_in(org_admin), 1)
    assert response.status_code == 302
    acceptance = PolicyAcceptance.objects.get(user=org_admin)
    assert acceptance.version == policy_current()
    assert acceptance.user_agent == "TestBrowser/1"
    assert acceptance.ip_address == "127.0.0.1"
    assert AuditEvent.objects.filter(action="policy.accepted", actor=org_admin).exists()


def test_a_person_who_accepted_sees_when_and_no_button(org_admin):
    PolicyAcceptanceFactory(user=org_admin)
    response = logged_in(org_admin).get(POLICY_URL)
    assert b"You accepted version 1 on" in response.content
    assert b"I accept version" not in response.content


def test_another_organisations_person_accepts_only_for_themselves(org_admin, outsider):
    PolicyAcceptanceFactory(user=org_admin)
    client = logged_in(outsider)
    assert b"I accept version 1" in client.get(POLICY_URL).content
    accept(client, 1)
    assert policy_has_accepted_current(user=outsider)
    assert PolicyAcceptance.objects.filter(user=org_admin).count() == 1


def test_staff_can_read_and_accept_the_policy_too(staff_reviewer, mfa_client):
    client = mfa_client(staff_reviewer)
    assert client.get(POLICY_URL).status_code == 200
    accept(client, 1)
    assert policy_has_accepted_current(user=staff_reviewer)


def test_accepting_a_version_that_was_superseded_meanwhile_is_refused(org_admin):
    PolicyVersionFactory()
    before = AuditEvent.objects.count()
    response = accept(logged_in(org_admin), 1)
    assert response.status_code == 302
    assert not PolicyAcceptance.objects.exists()
    assert AuditEvent.objects.count() == before


def test_a_nonsense_version_changes_nothing(org_admin):
    client = logged_in(org_admin)
    assert accept(client, "abc").status_code == 200
    assert accept(client, 999).status_code == 404
    assert not PolicyAcceptance.objects.exists()


def test_accepting_returns_to_a_local_next_page_only(org_admin, outsider):
    response = accept(logged_in(org_admin), 1, next="/applications/1/criteria/6/")
    assert response["Location"] == "/applications/1/criteria/6/"
    response = accept(logged_in(outsider), 1, next="https://evil.example/")
    assert response["Location"] == POLICY_URL


def test_the_policy_page_never_renders_raw_script_from_the_text(org_admin, staff_reviewer):
    PolicyVersionFactory(text="# Rules\n\n<script>alert('x')</script>\n\n[x](javascript:bad())")
    content = logged_in(org_admin).get(POLICY_URL).content.decode()
    assert "<script>alert" not in content
    assert "javascript:bad" not in content


# --- /staff/policy/ -------------------------------------------------------------------------


def test_the_staff_policy_page_sends_anonymous_visitors_to_sign_in(client):
    response = client.get(STAFF_URL)
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


@pytest.mark.parametrize("who", ["org_admin", "outsider"])
def test_the_staff_policy_page_is_a_404_for_organisation_people(request, who):
    user = request.getfixturevalue(who)
    client = logged_in(user)
    assert client.get(STAFF_URL).status_code == 404
    assert client.post(STAFF_URL, {"text": "# Mine now"}).status_code == 404
    number = policy_current().number
    assert (
        client.get(reverse("distributors:staff_policy_version", args=[number])).status_code == 404
    )
    assert PolicyVersion.objects.count() == 1


def test_staff_see_the_current_text_history_and_a_prefilled_form(
    staff_reviewer, mfa_client, django_assert_max_num_queries
):
    PolicyVersionFactory(text="# Version two\n\nSecond text.\n")
    client = mfa_client(staff_reviewer)
    with django_assert_max_num_queries(15):
        response = client.get(STAFF_URL)
    assert response.status_code == 200
    content = response.content.decode()
    assert "Current text: version 2" in content
    assert "Version 1" in content and "Version 2" in content
    assert "# Version two" in content  # the form holds the current Markdown
    assert reverse("distributors:staff_policy_version", args=[1]) in content


def test_staff_preview_a_new_text_without_publishing(staff_reviewer, mfa_client):
    response = mfa_client(staff_reviewer).post(
        STAFF_URL, {"text": "# Draft\n\n<script>x()</script>", "preview": "1"}
    )
    assert response.status_code == 200
    assert b"<h1>Draft</h1>" in response.content
    assert b"<script>x()" not in response.content
    assert PolicyVersion.objects.count() == 1


def test_staff_publish_a_new_version_which_lapses_acceptances(
    staff_reviewer, mfa_client, org_admin
):
    PolicyAcceptanceFactory(user=org_admin)
    response = mfa_client(staff_reviewer).post(STAFF_URL, {"text": "# Version two", "publish": "1"})
    assert response.status_code == 302
    assert policy_current().number == 2
    assert policy_current().published_by == staff_reviewer
    assert not policy_has_accepted_current(user=org_admin)


def test_publishing_unchanged_text_shows_an_error_and_changes_nothing(staff_reviewer, mfa_client):
    before = AuditEvent.objects.count()
    response = mfa_client(staff_reviewer).post(
        STAFF_URL, {"text": policy_current().text, "publish": "1"}
    )
    assert response.status_code == 200
    assert b"This is the text of the current version" in response.content
    assert PolicyVersion.objects.count() == 1
    assert AuditEvent.objects.count() == before


def test_staff_read_an_earlier_version(staff_reviewer, mfa_client):
    PolicyVersionFactory()
    response = mfa_client(staff_reviewer).get(
        reverse("distributors:staff_policy_version", args=[1])
    )
    assert response.status_code == 200
    assert b"Embargo policy, version 1" in response.content
    assert (
        mfa_client(staff_reviewer)
        .get(reverse("distributors:staff_policy_version", args=[99]))
        .status_code
        == 404
    )


# --- Criterion 6 on the applicant's criterion page ---------------------------------------------


def test_the_policy_criterion_page_links_to_the_policy_and_back(org_admin):
    from tests.factories import ApplicationFactory

    application = ApplicationFactory(
        organization=org_admin.memberships.get().organization, created_by=org_admin
    )
    page = reverse("distributors:criterion_answer", args=[application.pk, 6])
    client = logged_in(org_admin)
    content = client.get(page).content.decode()
    assert "Read and accept the embargo policy" in content
    assert f"{POLICY_URL}?next=/applications/{application.pk}/criteria/6/" in content
    assert 'name="evidence"' not in content  # acceptance, not text, meets criterion 6
    response = accept(client, 1, next=page)
    assert response["Location"] == page
    assert "accepted version 1 on" in client.get(page).content.decode()


def test_a_second_admin_sees_that_only_the_applicant_can_accept_for_criterion_6(org_admin):
    from tests.factories import ApplicationFactory, TeamMemberFactory

    application = ApplicationFactory(
        organization=org_admin.memberships.get().organization, created_by=org_admin
    )
    second = TeamMemberFactory(organization=application.organization, is_admin=True).user
    page = reverse("distributors:criterion_answer", args=[application.pk, 6])
    content = logged_in(second).get(page).content.decode()
    assert "Only the person who started the application" in content
