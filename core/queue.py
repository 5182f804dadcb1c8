"""Queueing Celery work from services. A leaf: it imports no app, so a service never
imports the tasks that call it back."""

from __future__ import annotations

from smtplib import SMTPException

# Mail tasks retry the mail server themselves, with backoff.
MAIL_RETRY = {
    "autoretry_for": (SMTPException, OSError),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 8,
    "ignore_result": True,
}
