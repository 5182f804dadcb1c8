"""What every app writes: the append-only audit log and the claims that keep periodic jobs
from running twice. Both tables predate this app (they were distributors'), so they keep
their names."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import models


class AuditEventQuerySet(models.QuerySet):
    # The log is append-only: bulk changes are refused as loudly as single ones.
    def update(self, **kwargs):
        raise PermissionDenied("Audit events cannot be changed.")

    def delete(self):
        raise PermissionDenied("Audit events cannot be deleted.")


class AuditEvent(models.Model):
    """Append-only record of every state change, written in the change's transaction."""

    # PROTECT: a person with history is deactivated, never deleted, so the log keeps
    # saying who did what.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    target_id = models.CharField(max_length=64)
    target_repr = models.CharField(max_length=300)
    organization = models.ForeignKey(
        "distributors.Organization",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)
    # The hash chain (core/chain.py): NULL when written, filled once by the sealer, which
    # alone numbers events, so writers never wait for one another (see audit_chain_seal).
    # NULL, not "": inserts that name only the event's own columns (audit_insert_from)
    # leave them NULL, and NULL is what the trigger allows to be filled, once.
    seq = models.BigIntegerField(null=True, blank=True, unique=True)
    prev_hash = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    hash = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        # The table predates this app (it was distributors' until the redesign).
        db_table = "distributors_auditevent"
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["target_type", "target_id", "created_at"]),
            # The sealer's queue: the few events not sealed yet, in id order.
            models.Index(
                fields=["id"], name="audit_unsealed", condition=models.Q(seq__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.target_repr}"

    def save(self, *args, **kwargs):
        # A guard, not logic: the database triggers refuse the same thing underneath.
        if not self._state.adding:
            raise PermissionDenied("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionDenied("Audit events cannot be deleted.")


class ChainHead(models.Model):
    """The one row (pk 1) saying where the sealed chain ends. Sealers lock it, so two of
    them never give the same sequence number to different events."""

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)
    sealed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"audit chain head {self.seq} {self.hash}"


class AuditCheckpoint(models.Model):
    """The chain's head on one day, signed with the team key (a detached, armored OpenPGP
    signature over core.chain.checkpoint_text(): see there for the exact bytes). A
    rewrite of the chain before `seq` no longer passes through `hash`, and the rewriter
    cannot sign a new checkpoint without the team key."""

    day = models.DateField(unique=True)
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    signature = models.TextField()
    signer_fingerprint = models.CharField(max_length=40)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"audit checkpoint {self.day.isoformat()} at {self.seq}"


class PeriodicClaim(models.Model):
    """One row per job and key: when that key's current period began. A run claims the
    key for a new period only when the last one has ended (or there never was one)."""

    job = models.CharField(max_length=64)
    key = models.CharField(max_length=64)
    # Inserted empty and then claimed by the same conditional UPDATE as a later period,
    # so a new key and a due one take the same path.
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "distributors_periodicclaim"
        constraints = [
            models.UniqueConstraint(fields=["job", "key"], name="one_periodic_claim_per_key"),
        ]

    def __str__(self) -> str:
        return f"{self.job} {self.key} at {self.claimed_at}"


class ClosureDay(models.Model):
    """A day the security team does not work beyond weekends and public holidays (a
    company shutdown, an offsite): business-day deadlines step over it."""

    day = models.DateField(unique=True)
    reason = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return f"closed on {self.day.isoformat()}"
