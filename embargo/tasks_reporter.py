"""Tasks about a case's reporter. A module of its own (imported by EmbargoConfig.ready(),
since Celery's autodiscovery imports only `<app>.tasks`). Ids in, a service out."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task


@shared_task(
    autoretry_for=(SMTPException, OSError),
    retry_backoff=True,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=8,
    ignore_result=True,
)
def reporter_update_task(vulnerability_id: int, event_id: int) -> None:
    from .services.reporter import reporter_update_send

    reporter_update_send(vulnerability_id=vulnerability_id, event_id=event_id)


@shared_task(ignore_result=True)
def first_response_overdue_task() -> None:
    from .services.reporter import first_response_overdue_alert

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
    from .services.reporter import first_response_overdue_mail

    first_response_overdue_mail(vulnerability_ids=[int(pk) for pk in vulnerability_ids])
