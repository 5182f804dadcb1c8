"""The conversation on the reporter's page: the reporter's replies (with files) and the
team's messages, each of which is mailed to the reporter."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.queue import task_queue_after_commit
from intake.models import Report, ReportMessage, attachment_storage
from intake.services.submit import IncomingFile, attachments_store, files_check


def _body_clean(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": ["Write a message first."]})
    limit = settings.HAULOUT_REPORT_TEXT_MAX_CHARS
    if len(body) > limit:
        raise ValidationError({"body": [f"At most {limit:,} characters, please."]})
    return body


def team_message_add(*, report: Report, actor, body: str) -> ReportMessage:
    """A message from the team (inside the caller's transaction, or its own). It counts as
    the first response; the reporter is mailed after commit."""
    body = _body_clean(body)
    with transaction.atomic():
        now = timezone.now()
        message = ReportMessage.objects.create(
            report=report, author=ReportMessage.Author.TEAM, user=actor, body=body, created_at=now
        )
        if report.first_response_at is None:
            Report.objects.filter(pk=report.pk, first_response_at__isnull=True).update(
                first_response_at=now
            )
            report.first_response_at = now
        audit_record(actor=actor, action="report.team_message", target=report)
        task_queue_after_commit("intake.tasks.report_news_task", message.pk)
    return message


def report_team_reply(*, report: Report, actor, body: str) -> ReportMessage:
    if report.state == Report.State.CLOSED:
        raise ValidationError("This report is closed; reopen the conversation in its case.")
    return team_message_add(report=report, actor=actor, body=body)


def report_reporter_reply(
    *, report: Report, body: str, files: Sequence[IncomingFile] = ()
) -> ReportMessage:
    """The reporter writes back from their page. Staff are told there is a reply, not what
    it says."""
    body = _body_clean(body)
    files_check(files)
    if report.state == Report.State.CLOSED:
        raise ValidationError(
            f"This report is closed. Write to {settings.SECURITY_TEAM_EMAIL} if there is more."
        )
    saved: list[str] = []
    try:
        with transaction.atomic():
            message = ReportMessage.objects.create(
                report=report, author=ReportMessage.Author.REPORTER, body=body
            )
            attachments_store(report=report, message=message, files=files, saved=saved)
            audit_record(
                actor=None,
                action="report.reporter_message",
                target=report,
                data={"files": len(files)},
            )
            task_queue_after_commit("intake.tasks.report_staff_news_task", message.pk)
    except BaseException:
        for name in saved:
            attachment_storage.delete(name)
        raise
    return message
