"""The embargo app's periodic jobs are safe to run twice at once (issue 15, item 14): two
beats firing together tell each person, and staff, once; the run that loses a race sends
nothing and logs nothing alarming. Each test runs the job in two threads with their own
database connections, held at a gate until both have read (tests/concurrency.py)."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from core.models import AuditEvent
from distributors.models import Organization
from embargo.models import Delivery, Vulnerability
from embargo.services import cases, followup, reporter
from embargo.services.cases import embargo_lift_due
from embargo.services.followup import acknowledgement_reminders_send
from embargo.services.reporter import first_response_overdue_alert
from leaks import services as leaks
from leaks.models import Sanction
from leaks.services import suspensions_lift_due
from tests.concurrency import Gate, run_at_once
from tests.factories import (
    DeliveryFactory,
    MemberOrganizationFactory,
    NoticeFactory,
    StaffFactory,
    TeamMemberFactory,
    VulnerabilityFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _received(subject_part: str) -> Counter:
    return Counter(
        address
        for message in mail.outbox
        if subject_part in message.subject
        for address in message.to
    )


def _warnings(caplog) -> list:
    return [record for record in caplog.records if record.levelno >= logging.WARNING]


@pytest.fixture
def quiet(caplog):
    caplog.set_level(logging.WARNING)
    return caplog


def test_two_first_response_runs_at_once_tell_each_staff_member_once(monkeypatch, quiet):
    friday = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    staff = StaffFactory()
    waiting = [VulnerabilityFactory(created_by=staff, reported_at=friday) for _ in range(3)]
    gate = Gate()
    monkeypatch.setattr(reporter, "transaction", gate.transaction())

    marked = run_at_once(
        lambda: first_response_overdue_alert(now=datetime(2026, 12, 2, 10, 0, tzinfo=UTC))
    )

    assert gate.opened
    assert sorted(marked) == [0, 3]
    # One alert per staff member, naming every waiting case.
    assert len(mail.outbox) == 1
    (alert,) = mail.outbox
    assert alert.to == [staff.email]
    for case in waiting:
        assert case.public_id in alert.body
    assert AuditEvent.objects.filter(action="vulnerability.first_response_overdue").count() == 3
    assert _warnings(quiet) == []


@pytest.mark.django_db(transaction=False)  # holds the commit's callbacks back
def test_a_case_answered_before_the_alert_goes_out_is_left_out_of_it(
    django_capture_on_commit_callbacks,
):
    friday = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    staff = StaffFactory()
    answered, waiting = (VulnerabilityFactory(created_by=staff, reported_at=friday) for _ in "ab")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert first_response_overdue_alert(now=datetime(2026, 12, 2, tzinfo=UTC)) == 2
    assert mail.outbox == []
    Vulnerability.objects.filter(pk=answered.pk).update(first_response_at=timezone.now())
    for callback in callbacks:
        callback()
    (alert,) = mail.outbox
    assert waiting.public_id in alert.body and answered.public_id not in alert.body


def _sent_copies(count: int, *, hours_ago: float) -> list[Delivery]:
    notice = NoticeFactory(state="sent")
    organization = MemberOrganizationFactory()
    sent_at = timezone.now() - timedelta(hours=hours_ago)
    return [
        DeliveryFactory(
            notice=notice,
            member=TeamMemberFactory(organization=organization, is_need_to_know=True),
            sent_at=sent_at,
        )
        for _ in range(count)
    ]


def test_two_acknowledgement_reminder_runs_at_once_remind_each_person_once(monkeypatch, quiet):
    rows = _sent_copies(12, hours_ago=25)
    gate = Gate()
    monkeypatch.setattr(followup, "transaction", gate.transaction())

    results = run_at_once(acknowledgement_reminders_send)

    assert gate.opened
    assert sum(reminded for reminded, _ in results) == 12
    assert _received("acknowledge") == Counter({row.email: 1 for row in rows})
    assert AuditEvent.objects.filter(action="delivery.reminded").count() == 12
    assert _warnings(quiet) == []


def test_two_runs_at_once_tell_staff_once_about_the_unacknowledged(monkeypatch, quiet):
    rows = _sent_copies(5, hours_ago=60)
    Delivery.objects.filter(pk__in=[row.pk for row in rows]).update(
        reminded_at=timezone.now() - timedelta(hours=30)
    )
    staff = rows[0].notice.author
    gate = Gate()
    monkeypatch.setattr(followup, "transaction", gate.transaction())

    results = run_at_once(acknowledgement_reminders_send)

    assert gate.opened
    assert sorted(results) == [(0, 0), (0, 1)]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [staff.email]
    assert "5 people have not acknowledged" in mail.outbox[0].body
    assert AuditEvent.objects.filter(action="notice.unacknowledged_reported").count() == 1
    assert _warnings(quiet) == []


def test_two_lift_runs_at_once_disclose_each_case_and_tell_its_recipients_once(monkeypatch, quiet):
    rows = _sent_copies(6, hours_ago=2)
    case = rows[0].notice.vulnerability
    other = VulnerabilityFactory(state=Vulnerability.State.NOTIFIED)
    Vulnerability.objects.filter(pk__in=[case.pk, other.pk]).update(
        disclosure_at=timezone.now() - timedelta(minutes=1)
    )
    gate = Gate()
    monkeypatch.setattr(cases, "vulnerability_disclose", gate.before(cases.vulnerability_disclose))

    lifted = run_at_once(embargo_lift_due)

    assert gate.opened
    assert sorted(lifted[0] + lifted[1]) == sorted([case.pk, other.pk])
    assert set(Vulnerability.objects.values_list("state", flat=True)) == {"disclosed"}
    case.refresh_from_db()
    assert _received(case.public_id) == Counter({row.email: 1 for row in rows})
    assert AuditEvent.objects.filter(action="vulnerability.disclosed").count() == 2
    assert _warnings(quiet) == []


def _suspended(*, with_sanction: bool) -> Organization:
    organization = MemberOrganizationFactory()
    TeamMemberFactory(organization=organization, is_admin=True)
    Organization.objects.filter(pk=organization.pk).update(
        status=Organization.Status.SUSPENDED,
        status_changed_at=timezone.now() - timedelta(days=30),
        status_reason="Leak under review.",
        suspended_until=timezone.now() - timedelta(minutes=1),
    )
    if with_sanction:
        Sanction.objects.create(
            organization=organization,
            kind=Sanction.Kind.SUSPENSION,
            reason="Leak under review.",
            created_by=StaffFactory(),
            created_at=timezone.now() - timedelta(days=30),
            ends_at=timezone.now() - timedelta(minutes=1),
        )
    return organization


def test_two_suspension_lift_runs_at_once_reinstate_once_and_the_loser_is_quiet(monkeypatch, quiet):
    organizations = [_suspended(with_sanction=True), _suspended(with_sanction=False)]
    admins = {
        member.user.email for organization in organizations for member in organization.people.all()
    }
    gate = Gate()
    monkeypatch.setattr(leaks, "transaction", gate.transaction())

    lifted = run_at_once(suspensions_lift_due)

    assert gate.opened
    assert sorted(lifted[0] + lifted[1]) == sorted(o.pk for o in organizations)
    assert set(Organization.objects.filter(pk__in=[o.pk for o in organizations]).values_list(
        "status", flat=True
    )) == {Organization.Status.MEMBER}  # fmt: skip
    assert AuditEvent.objects.filter(action="organization.reinstated").count() == 2
    assert AuditEvent.objects.filter(action="sanction.lifted").count() == 1
    assert Sanction.objects.get().lifted_at is not None
    assert _received("") == Counter({address: 1 for address in admins})
    assert _warnings(quiet) == []
