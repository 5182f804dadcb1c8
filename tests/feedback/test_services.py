"""The feedback services: who may write, which status combinations are accepted, that a
refusal changes nothing, and that the audit events and mail carry ids, never text."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from core.models import AuditEvent
from distributors.models import Organization
from embargo.models import AdvisoryRevision, Vulnerability
from feedback.models import OrganizationStatus, PatchTest, ThreadMessage
from feedback.services import organization_status_set, patch_test_add, thread_message_add
from tests.factories import StaffFactory
from tests.feedback.conftest import (
    CANARY_BODY,
    CANARY_DETAILS,
    CANARY_STATEMENT,
    CANARY_TITLE,
    CANARY_VERSION,
)

pytestmark = pytest.mark.django_db


def snapshot() -> tuple:
    return (
        list(OrganizationStatus.objects.values_list().order_by("pk")),
        PatchTest.objects.count(),
        ThreadMessage.objects.count(),
        AuditEvent.objects.count(),
    )


def staff_addresses() -> list[str]:
    return sorted(get_user_model().objects.filter(is_staff=True).values_list("email", flat=True))


def status_set(world, member=None, **fields):
    member = member or world.owner
    return organization_status_set(
        vulnerability=world.case, organization=member.organization, user=member.user, **fields
    )


def assert_no_canary_in(text: str) -> None:
    for canary in (CANARY_TITLE, CANARY_STATEMENT, CANARY_DETAILS, CANARY_BODY, CANARY_VERSION):
        assert canary not in text


def test_a_need_to_know_person_sets_and_then_changes_the_status(world):
    status_set(world, status="under_investigation")
    row = status_set(
        world,
        status="fixed",
        fixed_version=CANARY_VERSION,
        statement=CANARY_STATEMENT,
        publish_after_disclosure=True,
    )
    assert OrganizationStatus.objects.get() == row
    assert (row.status, row.fixed_version, row.statement) == (
        "fixed",
        CANARY_VERSION,
        CANARY_STATEMENT,
    )
    assert row.publish_after_disclosure and row.updated_by == world.owner.user
    events = list(AuditEvent.objects.filter(action="feedback.status_set").order_by("pk"))
    assert [e.data["status"] for e in events] == ["under_investigation", "fixed"]
    assert events[1].data["previous"] == "under_investigation"
    assert events[1].organization_id == world.owner.organization.pk
    assert_no_canary_in(repr([e.data for e in events]) + repr([e.target_repr for e in events]))


def test_not_affected_with_a_justification_is_accepted(world):
    row = status_set(world, status="not_affected", justification="component_not_present")
    assert row.justification == "component_not_present"


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"status": "not_affected"}, "justification", "Say why"),
        (
            {"status": "affected", "justification": "component_not_present"},
            "justification",
            "only with",
        ),
        ({"status": "not_affected", "justification": "bored"}, "justification", "listed"),
        ({"status": "fixed"}, "fixed_version", "version that carries the fix"),
        ({"status": "fixed", "fixed_version": "   "}, "fixed_version", "carries the fix"),
        ({"status": "affected", "fixed_version": "2.0"}, "fixed_version", "only with"),
        ({"status": "broken"}, "status", "Choose"),
        ({"status": "affected", "statement": "x" * 10001}, "statement", "At most 10000"),
        ({"status": "affected", "product": "p" * 201}, "product", "At most 200"),
    ],
)
def test_it_rejects_a_wrong_combination_and_changes_nothing(world, fields, field, message):
    status_set(world, status="under_investigation")
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        status_set(world, **fields)
    assert message in " ".join(caught.value.message_dict[field])
    assert snapshot() == before


def test_it_rejects_someone_not_need_to_know(world):
    before = snapshot()
    with pytest.raises(ValidationError, match="need-to-know"):
        organization_status_set(
            vulnerability=world.case,
            organization=world.teammate.organization,
            user=world.teammate.user,
            status="affected",
        )
    assert snapshot() == before


def test_it_rejects_an_organisation_never_told(world):
    before = snapshot()
    with pytest.raises(ValidationError, match="not sent a notice"):
        status_set(world, member=world.stranger, status="affected")
    assert snapshot() == before


def test_it_rejects_a_person_speaking_for_another_organisation(world):
    with pytest.raises(ValidationError, match="need-to-know"):
        organization_status_set(
            vulnerability=world.case,
            organization=world.other.organization,
            user=world.owner.user,
            status="affected",
        )
    assert not OrganizationStatus.objects.exists()


@pytest.mark.parametrize("standing", ["suspended", "removed"])
def test_a_suspended_or_removed_organisation_cannot_answer(world, standing):
    Organization.objects.filter(pk=world.owner.organization.pk).update(status=standing)
    with pytest.raises(ValidationError, match="no longer a member"):
        status_set(world, status="affected")
    assert not OrganizationStatus.objects.exists()


def test_a_rejected_case_takes_no_feedback(world):
    Vulnerability.objects.filter(pk=world.case.pk).update(state="rejected")
    before = snapshot()
    with pytest.raises(ValidationError, match="rejected"):
        status_set(world, status="affected")
    with pytest.raises(ValidationError, match="rejected"):
        thread_message_add(
            vulnerability=world.case,
            organization=world.owner.organization,
            author=StaffFactory(),
            body="Hello",
            from_team=True,
        )
    assert snapshot() == before


def test_staff_are_told_of_a_status_with_the_case_id_and_a_link_only(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    staff = StaffFactory(email="team@security.example.org")
    with django_capture_on_commit_callbacks(execute=True):
        status_set(world, status="fixed", fixed_version=CANARY_VERSION, statement=CANARY_STATEMENT)
    [mail] = [m for m in mailoutbox if m.to == [staff.email]]
    text = mail.subject + mail.body
    assert world.case.public_id in text
    assert f"/staff/cases/{world.case.pk}/feedback/{world.owner.organization.pk}/" in mail.body
    assert_no_canary_in(text)
    assert "fixed" not in text.lower()
    assert mail.extra_headers["Auto-Submitted"] == "auto-generated"
    assert mail.extra_headers["Message-ID"].startswith("<feedback-staff-")


def test_a_patch_test_is_recorded_audited_and_staff_are_told(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    StaffFactory()
    with django_capture_on_commit_callbacks(execute=True):
        test = patch_test_add(
            vulnerability=world.case,
            organization=world.owner.organization,
            user=world.owner.user,
            tested="The notice's patch",
            environment="Debian 13",
            result="breaks",
            details=CANARY_DETAILS,
        )
    assert (test.result, test.details, test.reported_by) == (
        "breaks",
        CANARY_DETAILS,
        world.owner.user,
    )
    event = AuditEvent.objects.get(action="feedback.patch_test_added")
    assert event.data == {"vulnerability": world.case.pk, "patch_test": test.pk, "result": "breaks"}
    assert sorted(m.to[0] for m in mailoutbox) == staff_addresses()
    assert_no_canary_in("".join(m.subject + m.body for m in mailoutbox))


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"tested": "", "environment": "x", "result": "works"}, "tested"),
        ({"tested": "x", "environment": " ", "result": "works"}, "environment"),
        ({"tested": "x", "environment": "x", "result": "great"}, "result"),
        ({"tested": "x" * 301, "environment": "x", "result": "works"}, "tested"),
        ({"tested": "x", "environment": "x", "result": "works", "details": "d" * 10001}, "details"),
    ],
)
def test_it_rejects_a_bad_patch_test_and_changes_nothing(world, fields, field):
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        patch_test_add(
            vulnerability=world.case,
            organization=world.owner.organization,
            user=world.owner.user,
            **fields,
        )
    assert field in caught.value.message_dict
    assert snapshot() == before


def test_a_member_message_reaches_staff_as_a_link_only(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    StaffFactory()
    with django_capture_on_commit_callbacks(execute=True):
        message = thread_message_add(
            vulnerability=world.case,
            organization=world.owner.organization,
            author=world.owner.user,
            body=CANARY_BODY,
            from_team=False,
        )
    assert not message.from_team
    event = AuditEvent.objects.get(action="feedback.message_added")
    assert event.data == {"vulnerability": world.case.pk, "message": message.pk, "from_team": False}
    assert sorted(m.to[0] for m in mailoutbox) == staff_addresses()
    assert all(world.case.public_id in m.subject for m in mailoutbox)
    assert_no_canary_in("".join(m.subject + m.body for m in mailoutbox))


def test_a_team_message_tells_the_organisations_need_to_know_people_only_that_there_is_news(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    staff = StaffFactory()
    with django_capture_on_commit_callbacks(execute=True):
        thread_message_add(
            vulnerability=world.case,
            organization=world.owner.organization,
            author=staff,
            body=CANARY_BODY,
            from_team=True,
        )
    [mail] = mailoutbox
    assert mail.to == [world.owner.user.email]  # not the teammate, not Other, not staff
    assert "news" in mail.body and f"/notices/feedback/{world.case.pk}/" in mail.body
    assert_no_canary_in(mail.subject + mail.body)
    assert world.case.public_id not in mail.subject + mail.body
    assert mail.extra_headers["Message-ID"].startswith("<feedback-news-")


def test_only_staff_write_for_the_team(world):
    before = snapshot()
    with pytest.raises(ValidationError, match="security team"):
        thread_message_add(
            vulnerability=world.case,
            organization=world.owner.organization,
            author=world.owner.user,
            body="I am the team now",
            from_team=True,
        )
    assert snapshot() == before


def test_the_team_cannot_write_to_an_organisation_never_told(world):
    with pytest.raises(ValidationError, match="not told"):
        thread_message_add(
            vulnerability=world.case,
            organization=world.stranger.organization,
            author=StaffFactory(),
            body="Hello",
            from_team=True,
        )
    assert not ThreadMessage.objects.exists()


def test_an_empty_or_overlong_message_is_refused(world):
    for body in ("", "   ", "x" * 10001):
        with pytest.raises(ValidationError) as caught:
            thread_message_add(
                vulnerability=world.case,
                organization=world.owner.organization,
                author=world.owner.user,
                body=body,
                from_team=False,
            )
        assert "body" in caught.value.message_dict
    assert not ThreadMessage.objects.exists() and not AuditEvent.objects.exists()


def test_after_disclosure_a_published_statement_changing_is_a_new_advisory_revision(world):
    status_set(world, status="under_investigation")
    Vulnerability.objects.filter(pk=world.case.pk).update(state="disclosed")
    # Not published, never was: the advisory does not change.
    status_set(world, status="affected")
    assert not AdvisoryRevision.objects.exists()
    status_set(world, status="fixed", fixed_version="2.4.1", publish_after_disclosure=True)
    # Withdrawing consent takes the statement out of the CSAF document: a change too.
    status_set(world, status="fixed", fixed_version="2.4.1", publish_after_disclosure=False)
    revisions = list(AdvisoryRevision.objects.order_by("number"))
    assert [r.number for r in revisions] == [1, 2]
    assert {r.summary for r in revisions} == {"Updated the distributors' statements"}


def test_before_disclosure_a_consenting_statement_makes_no_revision(world):
    status_set(world, status="fixed", fixed_version="2.4.1", publish_after_disclosure=True)
    assert not AdvisoryRevision.objects.exists()
