"""The one reminder to an organisation that has not given its status on an open case,
HAULOUT_FEEDBACK_REMINDER_HOURS after it was told: once ever per case and organisation,
however often or however many times at once the job runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from core.models import AuditEvent
from distributors.models import Organization
from embargo.models import Vulnerability
from feedback import services
from feedback.models import FeedbackReminder
from feedback.services import feedback_reminders_send
from tests.factories import OrganizationStatusFactory, TeamMemberFactory
from tests.feedback.conftest import CANARY_TITLE, eligible_person, told

pytestmark = pytest.mark.django_db


@pytest.fixture
def late(settings):
    """Acme, told 80 hours ago about an open case, has not answered."""
    settings.HAULOUT_FEEDBACK_REMINDER_HOURS = 72
    owner = eligible_person("Acme Linux")
    return owner, told(owner, hours_ago=80)


def run(capture) -> int:
    with capture(execute=True):
        return feedback_reminders_send()


def test_an_organisation_that_has_not_answered_gets_one_plain_reminder(
    late, mailoutbox, django_capture_on_commit_callbacks
):
    owner, case = late
    assert run(django_capture_on_commit_callbacks) == 1
    [mail] = mailoutbox
    assert mail.to == [owner.user.email]
    assert "waiting for your organisation's status" in mail.body
    assert f"/notices/feedback/{case.pk}/" in mail.body
    assert CANARY_TITLE not in mail.subject + mail.body
    assert case.public_id not in mail.subject + mail.body
    assert mail.extra_headers["Auto-Submitted"] == "auto-generated"
    reminder = FeedbackReminder.objects.get()
    assert (reminder.vulnerability_id, reminder.organization_id) == (
        case.pk,
        owner.organization_id,
    )
    event = AuditEvent.objects.get(action="feedback.reminded")
    assert event.data == {"vulnerability": case.pk}
    assert event.organization_id == owner.organization_id


def test_running_it_twice_sends_one_reminder(late, mailoutbox, django_capture_on_commit_callbacks):
    assert run(django_capture_on_commit_callbacks) == 1
    assert run(django_capture_on_commit_callbacks) == 0
    assert len(mailoutbox) == 1
    assert FeedbackReminder.objects.count() == 1
    assert AuditEvent.objects.filter(action="feedback.reminded").count() == 1


def test_a_reminder_row_another_run_inserted_prevents_the_send(
    late, mailoutbox, django_capture_on_commit_callbacks
):
    owner, case = late
    FeedbackReminder.objects.create(
        vulnerability=case, organization=owner.organization, sent_at=timezone.now()
    )
    assert run(django_capture_on_commit_callbacks) == 0
    assert mailoutbox == []
    assert not AuditEvent.objects.filter(action="feedback.reminded").exists()


def test_a_run_that_loses_the_insert_race_sends_nothing(
    late, monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    """Two runs at once: both read the pair as due, the other run's insert commits first,
    so this run's insert hits the unique constraint."""
    owner, case = late
    original = services._reminders_due

    def due_then_the_other_run_inserts(**kwargs):
        due = original(**kwargs)
        FeedbackReminder.objects.create(
            vulnerability=case, organization=owner.organization, sent_at=timezone.now()
        )
        return due

    monkeypatch.setattr(services, "_reminders_due", due_then_the_other_run_inserts)
    assert run(django_capture_on_commit_callbacks) == 0
    assert mailoutbox == []
    assert FeedbackReminder.objects.count() == 1
    assert not AuditEvent.objects.filter(action="feedback.reminded").exists()


def test_the_unique_row_is_what_makes_it_one(late):
    owner, case = late
    FeedbackReminder.objects.create(
        vulnerability=case, organization=owner.organization, sent_at=timezone.now()
    )
    with pytest.raises(IntegrityError):
        FeedbackReminder.objects.create(
            vulnerability=case, organization=owner.organization, sent_at=timezone.now()
        )


def test_an_organisation_that_answered_is_not_reminded(
    late, mailoutbox, django_capture_on_commit_callbacks
):
    owner, case = late
    OrganizationStatusFactory(vulnerability=case, organization=owner.organization)
    assert run(django_capture_on_commit_callbacks) == 0
    assert mailoutbox == [] and not FeedbackReminder.objects.exists()


def test_an_organisation_told_recently_is_not_reminded_yet(
    settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.HAULOUT_FEEDBACK_REMINDER_HOURS = 72
    owner = eligible_person("Acme Linux")
    case = told(owner, hours_ago=70)
    # An earlier copy counts: the organisation was told when its first copy went out.
    told(owner, case=told(owner, hours_ago=10), hours_ago=100)
    assert run(django_capture_on_commit_callbacks) == 1
    assert not FeedbackReminder.objects.filter(vulnerability=case).exists()


def test_the_hours_come_from_the_setting(settings, mailoutbox, django_capture_on_commit_callbacks):
    owner = eligible_person("Acme Linux")
    told(owner, hours_ago=5)
    settings.HAULOUT_FEEDBACK_REMINDER_HOURS = 6
    assert run(django_capture_on_commit_callbacks) == 0
    settings.HAULOUT_FEEDBACK_REMINDER_HOURS = 4
    assert run(django_capture_on_commit_callbacks) == 1


@pytest.mark.parametrize("state", ["disclosed", "rejected"])
def test_a_closed_case_brings_no_reminder(
    late, state, mailoutbox, django_capture_on_commit_callbacks
):
    _, case = late
    Vulnerability.objects.filter(pk=case.pk).update(state=state)
    assert run(django_capture_on_commit_callbacks) == 0
    assert mailoutbox == []


def test_a_suspended_organisation_is_not_reminded(
    late, mailoutbox, django_capture_on_commit_callbacks
):
    owner, _ = late
    Organization.objects.filter(pk=owner.organization_id).update(status="suspended")
    assert run(django_capture_on_commit_callbacks) == 0
    assert mailoutbox == []


def test_the_reminder_goes_to_need_to_know_people_only(
    late, mailoutbox, django_capture_on_commit_callbacks
):
    owner, _ = late
    TeamMemberFactory(organization=owner.organization, is_need_to_know=False)
    run(django_capture_on_commit_callbacks)
    assert [m.to for m in mailoutbox] == [[owner.user.email]]


def test_the_beat_runs_the_job(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["feedback-reminders"]
    assert entry["task"] == "feedback.tasks.feedback_reminders_task"
    assert entry["schedule"] <= 15 * 60
    assert timedelta(hours=settings.HAULOUT_FEEDBACK_REMINDER_HOURS) > timedelta(0)
