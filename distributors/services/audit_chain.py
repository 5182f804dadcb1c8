"""The audit log's daily checkpoint: the chain's head signed with the team key (core
knows the chain, pgpmail the key; this layer may use both)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction

from core.audit import audit_record
from core.chain import audit_chain_seal, checkpoint_text
from core.models import AuditCheckpoint, AuditEvent
from core.periodic import periodic_claim
from core.queue import task_queue_after_commit
from pgpmail import team_sign_detached, team_signature_check


def audit_checkpoint_make(*, now: datetime) -> AuditCheckpoint | None:
    """Today's (UTC) checkpoint, unless there is one already or nothing is sealed yet.
    Seals what is committed first, so the checkpoint covers it. Safe to run twice at
    once: the day is claimed first (core.periodic), and `day` is unique besides; a run
    that fails to sign (the team key unusable) claims nothing, so the next run tries
    again. Staff get the sequence number and hash by mail after the commit."""
    day = now.astimezone(UTC).date()
    if AuditCheckpoint.objects.filter(day=day).exists():
        return None  # the hourly runs after the day's first: no lock, no gpg
    audit_chain_seal(batch_size=settings.HAULOUT_AUDIT_SEAL_BATCH)
    head = (
        AuditEvent.objects.filter(seq__isnull=False).order_by("-seq").values("seq", "hash").first()
    )
    if head is None:
        return None
    with transaction.atomic():
        if not periodic_claim(job="audit.checkpoint", key=day.isoformat(), now=now, every=None):
            return None
        signature = team_sign_detached(
            data=checkpoint_text(day=day, seq=head["seq"], hash=head["hash"])
        )
        checkpoint = AuditCheckpoint.objects.create(
            day=day,
            seq=head["seq"],
            hash=head["hash"],
            signature=signature.armored,
            signer_fingerprint=signature.fingerprint,
            created_at=now,
        )
        audit_record(
            actor=None,
            action="audit.checkpoint_signed",
            target=checkpoint,
            data={"day": day.isoformat(), "seq": checkpoint.seq, "hash": checkpoint.hash},
        )
        task_queue_after_commit("distributors.tasks.audit_checkpoint_mail_task", checkpoint.pk)
    return checkpoint


def audit_checkpoint_signature_ok(checkpoint: AuditCheckpoint) -> bool:
    """Whether the checkpoint's signature is the current team key's over its own day,
    sequence number and hash."""
    data = checkpoint_text(day=checkpoint.day, seq=checkpoint.seq, hash=checkpoint.hash)
    return team_signature_check(data=data, signature=checkpoint.signature)
