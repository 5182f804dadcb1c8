"""The team's business days: weekends, public holidays of the configured country and
subdivision, and closure days staff enter (issue 17: the 3-business-day first answer)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from core.calendar import (
    business_days_add,
    business_days_between,
    calendar_settings_check,
    closure_day_add,
    closure_day_remove,
    is_business_day,
)
from core.models import AuditEvent, ClosureDay
from tests.clock import at
from tests.conftest import enable_totp
from tests.factories import StaffFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("us_calendar")]


def test_three_business_days_from_a_friday_step_over_the_weekend():
    assert business_days_add(start=at("2026-12-04"), days=3) == at("2026-12-09")


def test_a_public_holiday_is_not_a_business_day():
    # Thanksgiving, Thursday 26 November 2026.
    assert not is_business_day(day=date(2026, 11, 26))
    assert business_days_add(start=at("2026-11-24"), days=3) == at("2026-11-30")


def test_a_team_closure_day_is_stepped_over(django_user_model):
    staff = StaffFactory()
    closure_day_add(day=date(2026, 12, 9), reason="Team offsite", actor=staff)
    assert not is_business_day(day=date(2026, 12, 9))
    assert business_days_add(start=at("2026-12-07"), days=3) == at("2026-12-11")


def test_a_report_on_a_saturday_counts_from_monday_morning():
    assert business_days_add(start=at("2026-12-05", "15:30"), days=3) == at("2026-12-10", "00:00")


def test_days_are_those_of_the_team_time_zone(settings):
    settings.HAULOUT_TEAM_TIME_ZONE = "Europe/Berlin"
    # 23:30 UTC on Friday is half past midnight on Saturday in Berlin.
    due = business_days_add(start=at("2026-12-04", "23:30"), days=3)
    assert due == datetime(2026, 12, 9, 23, 0, tzinfo=UTC)  # Thursday 00:00 in Berlin


def test_a_subdivision_adds_its_own_holidays(settings):
    start = at("2026-01-05")  # Monday; 6 January is a holiday in Bavaria only
    settings.HAULOUT_HOLIDAYS_COUNTRY = "DE"
    assert business_days_add(start=start, days=1) == at("2026-01-06")
    settings.HAULOUT_HOLIDAYS_SUBDIVISION = "BY"
    assert business_days_add(start=start, days=1) == at("2026-01-07")


def test_business_days_between_counts_whole_days_only():
    start = at("2026-12-04")  # Friday
    assert business_days_between(start=start, end=at("2026-12-04", "18:00")) == 0
    assert business_days_between(start=start, end=at("2026-12-07", "09:59")) == 0
    assert business_days_between(start=start, end=at("2026-12-07")) == 1
    assert business_days_between(start=start, end=at("2026-12-09", "09:59")) == 2
    assert business_days_between(start=start, end=at("2026-12-09")) == 3
    assert business_days_between(start=start, end=at("2026-12-01")) == 0


def test_a_deadline_costs_one_query_however_far_it_reaches(django_assert_num_queries):
    with django_assert_num_queries(1):
        business_days_add(start=at("2026-12-04"), days=3)
    with django_assert_num_queries(1):
        business_days_add(start=at("2026-12-04"), days=14)


def test_a_long_closure_is_read_past_the_first_window():
    staff = StaffFactory()
    for day in range(1, 32):  # all of March 2027 closed
        closure_day_add(day=date(2027, 3, day), reason="Shutdown", actor=staff)
    # Friday 26 February + 1 business day: not in March at all.
    assert business_days_add(start=at("2027-02-26"), days=1) == at("2027-04-01")


def test_negative_days_are_refused():
    with pytest.raises(ValueError):
        business_days_add(start=at("2026-12-04"), days=-1)


def test_the_settings_check_names_a_wrong_country_subdivision_or_time_zone(settings):
    assert calendar_settings_check() == []
    settings.HAULOUT_HOLIDAYS_COUNTRY = "XX"
    settings.HAULOUT_TEAM_TIME_ZONE = "Mars/Olympus"
    ids = sorted(message.id for message in calendar_settings_check())
    assert ids == ["haulout.E101", "haulout.E102"]
    settings.HAULOUT_TEAM_TIME_ZONE = "UTC"
    settings.HAULOUT_HOLIDAYS_COUNTRY = "US"
    settings.HAULOUT_HOLIDAYS_SUBDIVISION = "ZZ"
    assert [message.id for message in calendar_settings_check()] == ["haulout.E102"]


def test_adding_and_removing_a_closure_day_is_audited():
    staff = StaffFactory()
    closure = closure_day_add(day=date(2026, 12, 24), reason=" Holiday shutdown ", actor=staff)
    assert closure.reason == "Holiday shutdown"
    closure_day_remove(closure=closure, actor=staff)
    assert not ClosureDay.objects.exists()
    actions = list(
        AuditEvent.objects.filter(action__startswith="closure_day.").values_list(
            "action", "actor_id", "data"
        )
    )
    assert actions == [
        ("closure_day.added", staff.pk, {"day": "2026-12-24", "reason": "Holiday shutdown"}),
        ("closure_day.removed", staff.pk, {"day": "2026-12-24", "reason": "Holiday shutdown"}),
    ]


@pytest.mark.parametrize("day, reason, field", [(date(2026, 12, 24), "  ", "reason")])
def test_a_closure_day_needs_a_reason(day, reason, field):
    with pytest.raises(ValidationError) as error:
        closure_day_add(day=day, reason=reason, actor=StaffFactory())
    assert field in error.value.message_dict
    assert not ClosureDay.objects.exists()


def test_the_same_closure_day_twice_is_refused_and_changes_nothing():
    staff = StaffFactory()
    closure_day_add(day=date(2026, 12, 24), reason="Shutdown", actor=staff)
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as error:
        closure_day_add(day=date(2026, 12, 24), reason="Again", actor=staff)
    assert "already a closure day" in str(error.value)
    assert ClosureDay.objects.get().reason == "Shutdown"
    assert AuditEvent.objects.count() == events


@pytest.fixture
def superuser_client(mfa_client):
    superuser = StaffFactory(username="root", is_superuser=True)
    enable_totp(superuser)
    return mfa_client(superuser), superuser


def test_staff_add_and_remove_closure_days_in_the_admin_with_an_audit_event(superuser_client):
    client, superuser = superuser_client
    response = client.post(
        reverse("admin:core_closureday_add"), {"day": "2026-12-31", "reason": "New Year's Eve"}
    )
    assert response.status_code == 302
    closure = ClosureDay.objects.get()
    assert (closure.day, closure.created_by) == (date(2026, 12, 31), superuser)
    change = reverse("admin:core_closureday_change", args=[closure.pk])
    assert client.post(change, {"day": "2027-01-01", "reason": "moved"}).status_code == 403
    delete = reverse("admin:core_closureday_delete", args=[closure.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not ClosureDay.objects.exists()
    assert list(
        AuditEvent.objects.filter(action__startswith="closure_day.")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["closure_day.added", "closure_day.removed"]


def test_the_admin_refuses_a_duplicate_day_with_a_message(superuser_client):
    client, superuser = superuser_client
    closure_day_add(day=date(2026, 12, 31), reason="Shutdown", actor=superuser)
    response = client.post(
        reverse("admin:core_closureday_add"), {"day": "2026-12-31", "reason": "Again"}
    )
    assert response.status_code == 200  # the form again, with the error
    assert ClosureDay.objects.count() == 1


def test_outsiders_do_not_reach_the_closure_days(client, django_user_model):
    url = reverse("admin:core_closureday_changelist")
    assert client.get(url).status_code == 302  # anonymous: to sign-in
