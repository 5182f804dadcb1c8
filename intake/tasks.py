"""Thin tasks about reports: ids in, a service out."""

from __future__ import annotations

from celery import shared_task

from core.queue import MAIL_RETRY
from intake.mail import report_news_send, report_receipt_send, staff_deadline_send, staff_news_send
from intake.services import report_deadlines_check, report_mail_catch_up


@shared_task(**MAIL_RETRY)
def report_receipt_task(report_id: int) -> None:
    report_receipt_send(report_id=report_id)


@shared_task(**MAIL_RETRY)
def report_news_task(message_id: int) -> None:
    report_news_send(message_id=message_id)


@shared_task(**MAIL_RETRY)
def report_staff_news_task(message_id: int) -> None:
    staff_news_send(message_id=message_id)


@shared_task(**MAIL_RETRY)
def report_deadline_mail_task(report_ids: list[int], overdue: int) -> None:
    staff_deadline_send(report_ids=report_ids, overdue=bool(overdue))


@shared_task(ignore_result=True)
def report_deadlines_task() -> None:
    report_deadlines_check()
    report_mail_catch_up()
