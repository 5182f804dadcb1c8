"""Thin tasks about member feedback: ids in, a mail or the periodic job out."""

from __future__ import annotations

from celery import shared_task

from core.queue import MAIL_RETRY
from feedback.mail import (
    feedback_reminder_mail_send,
    feedback_staff_news_send,
    feedback_team_news_send,
)
from feedback.services import feedback_reminders_send


@shared_task(**MAIL_RETRY)
def feedback_staff_news_task(event_id: int) -> None:
    feedback_staff_news_send(event_id=event_id)


@shared_task(**MAIL_RETRY)
def feedback_team_news_task(message_id: int) -> None:
    feedback_team_news_send(message_id=message_id)


@shared_task(**MAIL_RETRY)
def feedback_reminder_mail_task(reminder_id: int) -> None:
    feedback_reminder_mail_send(reminder_id=reminder_id)


@shared_task(ignore_result=True)
def feedback_reminders_task() -> None:
    feedback_reminders_send()
