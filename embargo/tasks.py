"""Thin tasks: ids in, a service call out. No task argument is ever text."""

from __future__ import annotations

import logging
from smtplib import SMTPException

from celery import shared_task

from core.queue import MAIL_RETRY
from embargo.delivery.queue import deliveries_attention_alert, deliveries_sweep
from embargo.delivery.send import deliveries_send_batch
from embargo.services.cases import embargo_lift_due
from embargo.services.followup import (
    acknowledgement_reminder_mail,
    acknowledgement_reminders_send,
    embargo_lifted_mail,
    staff_unacknowledged_alert,
)
from embargo.services.negotiation import answer_news_mail, proposal_news_mail
from embargo.services.reporter import (
    first_response_overdue_alert,
    first_response_overdue_mail,
    reporter_update_send,
)

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def delivery_send_task(delivery_ids: list[int] | int) -> None:
    """A batch of copies: ids only (a single id is a message queued before batches).
    No Celery retries: see deliveries_send_batch."""
    if isinstance(delivery_ids, int):
        delivery_ids = [delivery_ids]
    deliveries_send_batch(delivery_ids=[int(pk) for pk in delivery_ids])


@shared_task(ignore_result=True)
def deliveries_sweep_task() -> None:
    deliveries_sweep()


@shared_task(ignore_result=True)
def embargo_lift_due_task() -> None:
    embargo_lift_due()


@shared_task(ignore_result=True)
def acknowledgement_reminders_task() -> None:
    acknowledgement_reminders_send()


@shared_task(**MAIL_RETRY)
def acknowledgement_reminder_mail_task(delivery_id: int) -> None:
    acknowledgement_reminder_mail(delivery_id=delivery_id)


@shared_task(**MAIL_RETRY)
def deliveries_attention_alert_task(notice_id: int) -> None:
    deliveries_attention_alert(notice_id=notice_id)


@shared_task(**MAIL_RETRY)
def staff_unacknowledged_alert_task(notice_id: int, count: int) -> None:
    staff_unacknowledged_alert(notice_id=notice_id, count=count)


@shared_task(**MAIL_RETRY)
def embargo_lifted_mail_task(vulnerability_id: int) -> None:
    embargo_lifted_mail(vulnerability_id=vulnerability_id)


# About a case's reporter.
@shared_task(
    autoretry_for=(SMTPException, OSError),
    retry_backoff=True,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=8,
    ignore_result=True,
)
def reporter_update_task(vulnerability_id: int, event_id: int) -> None:
    reporter_update_send(vulnerability_id=vulnerability_id, event_id=event_id)


@shared_task(ignore_result=True)
def first_response_overdue_task() -> None:
    first_response_overdue_alert()


@shared_task(
    autoretry_for=(SMTPException, OSError),
    retry_backoff=True,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=8,
    ignore_result=True,
)
def first_response_overdue_mail_task(vulnerability_ids: list[int]) -> None:
    first_response_overdue_mail(vulnerability_ids=[int(pk) for pk in vulnerability_ids])


# Disclosure-date negotiation: who has something to answer or decide.
@shared_task(**MAIL_RETRY)
def proposal_news_task(proposal_id: int) -> None:
    proposal_news_mail(proposal_id=proposal_id)


@shared_task(**MAIL_RETRY)
def answer_news_task(answer_id: int) -> None:
    answer_news_mail(answer_id=answer_id)
