"""Thin tasks: ids in, a service call out. No task argument is ever text."""

from __future__ import annotations

import random
from smtplib import SMTPException

from celery import shared_task
from django.conf import settings


@shared_task(bind=True, acks_late=True, ignore_result=True)
def delivery_send_task(self, delivery_ids: list[int] | int) -> None:
    """A batch of copies: ids only. A single id is a message queued before batches."""
    from .services.delivery import DEFERRED, DeliveryDeferred, deliveries_send

    if isinstance(delivery_ids, int):
        delivery_ids = [delivery_ids]
    outcomes = deliveries_send(delivery_ids=[int(pk) for pk in delivery_ids])
    deferred = sorted(pk for pk, outcome in outcomes.items() if outcome == DEFERRED)
    if deferred:
        # Only the copies that met a temporary failure go round again; the rest of the
        # batch is final. Short, capped countdowns: a long ETA would sit unacknowledged
        # in the worker past the broker's visibility timeout and reach a second worker.
        cap = settings.HAULOUT_DELIVERY_RETRY_MAX_SECONDS
        countdown = min(cap, 2 ** min(self.request.retries, 10)) + random.uniform(0, 1)
        error = DeliveryDeferred(f"{len(deferred)} of {len(outcomes)} copies deferred")
        raise self.retry(args=(deferred,), exc=error, countdown=countdown, max_retries=None)


@shared_task(ignore_result=True)
def deliveries_sweep_task() -> None:
    from .services.delivery_queue import deliveries_sweep

    deliveries_sweep()


@shared_task(ignore_result=True)
def embargo_lift_due_task() -> None:
    from .services.cases import embargo_lift_due

    embargo_lift_due()


@shared_task(ignore_result=True)
def acknowledgement_reminders_task() -> None:
    from .services.followup import acknowledgement_reminders_send

    acknowledgement_reminders_send()


_MAIL_RETRY = {
    "autoretry_for": (SMTPException, OSError),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 8,
    "ignore_result": True,
}


@shared_task(**_MAIL_RETRY)
def acknowledgement_reminder_mail_task(delivery_id: int) -> None:
    from .services.followup import acknowledgement_reminder_mail

    acknowledgement_reminder_mail(delivery_id=delivery_id)


@shared_task(**_MAIL_RETRY)
def staff_unacknowledged_alert_task(notice_id: int, count: int) -> None:
    from .services.followup import staff_unacknowledged_alert

    staff_unacknowledged_alert(notice_id=notice_id, count=count)


@shared_task(**_MAIL_RETRY)
def embargo_lifted_mail_task(vulnerability_id: int) -> None:
    from .services.followup import embargo_lifted_mail

    embargo_lifted_mail(vulnerability_id=vulnerability_id)


# Leaks and sanctions (issue 5): ids in, a service out.
@shared_task(**_MAIL_RETRY)
def leak_staff_alert_task(leak_report_id: int) -> None:
    from .services.leaks import leak_staff_alert

    leak_staff_alert(leak_report_id=leak_report_id)


@shared_task(**_MAIL_RETRY)
def leak_decided_mail_task(leak_report_id: int) -> None:
    from .services.leaks import leak_report_decided_mail

    leak_report_decided_mail(leak_report_id=leak_report_id)


@shared_task(**_MAIL_RETRY)
def sanction_warning_mail_task(sanction_id: int) -> None:
    from .services.leaks import sanction_warning_mail

    sanction_warning_mail(sanction_id=sanction_id)


@shared_task(ignore_result=True)
def suspensions_lift_due_task() -> None:
    from .services.leaks import suspensions_lift_due

    suspensions_lift_due()
