"""Helping the security team choose a disclosure date: a suggestion from the case's
severity, and warnings (never blocks) about a date that breaks a habit of the lists that
came before us. The team has the final say.

The time of day and the weekdays to avoid are settings (HAULOUT_DISCLOSURE_TIME_UTC,
HAULOUT_DISCLOSURE_AVOID_WEEKDAYS); weekends, public holidays and the team's closure days
come from core.calendar, the same calendar the first-response deadline uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from core.calendar import business_days_add, closed_days_between, team_zone
from embargo.models import Vulnerability
from embargo.negotiation_selectors import first_notice_sent_at

Severity = Vulnerability.Severity

# Business days from the report to the suggested disclosure. The process we automate
# expects about 14 for a critical issue with a simple mitigation, and says disclosure
# ranges from immediate to "a few weeks", as soon as a fix or mitigation exists. Less
# severe issues are less urgent for users, so they get more time to be fixed well and to
# ride along with a regular release, but no more than six working weeks: a reporter must
# not wait indefinitely, and every extra week is a week for the issue to leak.
SEVERITY_BUSINESS_DAYS = {
    Severity.CRITICAL: 14,
    Severity.HIGH: 20,  # four working weeks
    Severity.MEDIUM: 25,  # five
    Severity.LOW: 30,  # six
    Severity.NONE: 30,
}
# A case not scored yet is treated as high, not low: scoring it may only lengthen the
# suggestion, never find the team with too little time for a serious issue.
UNSCORED_BUSINESS_DAYS = 20

# Distributors get notices at least this long before disclosure where the case allows
# (the Kubernetes distributors list's practice) ...
LEAD_DAYS_MIN = 7
# ... and distros-style lists refuse embargoes longer than this after the first notice.
EMBARGO_DAYS_MAX = 14

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SATURDAY = 5
# Searching for an allowed day gives up after a year: only settings that avoid every
# weekday get that far.
SEARCH_DAYS = 366


def disclosure_time() -> time:
    """HAULOUT_DISCLOSURE_TIME_UTC as a time of day."""
    try:
        return time.fromisoformat(settings.HAULOUT_DISCLOSURE_TIME_UTC).replace(tzinfo=None)
    except (TypeError, ValueError) as error:
        raise ImproperlyConfigured(
            f"HAULOUT_DISCLOSURE_TIME_UTC {settings.HAULOUT_DISCLOSURE_TIME_UTC!r} is not a "
            "time of day such as 16:00."
        ) from error


def avoided_weekdays() -> set[int]:
    """HAULOUT_DISCLOSURE_AVOID_WEEKDAYS as weekday numbers (Monday is 0)."""
    days = set()
    for name in settings.HAULOUT_DISCLOSURE_AVOID_WEEKDAYS:
        key = str(name).strip().lower()[:3]
        numbers = [n for n, day in enumerate(WEEKDAY_NAMES) if day.lower().startswith(key)]
        if len(key) < 3 or not numbers:
            raise ImproperlyConfigured(
                f"HAULOUT_DISCLOSURE_AVOID_WEEKDAYS: {name!r} is not a weekday (Mon to Sun)."
            )
        days.add(numbers[0])
    return days


class _Closed:
    """Holidays and closure days, read a window at a time (one query per window)."""

    WINDOW = 62

    def __init__(self, first: date, last: date | None = None):
        self._days: set[date] = set()
        self._first = self._next = first
        self._read(last or first + timedelta(days=self.WINDOW))

    def _read(self, last: date) -> None:
        self._days |= closed_days_between(first=self._next, last=last)
        self._next = last + timedelta(days=1)

    def __contains__(self, day: date) -> bool:
        while day >= self._next:
            self._read(self._next + timedelta(days=self.WINDOW))
        return day in self._days


def _local_day(moment: datetime) -> date:
    return moment.astimezone(team_zone()).date()


def _day_problems(moment: datetime, avoided: set[int], closed: _Closed) -> list[str]:
    """Why a disclosure at `moment` falls on a bad day; empty if it does not."""
    day = moment.astimezone(UTC).date()
    name = WEEKDAY_NAMES[day.weekday()]
    if day.weekday() >= SATURDAY:
        return [f"It falls on a {name}, a weekend: few people are there to patch."]
    if day.weekday() in avoided:
        return [f"It falls on a {name}, which the team avoids for disclosures."]
    local_day = _local_day(moment)
    if local_day.weekday() >= SATURDAY or local_day in closed:
        return [
            f"{local_day.isoformat()} is a public holiday or a closure day of the team: "
            "nobody may be there to answer questions."
        ]
    return []


def disclosure_slot_next(*, earliest: datetime, day: date | None = None) -> datetime:
    """The first moment at or after `earliest` at the configured time of day (UTC) on an
    allowed day: not a weekend, not an avoided weekday, not a holiday or closure day.
    `day`, if given, is where the search starts (a date in the team's calendar)."""
    clock, avoided = disclosure_time(), avoided_weekdays()
    day = day or earliest.astimezone(UTC).date()
    closed = _Closed(day - timedelta(days=1))
    for _ in range(SEARCH_DAYS):
        moment = datetime.combine(day, clock, tzinfo=UTC)
        if moment >= earliest and not _day_problems(moment, avoided, closed):
            return moment
        day += timedelta(days=1)
    raise ImproperlyConfigured("HAULOUT_DISCLOSURE_AVOID_WEEKDAYS leaves no day to disclose on.")


def disclosure_slot_last(*, latest: datetime, earliest: datetime) -> datetime | None:
    """The last allowed moment (as disclosure_slot_next) from `earliest` to `latest`, or
    None if there is none."""
    clock, avoided = disclosure_time(), avoided_weekdays()
    day = latest.astimezone(UTC).date()
    closed = _Closed(earliest.astimezone(UTC).date() - timedelta(days=1), day + timedelta(days=1))
    while (moment := datetime.combine(day, clock, tzinfo=UTC)) >= earliest - timedelta(days=1):
        if earliest <= moment <= latest and not _day_problems(moment, avoided, closed):
            return moment
        day -= timedelta(days=1)
    return None


@dataclass(frozen=True)
class DisclosureSuggestion:
    disclosure_at: datetime
    business_days: int
    reason: str


def disclosure_date_suggest(
    *, vulnerability: Vulnerability, now: datetime | None = None
) -> DisclosureSuggestion:
    """A disclosure time for the case from its severity: so many business days after the
    report (SEVERITY_BUSINESS_DAYS), then the first allowed slot from that day on. If that
    has passed, the first slot that still gives distributors their lead time (from now,
    when no notice has gone out yet)."""
    now = now or timezone.now()
    severity = vulnerability.cvss_severity
    days = SEVERITY_BUSINESS_DAYS.get(severity, UNSCORED_BUSINESS_DAYS)
    target = business_days_add(start=vulnerability.reported_at, days=days)
    reason = (
        f"{days} business days after the report, for a "
        f"{severity.lower() + ' severity' if severity else 'not yet scored'} issue"
    )
    first_notice = first_notice_sent_at(vulnerability=vulnerability)
    floor = now if first_notice else now + timedelta(days=LEAD_DAYS_MIN)
    if target < floor:
        reason += (
            "; that has passed, so the first slot after now"
            if first_notice
            else f"; that leaves distributors under {LEAD_DAYS_MIN} days, so {LEAD_DAYS_MIN} "
            "days from now"
        )
        suggestion = disclosure_slot_next(earliest=floor)
    else:
        # From the day the count ends in the team's calendar, at the usual time of day.
        local_day = target.astimezone(team_zone()).date()
        suggestion = disclosure_slot_next(
            earliest=datetime.combine(local_day, time.min, tzinfo=UTC), day=local_day
        )
    clock = disclosure_time().strftime("%H:%M")
    reason += f", moved to {clock} UTC on the first day that is not avoided"
    ceiling = first_notice + timedelta(days=EMBARGO_DAYS_MAX) if first_notice else None
    if ceiling and suggestion > ceiling:
        # Distributors already hold the notice: the embargo ceiling wins over severity.
        earlier = disclosure_slot_last(latest=ceiling, earliest=floor)
        if earlier is not None:
            suggestion = earlier
            reason += (
                f"; then brought forward to the last such day within {EMBARGO_DAYS_MAX} days "
                "of the first notice"
            )
    reason += "."
    return DisclosureSuggestion(disclosure_at=suggestion, business_days=days, reason=reason)


def _days_text(delta: timedelta) -> str:
    days = delta.total_seconds() / 86400
    return f"{days:.1f}".removesuffix(".0")


def disclosure_date_warnings(
    *, vulnerability: Vulnerability, disclosure_at: datetime, now: datetime | None = None
) -> list[str]:
    """Plain messages about a disclosure time: too little notice for distributors (from
    the first notice, or from now if none went out), an embargo running too long past the
    first notice, a bad day or an unusual time of day. Warnings only: the team decides."""
    return disclosure_dates_warnings(vulnerability=vulnerability, moments=[disclosure_at], now=now)[
        0
    ]


def disclosure_dates_warnings(
    *, vulnerability: Vulnerability, moments: list[datetime], now: datetime | None = None
) -> list[list[str]]:
    """disclosure_date_warnings for several times at once (a page of proposals), in the
    same two queries however many there are."""
    if not moments:
        return []
    now = now or timezone.now()
    first_notice = first_notice_sent_at(vulnerability=vulnerability)
    days = [_local_day(moment) for moment in moments]
    closed = _Closed(min(days), max(days))
    avoided, clock = avoided_weekdays(), disclosure_time()
    return [
        _warnings(moment, first_notice=first_notice, now=now, avoided=avoided, closed=closed)
        + _clock_warning(moment, clock)
        for moment in moments
    ]


def _warnings(moment, *, first_notice, now, avoided, closed) -> list[str]:
    warnings = []
    lead = moment - (first_notice or now)
    if lead < timedelta(days=LEAD_DAYS_MIN):
        since = (
            f"the first notice went out {first_notice.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
            if first_notice
            else "no notice has gone out yet, so even one sent now"
        )
        warnings.append(
            f"Distributors would get only {_days_text(max(lead, timedelta(0)))} days' notice "
            f"({since}); they should get at least {LEAD_DAYS_MIN}."
        )
    if first_notice and moment - first_notice > timedelta(days=EMBARGO_DAYS_MAX):
        warnings.append(
            f"The embargo would run {_days_text(moment - first_notice)} days past the "
            f"first notice; distros-style lists refuse embargoes longer than "
            f"{EMBARGO_DAYS_MAX} days."
        )
    return warnings + _day_problems(moment, avoided, closed)


def _clock_warning(moment: datetime, clock: time) -> list[str]:
    at = moment.astimezone(UTC)
    if (at.hour, at.minute) == (clock.hour, clock.minute):
        return []
    return [f"It is at {at:%H:%M} UTC, not the usual {clock:%H:%M} UTC for disclosures."]
