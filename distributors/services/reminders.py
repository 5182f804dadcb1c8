"""Periodic reminders: keys about to expire, and the embargo policy not yet accepted.

Each reminder is marked and mailed inside one transaction: if the mail fails the mark rolls
back and the next run tries again, so a reminder is sent at least once and, short of a
crash between sending and committing, only once. The mail says what to do and where, never
which key or anything about a vulnerability.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from ..audit import audit_record
from ..mail import mail_notify
from ..models import AuditEvent, Organization, PgpKey, PolicyAcceptance, TeamMember
from ..selectors import policy_current

# Warn this many days before a key expires, once per threshold, largest first.
KEY_EXPIRY_THRESHOLDS = (30, 7)
POLICY_REMINDER_INTERVAL = timedelta(days=7)
POLICY_REMINDER_ACTION = "policy.reminder_sent"


def _threshold_for(expires_at: datetime, now: datetime) -> int | None:
    """The smallest threshold the key is already within, e.g. 7 when 5 days are left."""
    reached = [days for days in KEY_EXPIRY_THRESHOLDS if expires_at <= now + timedelta(days=days)]
    return min(reached) if reached else None


def key_expiry_warnings_send(*, now: datetime | None = None) -> int:
    """Warn holders of active keys that expire within 30 and again within 7 days."""
    now = now or timezone.now()
    horizon = now + timedelta(days=max(KEY_EXPIRY_THRESHOLDS))
    candidates = list(
        PgpKey.objects.filter(
            state=PgpKey.State.ACTIVE,
            user__is_active=True,
            expires_at__gt=now,
            expires_at__lte=horizon,
        )
        .filter(
            Q(expiry_warned_days__isnull=True)
            | Q(expiry_warned_days__gt=min(KEY_EXPIRY_THRESHOLDS))
        )
        .values_list("pk", flat=True)
    )
    sent = 0
    for key_id in candidates:
        with transaction.atomic():
            key = (
                PgpKey.objects.select_for_update()
                .select_related("user")
                .filter(pk=key_id, state=PgpKey.State.ACTIVE)
                .first()
            )
            if key is None or key.expires_at is None:
                continue
            threshold = _threshold_for(key.expires_at, now)
            if threshold is None:
                continue
            if key.expiry_warned_days is not None and key.expiry_warned_days <= threshold:
                continue  # this threshold (or a closer one) was already announced
            key.expiry_warned_days = threshold
            key.save(update_fields=["expiry_warned_days"])
            audit_record(
                actor=None,
                action="pgp_key.expiry_warned",
                target=key,
                data={"days": threshold, "expires_at": key.expires_at.isoformat()},
            )
            sent += mail_notify(
                recipients=[key.user.email],
                template="key_expiry",
                context={
                    "days": threshold,
                    "expires_at": key.expires_at,
                    "url": settings.SITE_URL + reverse("distributors:keys"),
                },
            )
    return sent


def policy_reminder_recipients(*, now: datetime | None = None) -> list:
    """People of member organisations who have not accepted the current policy and were
    not reminded in the last week."""
    now = now or timezone.now()
    current = policy_current()
    if current is None:
        return []
    user_model = get_user_model()
    recently = set(
        AuditEvent.objects.filter(
            action=POLICY_REMINDER_ACTION,
            target_type=ContentType.objects.get_for_model(user_model),
            created_at__gt=now - POLICY_REMINDER_INTERVAL,
        ).values_list("target_id", flat=True)
    )
    users = (
        user_model.objects.filter(
            is_active=True,
            pk__in=TeamMember.objects.filter(
                organization__status=Organization.Status.MEMBER
            ).values("user_id"),
        )
        .exclude(pk__in=PolicyAcceptance.objects.filter(version=current).values("user_id"))
        .order_by("pk")
    )
    return [user for user in users if str(user.pk) not in recently]


def policy_reminders_send(*, now: datetime | None = None) -> int:
    """Remind people who still have to accept the current policy, at most once a week.

    The audit log is the rate limit's memory: one "policy.reminder_sent" event per mail.
    """
    now = now or timezone.now()
    sent = 0
    for user in policy_reminder_recipients(now=now):
        with transaction.atomic():
            audit_record(actor=None, action=POLICY_REMINDER_ACTION, target=user)
            sent += mail_notify(
                recipients=[user.email],
                template="policy_reminder",
                context={"url": settings.SITE_URL + reverse("distributors:me")},
            )
    return sent
