"""Writing the append-only audit log; services call this inside their transaction."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import connection, models, transaction
from django.utils import timezone

from core.models import AuditEvent


def audit_record(
    *,
    actor,
    action: str,
    target: models.Model,
    organization: models.Model | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    # An audit event outside a transaction could survive a change that rolled back.
    if not transaction.get_connection().in_atomic_block:
        raise PermissionDenied("Audit events are written inside the change's transaction.")
    if organization is None:
        # A target names its organisation (an Organization names itself; see its
        # audit_organization), so this module needs no app's models.
        organization = getattr(target, "audit_organization", None)
        if organization is None:
            organization = getattr(target, "organization", None)
    event = _event(
        actor=actor,
        action=action,
        target=target,
        organization_id=organization.pk if organization is not None else None,
        data=data,
        now=timezone.now(),
    )
    event.save(force_insert=True)
    return event


def audit_record_many(
    *,
    actor,
    action: str,
    targets: list[tuple[models.Model, int | None, dict[str, Any]]],
) -> int:
    """One event per (target, organization id, data), in one insert: for services that
    change many rows of one kind at once (a batch of notice copies). Same rules as
    audit_record: inside the change's transaction, append-only. Returns how many."""
    if not transaction.get_connection().in_atomic_block:
        raise PermissionDenied("Audit events are written inside the change's transaction.")
    if not targets:
        return 0
    now = timezone.now()
    events = AuditEvent.objects.bulk_create(
        [
            _event(
                actor=actor,
                action=action,
                target=target,
                organization_id=organization_id,
                data=data,
                now=now,
            )
            for target, organization_id, data in targets
        ],
        batch_size=500,
    )
    return len(events)


def _event(*, actor, action: str, target: models.Model, organization_id, data, now) -> AuditEvent:
    """An unsaved event: the target by type, id and a 300-character description, so it
    still reads after the target is gone."""
    return AuditEvent(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target_type=ContentType.objects.get_for_model(target),
        target_id=str(target.pk),
        target_repr=str(target)[:300],
        organization_id=organization_id,
        data=data or {},
        created_at=now,
    )


def audit_insert_from(
    *,
    source: str,
    action: str,
    target_model: type[models.Model],
    target_id: str,
    target_repr: str,
    organization_id: str,
    data: str,
) -> tuple[str, list]:
    """PostgreSQL: `INSERT ... SELECT ... FROM source`, one event per row of `source` (a
    data-modifying CTE of the caller's statement that returns the rows it changed), so
    that a change and its events are one statement, one transaction. The keyword
    arguments after `target_model` are SQL expressions over `source`; `data` gives jsonb.
    Returns the SQL and its parameters, for the caller's WITH clause."""
    meta = AuditEvent._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in _MANY_FIELDS)
    # Only quoted names and the caller's own expressions are formatted into the SQL.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608
        f"SELECT NULL, %s, %s, {target_id}, {target_repr}, {organization_id}, {data}, %s "
        f"FROM {source}"
    )
    target_type = ContentType.objects.get_for_model(target_model).pk
    created_at = meta.get_field("created_at").get_db_prep_save(timezone.now(), connection)
    return sql, [action, target_type, created_at]


_MANY_FIELDS = (
    "actor",
    "action",
    "target_type",
    "target_id",
    "target_repr",
    "organization",
    "data",
    "created_at",
)
