"""Thin tasks: ids in, a service or mail call out."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task
from django.utils import timezone

from distributors.notifications import (
    application_reviewer_alert,
    application_state_notify,
    audit_checkpoint_notify,
    organization_standing_notify,
    policy_lapsed_notify,
    vouch_answered_notify,
    vouch_requested_notify,
)
from distributors.services.audit_chain import audit_checkpoint_make
from distributors.services.reminders import (
    key_expiry_warning_mail,
    key_expiry_warnings_send,
    policy_reminder_mail,
    policy_reminders_send,
)
from distributors.services.team import invitation_send


@shared_task(
    autoretry_for=(SMTPException, OSError), retry_backoff=True, retry_jitter=True, max_retries=8
)
def application_state_mail_task(application_id: int) -> None:
    application_state_notify(application_id=application_id)


@shared_task(
    autoretry_for=(SMTPException, OSError), retry_backoff=True, retry_jitter=True, max_retries=8
)
def application_reviewer_alert_task(application_id: int) -> None:
    application_reviewer_alert(application_id=application_id)


@shared_task(
    autoretry_for=(SMTPException, OSError), retry_backoff=True, retry_jitter=True, max_retries=8
)
def policy_lapsed_mail_task(version_id: int) -> None:
    policy_lapsed_notify(version_id=version_id)


@shared_task(
    autoretry_for=(SMTPException, OSError), retry_backoff=True, retry_jitter=True, max_retries=8
)
def vouch_requested_mail_task(vouch_id: int) -> None:
    vouch_requested_notify(vouch_id=vouch_id)


@shared_task(
    autoretry_for=(SMTPException, OSError), retry_backoff=True, retry_jitter=True, max_retries=8
)
def vouch_answered_mail_task(vouch_id: int) -> None:
    vouch_answered_notify(vouch_id=vouch_id)


@shared_task(
    autoretry_for=(SMTPException, OSError), retry_backoff=True, retry_jitter=True, max_retries=8
)
def invitation_send_task(invitation_id: int) -> None:
    # The link's token is minted inside the task, so it never travels through the broker.
    invitation_send(invitation_id=invitation_id)


# Periodic jobs (beat): they claim and queue, and mail nothing themselves, so there is
# nothing for them to retry; each reminder's own mail task retries the mail server.
@shared_task(ignore_result=True)
def key_expiry_warnings_task() -> None:
    key_expiry_warnings_send()


@shared_task(ignore_result=True)
def policy_reminders_task() -> None:
    policy_reminders_send()


@shared_task(
    autoretry_for=(SMTPException, OSError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=8,
    ignore_result=True,
)
def key_expiry_warning_mail_task(key_id: int) -> None:
    key_expiry_warning_mail(key_id=key_id)


@shared_task(
    autoretry_for=(SMTPException, OSError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=8,
    ignore_result=True,
)
def policy_reminder_mail_task(user_id: int) -> None:
    policy_reminder_mail(user_id=user_id)


@shared_task(
    autoretry_for=(SMTPException, OSError), retry_backoff=True, retry_jitter=True, max_retries=8
)
def organization_standing_mail_task(organization_id: int, event: str) -> None:
    # Suspended, removed, reinstated, or a vouchee removed: ids and a word, never a reason.
    organization_standing_notify(organization_id=organization_id, event=event)


@shared_task(ignore_result=True)
def audit_checkpoint_task() -> None:
    # Hourly; at most one checkpoint a day (claimed), so a missed run is made up soon.
    audit_checkpoint_make(now=timezone.now())


@shared_task(
    autoretry_for=(SMTPException, OSError), retry_backoff=True, retry_jitter=True, max_retries=8
)
def audit_checkpoint_mail_task(checkpoint_id: int) -> None:
    audit_checkpoint_notify(checkpoint_id=checkpoint_id)
