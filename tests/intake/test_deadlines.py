"""The first-response deadline of a report (issue 17): three business days by the team's
calendar, staff warned once after two, the report marked overdue once after three, and
mail the queue lost sent again. Every run is safe twice."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core import mail

from core.calendar import closure_day_add
from core.models import AuditEvent
from intake.models import ReportMessage
from intake.services import (
    Sla,
    report_deadlines_check,
    report_mail_catch_up,
    report_sla,
)
from tests.clock import at
from tests.factories import ReportFactory, StaffFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("us_calendar")]


def test_a_report_on_a_friday_is_due_on_wednesday_after_the_weekend():
    report = ReportFactory(received_at=at("2026-12-04"))
    assert report.first_response_due_at == at("2026-12-09")
    assert report.first_response_warn_at == at("2026-12-08")


def test_the_deadline_steps_over_a_holiday_a_weekend_and_a_closure_day():
    closure_day_add(day=date(2026, 11, 30), reason="Team offsite", actor=StaffFactory())
    report = ReportFactory(received_at=at("2026-11-24"))
    # Thanksgiving (26th), the weekend and the closure day (30th) do not count.
    assert report.first_response_due_at == at("2026-12-01")


def test_the_deadline_state_moves_from_on_time_to_due_soon_to_overdue():
    report = ReportFactory(received_at=at("2026-12-04"))
    assert report_sla(report, now=at("2026-12-07")) == Sla.ON_TIME
    assert report_sla(report, now=at("2026-12-08", "12:00")) == Sla.DUE_SOON
    assert report_sla(report, now=at("2026-12-09", "10:00")) == Sla.OVERDUE
    report.first_response_at = at("2026-12-09")
    assert report_sla(report, now=at("2026-12-10")) == Sla.ANSWERED


def test_staff_are_warned_once_after_two_days_and_told_once_after_three(
    django_capture_on_commit_callbacks,
):
    staff = StaffFactory()
    report = ReportFactory(received_at=at("2026-12-04"))

    with django_capture_on_commit_callbacks(execute=True):
        assert report_deadlines_check(now=at("2026-12-07")) == {"warned": 0, "overdue": 0}
        assert report_deadlines_check(now=at("2026-12-08", "11:00")) == {"warned": 1, "overdue": 0}
        assert report_deadlines_check(now=at("2026-12-08", "12:00")) == {"warned": 0, "overdue": 0}
        assert report_deadlines_check(now=at("2026-12-09", "11:00")) == {"warned": 0, "overdue": 1}
        assert report_deadlines_check(now=at("2026-12-10")) == {"warned": 0, "overdue": 0}

    warning, overdue = mail.outbox
    assert warning.to == [staff.email] and report.reference in warning.body
    assert "past their first-response deadline" in overdue.subject
    assert report.subject not in warning.body + overdue.body
    actions = AuditEvent.objects.filter(target_id=str(report.pk)).values_list("action", flat=True)
    assert sorted(actions) == ["report.first_response_due_soon", "report.first_response_overdue"]


def test_an_answered_report_is_never_overdue():
    ReportFactory(received_at=at("2026-12-04"), first_response_at=at("2026-12-05"))
    assert report_deadlines_check(now=at("2026-12-20")) == {"warned": 0, "overdue": 0}


def test_a_receipt_the_queue_lost_is_sent_again_once(django_capture_on_commit_callbacks):
    report = ReportFactory(received_at=at("2026-12-04"))
    later = at("2026-12-04", "10:05")

    with django_capture_on_commit_callbacks(execute=True):
        assert report_mail_catch_up(now=at("2026-12-04", "10:01")) == 0  # maybe still queued
        assert report_mail_catch_up(now=later) == 1
        # A second run at once (two beats) queues nothing more.
        assert report_mail_catch_up(now=later) == 0

    [receipt] = mail.outbox
    assert receipt.to == [report.reporter_email]
    report.refresh_from_db()
    assert report.receipt_sent_at is not None
    assert report_mail_catch_up(now=later + timedelta(hours=1)) == 0


def test_a_team_message_whose_mail_was_lost_is_sent_again(django_capture_on_commit_callbacks):
    report = ReportFactory(receipt_sent_at=at("2026-12-04"))
    message = ReportMessage.objects.create(
        report=report, author="team", body="News", created_at=at("2026-12-04")
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert report_mail_catch_up(now=at("2026-12-04", "11:00")) == 1
    message.refresh_from_db()
    assert message.mailed_at is not None and len(mail.outbox) == 1
