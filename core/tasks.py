"""Thin tasks for core's periodic work: sealing the audit chain, and beat's heartbeat
(core.periodic)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from core.chain import audit_chain_seal
from core.periodic import beat_heartbeat_record


@shared_task(ignore_result=True)
def audit_chain_seal_task() -> None:
    # Safe to overlap with another run (the chain head is locked per batch).
    audit_chain_seal(batch_size=settings.HAULOUT_AUDIT_SEAL_BATCH)


@shared_task(ignore_result=True)
def beat_heartbeat_task() -> None:
    beat_heartbeat_record(now=timezone.now())
