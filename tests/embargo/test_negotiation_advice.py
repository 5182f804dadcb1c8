"""The suggested disclosure date and the warnings (issue 17): business days from the
report by the team's calendar (weekends, public holidays, closure days), the time of day
and the weekdays to avoid from settings, and warnings that never block."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from core.calendar import closure_day_add
from embargo.models import Notice
from embargo.negotiation_advice import (
    disclosure_date_suggest,
    disclosure_date_warnings,
    disclosure_dates_warnings,
)
from tests.clock import at
from tests.factories import NoticeFactory, StaffFactory, VulnerabilityFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def disclosure_rules(us_calendar, settings):
    settings.HAULOUT_DISCLOSURE_TIME_UTC = "16:00"
    settings.HAULOUT_DISCLOSURE_AVOID_WEEKDAYS = ["Fri"]


# A critical report on Monday 4 May 2026: 14 business days end on Friday 22 May.
REPORTED = at("2026-05-04")


def suggest(severity="Critical", reported=REPORTED, now=None):
    case = VulnerabilityFactory(cvss_severity=severity, reported_at=reported)
    return disclosure_date_suggest(vulnerability=case, now=now or reported)


def test_a_critical_issue_is_due_14_business_days_after_the_report_at_the_usual_time(settings):
    settings.HAULOUT_DISCLOSURE_AVOID_WEEKDAYS = []
    suggestion = suggest()
    assert suggestion.disclosure_at == at("2026-05-22", "16:00")
    assert suggestion.business_days == 14
    assert "14 business days" in suggestion.reason and "critical" in suggestion.reason


def test_an_avoided_friday_moves_over_the_weekend_and_a_public_holiday():
    # Not Friday 22 May; not the weekend; Monday 25 May 2026 is Memorial Day.
    assert suggest().disclosure_at == at("2026-05-26", "16:00")


def test_a_team_closure_day_is_skipped_too():
    closure_day_add(day=date(2026, 5, 26), reason="Team offsite", actor=StaffFactory())
    assert suggest().disclosure_at == at("2026-05-27", "16:00")


def test_the_count_itself_skips_holidays_and_closure_days(settings):
    settings.HAULOUT_DISCLOSURE_AVOID_WEEKDAYS = []
    # From Monday 2 November 2026: Veterans Day (Wed 11 Nov) is not counted, and neither
    # is a closure day on Tuesday 17 November, so the 14th business day is Tue 24 Nov.
    closure_day_add(day=date(2026, 11, 17), reason="Team offsite", actor=StaffFactory())
    assert suggest(reported=at("2026-11-02")).disclosure_at == at("2026-11-24", "16:00")


@pytest.mark.parametrize(
    "severity, days",
    [("High", 20), ("Medium", 25), ("Low", 30), ("None", 30), ("", 20)],
)
def test_less_severe_issues_get_more_business_days(severity, days):
    assert suggest(severity=severity).business_days == days


def test_the_time_of_day_is_a_setting(settings):
    settings.HAULOUT_DISCLOSURE_TIME_UTC = "09:30"
    assert suggest().disclosure_at == at("2026-05-26", "09:30")


def test_an_old_report_with_no_notice_sent_gets_seven_days_lead_from_now():
    # Reported long ago; now is Monday 7 December 2026: seven days on is Monday 14th.
    suggestion = suggest(reported=at("2026-01-05"), now=at("2026-12-07", "08:00"))
    assert suggestion.disclosure_at == at("2026-12-14", "16:00")
    assert "7 days from now" in suggestion.reason


def test_once_notices_went_out_the_suggestion_stays_within_the_embargo_ceiling():
    # Reported Monday 4 May 2026, low severity (30 business days: mid June), but the first
    # notice went out at 10:00 on Wednesday 6 May: no later than 10:00 on the 20th, so
    # 16:00 on Tuesday the 19th.
    case = VulnerabilityFactory(cvss_severity="Low", reported_at=REPORTED)
    NoticeFactory(vulnerability=case, state=Notice.State.SENT, send_started_at=at("2026-05-06"))
    suggestion = disclosure_date_suggest(vulnerability=case, now=at("2026-05-07"))
    assert suggestion.disclosure_at == at("2026-05-19", "16:00")
    assert "within 14 days of the first notice" in suggestion.reason


@pytest.mark.parametrize(
    "setting, value",
    [("HAULOUT_DISCLOSURE_TIME_UTC", "4pm"), ("HAULOUT_DISCLOSURE_AVOID_WEEKDAYS", ["Fr1"])],
)
def test_a_wrong_setting_is_named(settings, setting, value):
    setattr(settings, setting, value)
    with pytest.raises(ImproperlyConfigured, match=setting):
        suggest()


# ---------------------------------------------------------------- warnings


def case_with_notice(sent_days_ago: float | None):
    case = VulnerabilityFactory()
    if sent_days_ago is not None:
        sent = timezone.now() - timedelta(days=sent_days_ago)
        NoticeFactory(vulnerability=case, state=Notice.State.SENT, send_started_at=sent)
    return case


def next_weekday(weekday: int, *, after_days: int) -> datetime:
    day = (timezone.now() + timedelta(days=after_days)).date()
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC).replace(hour=16)


def test_a_good_date_has_no_warning():
    case = case_with_notice(sent_days_ago=1)
    tuesday = next_weekday(1, after_days=8)
    if tuesday - timezone.now() > timedelta(days=13):
        tuesday -= timedelta(days=7)
    assert disclosure_date_warnings(vulnerability=case, disclosure_at=tuesday) == []


def test_less_than_seven_days_notice_is_a_warning():
    case = case_with_notice(sent_days_ago=0.1)
    warnings = disclosure_date_warnings(
        vulnerability=case, disclosure_at=timezone.now() + timedelta(days=3)
    )
    assert any("only 3.1 days' notice" in w or "only 3 days' notice" in w for w in warnings)


def test_with_no_notice_sent_the_lead_time_counts_from_now():
    case = case_with_notice(sent_days_ago=None)
    warnings = disclosure_date_warnings(
        vulnerability=case, disclosure_at=timezone.now() + timedelta(days=2)
    )
    assert any("no notice has gone out yet" in w for w in warnings)


def test_an_embargo_over_fourteen_days_past_the_first_notice_is_a_warning():
    case = case_with_notice(sent_days_ago=10)
    warnings = disclosure_date_warnings(
        vulnerability=case, disclosure_at=timezone.now() + timedelta(days=10)
    )
    assert any("20 days past the first notice" in w for w in warnings)


def test_avoided_days_weekends_holidays_and_unusual_times_are_warnings():
    case = case_with_notice(sent_days_ago=None)
    friday = disclosure_date_warnings(vulnerability=case, disclosure_at=at("2027-01-08", "16:00"))
    saturday = disclosure_date_warnings(vulnerability=case, disclosure_at=at("2027-01-09", "16:00"))
    holiday = disclosure_date_warnings(vulnerability=case, disclosure_at=at("2027-01-18", "16:00"))
    late = disclosure_date_warnings(vulnerability=case, disclosure_at=at("2027-01-19", "21:00"))
    assert "Friday, which the team avoids" in " ".join(friday)
    assert "Saturday, a weekend" in " ".join(saturday)
    assert "2027-01-18 is a public holiday" in " ".join(holiday)  # Martin Luther King Day
    assert "at 21:00 UTC, not the usual 16:00 UTC" in " ".join(late)


def test_warnings_for_many_dates_cost_the_same_queries(django_assert_max_num_queries):
    case = case_with_notice(sent_days_ago=1)
    moments = [timezone.now() + timedelta(days=n) for n in range(1, 40)]
    with django_assert_max_num_queries(2):
        found = disclosure_dates_warnings(vulnerability=case, moments=moments)
    assert len(found) == len(moments)
