"""The members' feedback pages (/notices/feedback/): anonymous people are sent to sign
in; only a need-to-know person of a told organisation in good standing sees a case's
page, and only their own organisation's status, tests and thread; everyone else gets 404
on every page and POST, and changes nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.models import AuditEvent
from distributors.models import Organization
from embargo.models import Vulnerability
from feedback.models import OrganizationStatus, PatchTest, ThreadMessage
from tests.conftest import sign_in_with_mfa
from tests.factories import (
    OrganizationStatusFactory,
    PatchTestFactory,
    StaffFactory,
    ThreadMessageFactory,
    make_eligible,
)
from tests.feedback.conftest import (
    CANARY_BODY,
    CANARY_DETAILS,
    CANARY_STATEMENT,
    CANARY_TITLE,
    told,
)

pytestmark = pytest.mark.django_db
# The list page: session, user, MFA records, memberships, copies, cases, statuses, and
# the header's member links.
LIST_QUERIES = 8

LIST = reverse("feedback:member_list")
OTHER_STATEMENT = "Other Distro's private statement"
OTHER_BODY = "Other Distro's private question"
OTHER_DETAILS = "Other Distro's private test details"


def urls(case) -> dict[str, str]:
    return {
        name: reverse(f"feedback:{name}", args=[case.pk])
        for name in ("member_case", "member_status", "member_patch_test", "member_message")
    }


def snapshot() -> tuple:
    return (
        list(OrganizationStatus.objects.values_list().order_by("pk")),
        PatchTest.objects.count(),
        ThreadMessage.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def others_rows(world):
    """Other's status, test and thread on the same case: never shown to Acme."""
    org = world.other.organization
    OrganizationStatusFactory(
        vulnerability=world.case, organization=org, status="fixed", statement=OTHER_STATEMENT
    )
    PatchTestFactory(vulnerability=world.case, organization=org, details=OTHER_DETAILS)
    ThreadMessageFactory(vulnerability=world.case, organization=org, body=OTHER_BODY)


def posts(world) -> list[tuple[str, dict]]:
    u = urls(world.case)
    return [
        (u["member_status"], {"status": "affected"}),
        (u["member_patch_test"], {"tested": "x", "environment": "y", "result": "works"}),
        (u["member_message"], {"body": "Hello"}),
    ]


def test_anonymous_people_are_sent_to_sign_in(client, world):
    before = snapshot()
    for url in [LIST, *urls(world.case).values()]:
        for response in (client.get(url), client.post(url, {"status": "affected"})):
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("account_login"))
    assert snapshot() == before


def test_a_password_alone_is_not_enough(client, world):
    client.force_login(world.owner.user)
    response = client.get(urls(world.case)["member_case"])
    assert response.status_code == 302
    assert reverse("mfa_reauthenticate") in response["Location"]


def test_the_owner_sees_the_case_by_its_public_id_and_their_own_rows_only(
    client, world, others_rows
):
    OrganizationStatusFactory(
        vulnerability=world.case,
        organization=world.owner.organization,
        status="affected",
        statement=CANARY_STATEMENT,
    )
    PatchTestFactory(
        vulnerability=world.case, organization=world.owner.organization, details=CANARY_DETAILS
    )
    ThreadMessageFactory(
        vulnerability=world.case, organization=world.owner.organization, body=CANARY_BODY
    )
    response = sign_in_with_mfa(client, world.owner.user).get(urls(world.case)["member_case"])
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    text = response.content.decode()
    assert world.case.public_id in text and CANARY_TITLE not in text
    assert CANARY_STATEMENT in text and CANARY_DETAILS in text and CANARY_BODY in text
    for private in (OTHER_STATEMENT, OTHER_BODY, OTHER_DETAILS, world.other.organization.name):
        assert private not in text


@pytest.mark.parametrize("who", ["stranger", "teammate"])
def test_others_get_404_on_every_page_and_post(client, world, others_rows, who):
    person = getattr(world, who)
    if who == "teammate":
        make_eligible(person)
        type(person).objects.filter(pk=person.pk).update(is_need_to_know=False)
    http = sign_in_with_mfa(client, person.user)
    before = snapshot()
    assert http.get(urls(world.case)["member_case"]).status_code == 404
    for url, data in posts(world):
        assert http.post(url, data).status_code == 404
        assert (
            http.post(url, {**data, "organization": world.owner.organization.pk}).status_code == 404
        )
    assert snapshot() == before
    text = http.get(LIST).content.decode()
    assert world.case.public_id not in text


def test_a_person_cannot_pick_another_told_organisation(client, world, others_rows):
    http = sign_in_with_mfa(client, world.owner.user)
    before = snapshot()
    page = urls(world.case)["member_case"]
    for value in (world.other.organization.pk, "x", "-1", "9" * 20):
        assert http.get(page, {"organization": value}).status_code == 404
    for url, data in posts(world):
        response = http.post(url, {**data, "organization": world.other.organization.pk})
        assert response.status_code == 404
        assert OTHER_STATEMENT not in response.content.decode()
    assert snapshot() == before


def test_staff_are_not_members_and_get_404(client, world):
    staff = StaffFactory()
    http = sign_in_with_mfa(client, staff)
    assert http.get(urls(world.case)["member_case"]).status_code == 404
    assert http.post(urls(world.case)["member_status"], {"status": "affected"}).status_code == 404
    assert http.get(LIST).status_code == 200


@pytest.mark.parametrize("standing", ["suspended", "removed"])
def test_a_suspended_or_removed_organisation_loses_access(client, world, standing):
    Organization.objects.filter(pk=world.owner.organization.pk).update(status=standing)
    http = sign_in_with_mfa(client, world.owner.user)
    assert http.get(urls(world.case)["member_case"]).status_code == 404
    assert http.post(urls(world.case)["member_status"], {"status": "affected"}).status_code == 404
    assert world.case.public_id not in http.get(LIST).content.decode()
    assert not OrganizationStatus.objects.exists()


def test_a_rejected_case_disappears(client, world):
    Vulnerability.objects.filter(pk=world.case.pk).update(state="rejected")
    http = sign_in_with_mfa(client, world.owner.user)
    assert http.get(urls(world.case)["member_case"]).status_code == 404


def test_the_owner_saves_a_status_test_and_message(client, world):
    http = sign_in_with_mfa(client, world.owner.user)
    u = urls(world.case)
    response = http.post(
        u["member_status"],
        {
            "status": "not_affected",
            "justification": "vulnerable_code_not_present",
            "statement": CANARY_STATEMENT,
            "publish_after_disclosure": "on",
        },
    )
    assert response.status_code == 302 and response["Location"] == u["member_case"]
    status = OrganizationStatus.objects.get(organization=world.owner.organization)
    assert (status.status, status.justification, status.publish_after_disclosure) == (
        "not_affected",
        "vulnerable_code_not_present",
        True,
    )
    data = {"tested": "Patch 1", "environment": "arm64", "result": "partial", "details": "ok"}
    assert http.post(u["member_patch_test"], data).status_code == 302
    assert http.post(u["member_message"], {"body": CANARY_BODY}).status_code == 302
    assert PatchTest.objects.get().organization == world.owner.organization
    assert ThreadMessage.objects.get().body == CANARY_BODY
    text = http.get(u["member_case"]).content.decode()
    assert "Not affected" in text and "Patch 1" in text and CANARY_BODY in text


@pytest.mark.parametrize(
    "data, message",
    [
        ({"status": "not_affected"}, "Say why your organisation is not affected."),
        ({"status": "fixed"}, "Give the version that carries the fix."),
        ({"status": ""}, "This field is required."),
        ({"status": "affected", "justification": "nonsense"}, "Select a valid choice"),
    ],
)
def test_a_bad_status_is_a_clear_message_and_changes_nothing(client, world, data, message):
    http = sign_in_with_mfa(client, world.owner.user)
    before = snapshot()
    response = http.post(urls(world.case)["member_status"], data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert snapshot() == before


def test_an_empty_message_or_test_is_a_clear_message(client, world):
    http = sign_in_with_mfa(client, world.owner.user)
    before = snapshot()
    for url in (urls(world.case)["member_message"], urls(world.case)["member_patch_test"]):
        response = http.post(url, {})
        assert response.status_code == 400
        assert "This field is required." in response.content.decode()
    assert snapshot() == before


def test_a_person_in_two_told_organisations_picks_which_one_answers(client, world):
    second = make_eligible(
        type(world.owner).objects.create(
            organization=world.other.organization, user=world.owner.user, is_need_to_know=True
        )
    )
    http = sign_in_with_mfa(client, world.owner.user)
    page = urls(world.case)["member_case"]
    text = http.get(page).content.decode()
    assert world.owner.organization.name in text and world.other.organization.name in text
    response = http.post(
        urls(world.case)["member_status"],
        {"status": "affected", "organization": second.organization.pk},
    )
    assert response["Location"] == f"{page}?organization={second.organization.pk}"
    assert OrganizationStatus.objects.get().organization == world.other.organization


def test_the_list_shows_each_told_case_with_its_status_or_no_answer_yet(
    client, world, django_assert_max_num_queries
):
    answered = told(world.owner)
    OrganizationStatusFactory(
        vulnerability=answered, organization=world.owner.organization, status="fixed"
    )
    http = sign_in_with_mfa(client, world.owner.user)
    text = http.get(LIST).content.decode()
    assert world.case.public_id in text and answered.public_id in text
    assert "No answer yet" in text and "Fixed" in text
    assert CANARY_TITLE not in text
    with django_assert_max_num_queries(LIST_QUERIES):
        http.get(LIST)
    for _ in range(4):
        told(world.owner)
    with django_assert_max_num_queries(LIST_QUERIES):
        assert http.get(LIST).status_code == 200


def test_my_notices_links_to_feedback(client, world):
    text = sign_in_with_mfa(client, world.owner.user).get(reverse("embargo:my_notices"))
    assert LIST in text.content.decode()
