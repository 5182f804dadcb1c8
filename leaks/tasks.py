"""Thin tasks about leak reports and sanctions: ids in, a service out."""

from __future__ import annotations

from celery import shared_task

from core.queue import MAIL_RETRY
from leaks.services import (
    leak_report_decided_mail,
    leak_staff_alert,
    sanction_warning_mail,
    suspensions_lift_due,
)


@shared_task(**MAIL_RETRY)
def leak_staff_alert_task(leak_report_id: int) -> None:
    leak_staff_alert(leak_report_id=leak_report_id)


@shared_task(**MAIL_RETRY)
def leak_decided_mail_task(leak_report_id: int) -> None:
    leak_report_decided_mail(leak_report_id=leak_report_id)


@shared_task(**MAIL_RETRY)
def sanction_warning_mail_task(sanction_id: int) -> None:
    sanction_warning_mail(sanction_id=sanction_id)


@shared_task(ignore_result=True)
def suspensions_lift_due_task() -> None:
    suspensions_lift_due()
