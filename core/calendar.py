"""The security team's business days: not a weekend, not a public holiday of the team's
country and subdivision (the `holidays` library), not a closure day staff entered.

Deadlines are counted in the team's time zone (settings.HAULOUT_TEAM_TIME_ZONE): a report
that arrives on a Saturday in the team's time zone starts its clock on Monday morning,
whatever the clock says in UTC.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction

from core.audit import audit_record
from core.models import ClosureDay

SATURDAY = 5


def business_days_add(*, start: datetime, days: int) -> datetime:
    """The moment `days` business days after `start` (aware), at the same time of day.
    A start outside business days counts from the beginning of the next business day, so
    a Saturday report is due as if it came in first thing on Monday."""
    if days < 0:
        raise ValueError("days must not be negative")
    zone = team_zone()
    local = start.astimezone(zone)
    calendar = _Calendar(local.date(), span=days * 3 + 31)
    day = local.date()
    if not calendar.open(day):
        while not calendar.open(day):
            day += timedelta(days=1)
        local = datetime.combine(day, time.min, tzinfo=zone)
    for _ in range(days):
        day += timedelta(days=1)
        while not calendar.open(day):
            day += timedelta(days=1)
    return datetime.combine(day, local.timetz()).astimezone(start.tzinfo)


def business_days_between(*, start: datetime, end: datetime) -> int:
    """How many whole business days have passed from `start` to `end`: the largest n
    with business_days_add(start, n) <= end (0 when end is not after start)."""
    if end <= start:
        return 0
    zone = team_zone()
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    calendar = _Calendar(first, span=(last - first).days + 1)
    # Every business day in (first, last] is a candidate; the last one counts only once
    # its time of day is reached, which business_days_add() settles.
    candidates = sum(
        1
        for offset in range(1, (last - first).days + 1)
        if calendar.open(first + timedelta(days=offset))
    )
    while candidates and business_days_add(start=start, days=candidates) > end:
        candidates -= 1
    return candidates


def is_business_day(*, day: date) -> bool:
    return _Calendar(day, span=0).open(day)


def closed_days_between(*, first: date, last: date) -> set[date]:
    """The weekdays and weekend days from `first` to `last` (inclusive) that are public
    holidays or closure days, in one query: for a page that checks many days at once."""
    return set(_closed_days(first, last))


@transaction.atomic
def closure_day_add(*, day: date, reason: str, actor) -> ClosureDay:
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the team is closed that day."})
    if ClosureDay.objects.select_for_update().filter(day=day).exists():
        raise ValidationError({"day": f"{day.isoformat()} is already a closure day."})
    closure = ClosureDay.objects.create(day=day, reason=reason[:200], created_by=actor)
    audit_record(
        actor=actor,
        action="closure_day.added",
        target=closure,
        data={"day": day.isoformat(), "reason": closure.reason},
    )
    return closure


@transaction.atomic
def closure_day_remove(*, closure: ClosureDay, actor) -> None:
    audit_record(
        actor=actor,
        action="closure_day.removed",
        target=closure,
        data={"day": closure.day.isoformat(), "reason": closure.reason},
    )
    closure.delete()


def team_zone() -> ZoneInfo:
    return ZoneInfo(settings.HAULOUT_TEAM_TIME_ZONE)


class _Calendar:
    """Closed days read a window at a time: one query for any usual deadline, another only
    when a count runs past the window (a long closure)."""

    def __init__(self, first: date, *, span: int):
        self._closed: set[date] = set()
        self._next = first
        self._span = max(span, 31)
        self._read()

    def _read(self) -> None:
        last = self._next + timedelta(days=self._span)
        self._closed |= _closed_days(self._next, last)
        self._next = last + timedelta(days=1)

    def open(self, day: date) -> bool:
        while day >= self._next:
            self._read()
        return day.weekday() < SATURDAY and day not in self._closed


def _closed_days(first: date, last: date) -> set[date]:
    """Public holidays and closure days from `first` to `last`, in one query."""
    days = set(
        ClosureDay.objects.filter(day__gte=first, day__lte=last).values_list("day", flat=True)
    )
    for year in range(first.year, last.year + 1):
        days |= _public_holidays(
            settings.HAULOUT_HOLIDAYS_COUNTRY, settings.HAULOUT_HOLIDAYS_SUBDIVISION, year
        )
    return days


@lru_cache(maxsize=64)
def _public_holidays(country: str, subdivision: str, year: int) -> frozenset[date]:
    if not country:
        return frozenset()
    try:
        found = holidays.country_holidays(country, subdiv=subdivision or None, years=year)
    except NotImplementedError as error:  # what `holidays` raises for an unknown code
        raise ImproperlyConfigured(
            f"HAULOUT_HOLIDAYS_COUNTRY/SUBDIVISION {country!r}/{subdivision!r}: {error}"
        ) from error
    return frozenset(found)


@checks.register(checks.Tags.compatibility)
def calendar_settings_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A wrong country, subdivision or time zone is named at start-up, not on the first
    report's deadline."""
    problems = []
    try:
        team_zone()
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(
            checks.Error(
                f"HAULOUT_TEAM_TIME_ZONE {settings.HAULOUT_TEAM_TIME_ZONE!r} is not a time "
                "zone name (e.g. Europe/Berlin).",
                id="haulout.E101",
            )
        )
    try:
        _public_holidays(
            settings.HAULOUT_HOLIDAYS_COUNTRY, settings.HAULOUT_HOLIDAYS_SUBDIVISION, 2026
        )
    except ImproperlyConfigured as error:
        problems.append(checks.Error(str(error), id="haulout.E102"))
    return problems
