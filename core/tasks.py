"""Core's one periodic job: beat's heartbeat (core.periodic)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from core.periodic import beat_heartbeat_record


@shared_task(ignore_result=True)
def beat_heartbeat_task() -> None:
    beat_heartbeat_record(now=timezone.now())
