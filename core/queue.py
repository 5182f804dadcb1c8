"""Queueing Celery work from services. A leaf: it imports no app, so a service never
imports the tasks that call it back."""

from __future__ import annotations

import logging
from smtplib import SMTPException

from celery import current_app
from django.db import transaction

# Mail tasks retry the mail server themselves, with backoff.
MAIL_RETRY = {
    "autoretry_for": (SMTPException, OSError),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 8,
    "ignore_result": True,
}


logger = logging.getLogger(__name__)

# One quick reconnect (a pooled connection may predate a broker restart), then give up:
# with the broker down a caller (a web request, a periodic job) must not stall.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}


def task_queue(name: str, *args: int | str | list[int]) -> bool:
    """Queues the task registered as `name` (ids only) now. If the broker cannot be
    reached, logs the task and the ids (never any text) and returns False: the caller
    relies on the sweeper or the job's next run to catch up."""
    task = current_app.tasks[name]
    try:
        task.apply_async(args=args, retry=True, retry_policy=PUBLISH_RETRY)
    except Exception as error:  # any broker or connection error
        logger.warning(
            "Could not queue %s%r: %s; a periodic run will pick it up.",
            name,
            args,
            type(error).__name__,
        )
        return False
    return True


def task_queue_after_commit(name: str, *args: int | str | list[int]) -> None:
    """Queues the task once the current transaction commits (task_queue): a rolled-back
    change queues nothing, and a worker never reads rows that are not there yet."""
    transaction.on_commit(lambda: task_queue(name, *args))
