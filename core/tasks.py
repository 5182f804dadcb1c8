"""Thin tasks for core's periodic work."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from core.chain import audit_chain_seal


@shared_task(ignore_result=True)
def audit_chain_seal_task() -> None:
    # Safe to overlap with another run (the chain head is locked per batch).
    audit_chain_seal(batch_size=settings.HAULOUT_AUDIT_SEAL_BATCH)
