"""Thin tasks about leak reports and sanctions: ids in, a service out."""

from __future__ import annotations

from celery import shared_task

from core.queue import MAIL_RETRY


@shared_task(**MAIL_RETRY)
def leak_staff_alert_task(leak_report_id: int) -> None:
    from leaks.services import leak_staff_alert

    leak_staff_alert(leak_report_id=leak_report_id)


@shared_task(**MAIL_RETRY)
def leak_decided_mail_task(leak_report_id: int) -> None:
    from leaks.services import leak_report_decided_mail

    leak_report_decided_mail(leak_report_id=leak_report_id)


@shared_task(**MAIL_RETRY)
def sanction_warning_mail_task(sanction_id: int) -> None:
    from leaks.services import sanction_warning_mail

    sanction_warning_mail(sanction_id=sanction_id)


@shared_task(ignore_result=True)
def suspensions_lift_due_task() -> None:
    from leaks.services import suspensions_lift_due

    suspensions_lift_due()
