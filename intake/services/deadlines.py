"""The first-response deadline: where each report stands, and the periodic job that
warns staff once after two business days and marks a report overdue once after three."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.periodic import periodic_claim
from core.queue import task_queue_after_commit
from intake.models import Report, ReportMessage

MAIL_CATCH_UP_AFTER = timedelta(minutes=2)
# A mail task retries for about ten minutes (core.queue.MAIL_RETRY) before it gives up.
MAIL_CATCH_UP_EVERY = timedelta(minutes=15)
CATCH_UP_BATCH = 200


class Sla:
    ANSWERED = "answered"
    ON_TIME = "on_time"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    LABELS = {
        ANSWERED: "Answered",
        ON_TIME: "On time",
        DUE_SOON: "Due soon",
        OVERDUE: "Overdue",
    }


def report_sla(report: Report, *, now: datetime | None = None) -> str:
    now = now or timezone.now()
    if report.first_response_at is not None:
        return Sla.ANSWERED
    if now >= report.first_response_due_at:
        return Sla.OVERDUE
    if now >= report.first_response_warn_at:
        return Sla.DUE_SOON
    return Sla.ON_TIME


def report_deadlines_check(*, now: datetime | None = None) -> dict[str, int]:
    """Marks, once each, the unanswered reports past their warning and past their
    deadline, with audit events, and mails staff the ones this run marked.

    Safe to run twice at once: each mark is a conditional UPDATE, so only one run wins a
    report, and the mail is queued after that run's commit with the ids it won."""
    now = now or timezone.now()
    marked = {"warned": [], "overdue": []}
    unanswered = Report.objects.filter(state=Report.State.RECEIVED, first_response_at__isnull=True)
    steps = (
        ("warned", "sla_warned_at", "first_response_warn_at", "report.first_response_due_soon"),
        ("overdue", "sla_overdue_at", "first_response_due_at", "report.first_response_overdue"),
    )
    with transaction.atomic():
        for kind, mark, due, action in steps:
            due_ids = unanswered.filter(**{f"{mark}__isnull": True, f"{due}__lte": now})
            for pk in due_ids.order_by(due, "pk").values_list("pk", flat=True):
                won = unanswered.filter(pk=pk, **{f"{mark}__isnull": True}).update(**{mark: now})
                if won:
                    audit_record(actor=None, action=action, target=Report(pk=pk))
                    marked[kind].append(pk)
        if marked["warned"]:
            task_queue_after_commit("intake.tasks.report_deadline_mail_task", marked["warned"], 0)
        if marked["overdue"]:
            task_queue_after_commit("intake.tasks.report_deadline_mail_task", marked["overdue"], 1)
    return {kind: len(ids) for kind, ids in marked.items()}


def report_mail_catch_up(*, now: datetime | None = None) -> int:
    """Queues again the receipts and team messages whose mail has not gone out (the broker
    was down when they were queued, or the mail task gave up while SMTP was down).

    Only mail older than MAIL_CATCH_UP_AFTER, so a task still on its way is not doubled,
    and each item at most once per MAIL_CATCH_UP_EVERY (a claim), longer than a mail
    task's retries last, so one task at a time works on it; two runs at once queue it
    once. A double that still slips through carries the same Message-ID."""
    now = now or timezone.now()
    before = now - MAIL_CATCH_UP_AFTER
    work = (
        (
            "intake.tasks.report_receipt_task",
            Report.objects.filter(receipt_sent_at__isnull=True, received_at__lte=before),
        ),
        (
            "intake.tasks.report_news_task",
            ReportMessage.objects.filter(
                author=ReportMessage.Author.TEAM, mailed_at__isnull=True, created_at__lte=before
            ),
        ),
    )
    queued = 0
    with transaction.atomic():
        for task, rows in work:
            for pk in rows.order_by("pk").values_list("pk", flat=True)[:CATCH_UP_BATCH]:
                if periodic_claim(job=task, key=pk, now=now, every=MAIL_CATCH_UP_EVERY):
                    task_queue_after_commit(task, pk)
                    queued += 1
    return queued
