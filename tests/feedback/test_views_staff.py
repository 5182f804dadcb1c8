"""The security team's feedback pages: the matrix of every told organisation and each
organisation's page with its tests, thread and the team's reply. Staff only (members get
404); silence shows as "No answer yet"; the matrix costs the same queries however many
organisations there are."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from feedback import selectors
from feedback.models import FeedbackReminder, ThreadMessage
from feedback.selectors import MATRIX_PAGE_SIZE
from tests.conftest import sign_in_with_mfa
from tests.factories import (
    OrganizationStatusFactory,
    PatchTestFactory,
    StaffFactory,
    ThreadMessageFactory,
)
from tests.feedback.conftest import CANARY_BODY, CANARY_STATEMENT, eligible_person, told

pytestmark = pytest.mark.django_db
# The page's reads (session, user, MFA records, the case, the matrix's eight queries): 12
# at every size.
MATRIX_QUERIES = 12


def urls(world) -> dict[str, str]:
    case, org = world.case.pk, world.owner.organization.pk
    return {
        "matrix": reverse("feedback:staff_matrix", args=[case]),
        "organization": reverse("feedback:staff_organization", args=[case, org]),
        "reply": reverse("feedback:staff_reply", args=[case, org]),
    }


@pytest.fixture
def staff(db):
    return StaffFactory(email="team@security.example.org")


def test_anonymous_people_are_sent_to_sign_in(client, world):
    for url in urls(world).values():
        for response in (client.get(url), client.post(url, {"body": "x"})):
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("who", ["owner", "other", "stranger"])
def test_members_get_404_on_the_staff_pages(client, world, who):
    http = sign_in_with_mfa(client, getattr(world, who).user)
    before = AuditEvent.objects.count()
    for url in urls(world).values():
        assert http.get(url).status_code in (404, 405)
        assert http.post(url, {"body": "x"}).status_code == 404
    assert AuditEvent.objects.count() == before
    assert not ThreadMessage.objects.exists()


def test_the_matrix_shows_silence_as_no_answer_yet_and_counts_per_status(client, world, staff):
    OrganizationStatusFactory(
        vulnerability=world.case,
        organization=world.other.organization,
        status="not_affected",
        justification="component_not_present",
        publish_after_disclosure=True,
    )
    PatchTestFactory(vulnerability=world.case, organization=world.other.organization)
    FeedbackReminder.objects.create(
        vulnerability=world.case, organization=world.owner.organization, sent_at=timezone.now()
    )
    response = sign_in_with_mfa(client, staff).get(urls(world)["matrix"])
    assert response.status_code == 200
    text = response.content.decode()
    acme_row = text.split(world.owner.organization.name, 1)[1].split("</tr>", 1)[0]
    assert "No answer yet" in acme_row and "Not affected" not in acme_row
    other_row = text.split(world.other.organization.name, 1)[1].split("</tr>", 1)[0]
    assert "Not affected" in other_row and "The component is not present" in other_row
    assert "Yes" in other_row and "<td>1</td>" in other_row
    assert "Not affected: 1" in text and "No answer yet: 1" in text and "Told: 2" in text
    assert world.stranger.organization.name not in text


def test_the_organisation_page_shows_its_status_tests_and_thread(client, world, staff):
    OrganizationStatusFactory(
        vulnerability=world.case,
        organization=world.owner.organization,
        status="affected",
        statement=CANARY_STATEMENT,
    )
    ThreadMessageFactory(
        vulnerability=world.case, organization=world.owner.organization, body=CANARY_BODY
    )
    ThreadMessageFactory(
        vulnerability=world.case, organization=world.other.organization, body="Other's question"
    )
    text = sign_in_with_mfa(client, staff).get(urls(world)["organization"]).content.decode()
    assert CANARY_STATEMENT in text and CANARY_BODY in text
    assert "Other's question" not in text


def test_an_organisation_never_told_is_404(client, world, staff):
    url = reverse(
        "feedback:staff_organization", args=[world.case.pk, world.stranger.organization.pk]
    )
    http = sign_in_with_mfa(client, staff)
    assert http.get(url).status_code == 404
    reply = reverse("feedback:staff_reply", args=[world.case.pk, world.stranger.organization.pk])
    assert http.post(reply, {"body": "Hello"}).status_code == 404
    assert not ThreadMessage.objects.exists()


def test_staff_reply_and_the_organisation_is_told_there_is_news(
    client, world, staff, mailoutbox, django_capture_on_commit_callbacks
):
    http = sign_in_with_mfa(client, staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = http.post(urls(world)["reply"], {"body": CANARY_BODY})
    assert response.status_code == 302
    message = ThreadMessage.objects.get()
    assert message.from_team and message.author == staff
    [mail] = mailoutbox
    assert mail.to == [world.owner.user.email]
    assert CANARY_BODY not in mail.body + mail.subject
    member_page = sign_in_with_mfa(client, world.owner.user).get(
        reverse("feedback:member_case", args=[world.case.pk])
    )
    assert CANARY_BODY in member_page.content.decode()
    assert "The security team" in member_page.content.decode()


def test_an_empty_reply_is_a_clear_message_and_changes_nothing(client, world, staff):
    before = AuditEvent.objects.count()
    response = sign_in_with_mfa(client, staff).post(urls(world)["reply"], {"body": "  "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert AuditEvent.objects.count() == before and not ThreadMessage.objects.exists()


def test_the_case_page_links_to_the_matrix(client, world, staff):
    page = sign_in_with_mfa(client, staff).get(reverse("embargo:case_detail", args=[world.case.pk]))
    assert urls(world)["matrix"] in page.content.decode()


def _add_organisations(case, count: int) -> None:
    for n in range(count):
        person = eligible_person(f"Distro {case.pk}-{n}")
        told(person, case=case)
        OrganizationStatusFactory(vulnerability=case, organization=person.organization)
        PatchTestFactory(vulnerability=case, organization=person.organization)
        ThreadMessageFactory(vulnerability=case, organization=person.organization)


@pytest.mark.parametrize("organisations", [2, 6])
def test_the_matrix_costs_the_same_queries_however_many_organisations(
    client, staff, organisations, django_assert_max_num_queries
):
    case = told(eligible_person("First Distro"))
    _add_organisations(case, organisations - 1)
    http = sign_in_with_mfa(client, staff)
    with django_assert_max_num_queries(MATRIX_QUERIES):
        response = http.get(reverse("feedback:staff_matrix", args=[case.pk]))
    assert response.status_code == 200
    assert response.content.decode().count("feedback/") >= organisations


def test_the_matrix_is_paginated(client, staff, monkeypatch):
    monkeypatch.setattr(selectors, "MATRIX_PAGE_SIZE", 2)
    case = told(eligible_person("First Distro"))
    _add_organisations(case, 2)
    http = sign_in_with_mfa(client, staff)
    first = http.get(reverse("feedback:staff_matrix", args=[case.pk])).content.decode()
    second = http.get(reverse("feedback:staff_matrix", args=[case.pk]), {"page": 2})
    assert "Page 1 of 2" in first and "Told: 3" in first
    assert "Page 2 of 2" in second.content.decode()
    assert MATRIX_PAGE_SIZE == 50
