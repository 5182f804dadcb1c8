"""Reads about reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, Count, F, IntegerField, Min, Q, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone

from intake.models import Report
from intake.tokens import report_token_matches

# The same answer for "no such report" and "wrong token": a link tells nobody whether a
# reference exists.
NOT_FOUND = "No such report, or the link is not complete."


def report_by_link(*, reference: str, token: str) -> Report:
    report = Report.objects.filter(reference=(reference or "").upper()).first()
    if report is None or not report_token_matches(report, token):
        raise Http404(NOT_FOUND)
    return report


def reports_for_staff(user) -> QuerySet[Report]:
    if not (user.is_authenticated and user.is_staff):
        return Report.objects.none()
    return Report.objects.all()


def report_queue(*, user, now: datetime | None = None, state: str = "open") -> QuerySet[Report]:
    """The triage queue, most urgent first: unanswered reports by deadline (overdue on
    top), then answered open ones by age."""
    now = now or timezone.now()
    reports = reports_for_staff(user).select_related("vulnerability")
    if state == "open":
        reports = reports.filter(state__in=Report.OPEN_STATES)
    elif state in Report.State.values:
        reports = reports.filter(state=state)
    unanswered = Q(first_response_at__isnull=True)
    return reports.annotate(
        urgency=Case(
            When(unanswered & Q(first_response_due_at__lte=now), then=Value(0)),
            When(unanswered & Q(first_response_warn_at__lte=now), then=Value(1)),
            When(unanswered, then=Value(2)),
            default=Value(3),
            output_field=IntegerField(),
        )
    ).order_by("urgency", "first_response_due_at", "pk")


@dataclass(frozen=True)
class ReportCounts:
    received: int
    due_soon: int
    overdue: int
    open: int


def report_counts(*, now: datetime | None = None) -> ReportCounts:
    """For the staff home: one query."""
    now = now or timezone.now()
    unanswered = Q(state=Report.State.RECEIVED, first_response_at__isnull=True)
    counts = Report.objects.aggregate(
        received=Count("pk", filter=Q(state=Report.State.RECEIVED)),
        due_soon=Count(
            "pk",
            filter=unanswered & Q(first_response_warn_at__lte=now, first_response_due_at__gt=now),
        ),
        overdue=Count("pk", filter=unanswered & Q(first_response_due_at__lte=now)),
        open=Count("pk", filter=Q(state__in=Report.OPEN_STATES)),
    )
    return ReportCounts(**counts)


# Reports by where they stand against the first-response deadline, for the metrics
# endpoint (ops/): unanswered ones before the warning, due soon (warned) and overdue, and
# answered ones in time or late.


def report_sla_counts(*, now: datetime | None = None) -> dict[str, int]:
    """{SLA state: reports}: one query."""
    now = now or timezone.now()
    unanswered = Q(state=Report.State.RECEIVED, first_response_at__isnull=True)
    answered = Q(first_response_at__isnull=False)
    return Report.objects.aggregate(
        waiting=Count("pk", filter=unanswered & Q(first_response_warn_at__gt=now)),
        due_soon=Count(
            "pk",
            filter=unanswered & Q(first_response_warn_at__lte=now, first_response_due_at__gt=now),
        ),
        overdue=Count("pk", filter=unanswered & Q(first_response_due_at__lte=now)),
        answered_in_time=Count(
            "pk", filter=answered & Q(first_response_at__lte=F("first_response_due_at"))
        ),
        answered_late=Count(
            "pk", filter=answered & Q(first_response_at__gt=F("first_response_due_at"))
        ),
    )


def reports_waiting(*, user) -> dict:
    """For the staff home: reports received and not yet triaged, and the oldest. One query."""
    if not (user.is_authenticated and user.is_staff):
        return {"total": 0, "oldest": None}
    return Report.objects.filter(state=Report.State.RECEIVED).aggregate(
        total=Count("pk"), oldest=Min("received_at")
    )
