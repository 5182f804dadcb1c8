"""Thin tasks: ids in, a service or mail call out."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task


@shared_task(
    autoretry_for=(SMTPException, OSError), retry_backoff=True, retry_jitter=True, max_retries=8
)
def application_state_mail_task(application_id: int) -> None:
    from .notifications import application_state_notify

    application_state_notify(application_id=application_id)


@shared_task(
    autoretry_for=(SMTPException, OSError), retry_backoff=True, retry_jitter=True, max_retries=8
)
def application_reviewer_alert_task(application_id: int) -> None:
    from .notifications import application_reviewer_alert

    application_reviewer_alert(application_id=application_id)
