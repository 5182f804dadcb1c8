"""Periodic reminders: keys about to expire, and the embargo policy not yet accepted.

Safe to run twice at once (two beats, or a run by hand during the daily one): each
reminder is first claimed, in one transaction with its audit event, and only then, after
the commit, queued as a mail task of its own (ids only). Of two runs, the one that loses
a claim skips that person silently. The mail task retries a failing mail server; if the
broker cannot be reached at all, the claim stays and the next period brings the next
reminder (see core.periodic). The mail says what to do and where, never which key
or anything about a vulnerability.
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

from core.audit import audit_record
from core.mail import plain_mail
from core.models import AuditEvent
from core.periodic import periodic_claim
from core.queue import task_queue_after_commit
from distributors.models import Organization, PgpKey, PolicyAcceptance, PolicyVersion, TeamMember
from distributors.selectors import policy_current

# Warn this many days before a key expires, once per threshold, largest first.
KEY_EXPIRY_THRESHOLDS = (30, 7)
POLICY_REMINDER_INTERVAL = timedelta(days=7)
POLICY_REMINDER_ACTION = "policy.reminder_sent"
POLICY_REMINDER_JOB = "policy_reminder"


def _threshold_for(expires_at: datetime, now: datetime) -> int | None:
    """The smallest threshold the key is already within, e.g. 7 when 5 days are left."""
    reached = [days for days in KEY_EXPIRY_THRESHOLDS if expires_at <= now + timedelta(days=days)]
    return min(reached) if reached else None


def key_expiry_warnings_send(*, now: datetime | None = None) -> int:
    """Warns holders of active keys that expire within 30 and again within 7 days.
    Returns how many warnings this run claimed (their mail goes after the commit)."""
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
        .order_by("pk")
        .values_list("pk", "expires_at")
    )
    claimed = 0
    for key_id, expires_at in candidates:
        threshold = _threshold_for(expires_at, now)
        if threshold is None:
            continue
        with transaction.atomic():
            # The claim is the mark: a conditional UPDATE, so that of two overlapping runs
            # exactly one warns, on PostgreSQL and on SQLite (which has no row locks).
            # A threshold that was announced already (or a closer one) no longer matches.
            marked = (
                PgpKey.objects.filter(pk=key_id, state=PgpKey.State.ACTIVE, expires_at=expires_at)
                .filter(Q(expiry_warned_days__isnull=True) | Q(expiry_warned_days__gt=threshold))
                .update(expiry_warned_days=threshold)
            )
            if not marked:
                continue
            key = PgpKey.objects.get(pk=key_id)
            audit_record(
                actor=None,
                action="pgp_key.expiry_warned",
                target=key,
                data={"days": threshold, "expires_at": expires_at.isoformat()},
            )
            task_queue_after_commit("distributors.tasks.key_expiry_warning_mail_task", key_id)
        claimed += 1
    return claimed


def key_expiry_warning_mail(*, key_id: int) -> int:
    """The warning a run claimed, unless the key was replaced or revoked meanwhile."""
    key = (
        PgpKey.objects.select_related("user")
        .filter(
            pk=key_id,
            state=PgpKey.State.ACTIVE,
            user__is_active=True,
            expiry_warned_days__isnull=False,
            expires_at__isnull=False,
        )
        .first()
    )
    if key is None:
        return 0
    return plain_mail(
        recipients=[key.user.email],
        template="distributors/email/key_expiry",
        context={
            "days": key.expiry_warned_days,
            "expires_at": key.expires_at,
            "url": settings.SITE_URL + reverse("distributors:keys"),
        },
    )


def _policy_pending(current: PolicyVersion):
    """Active people of member organisations who have not accepted `current`."""
    return (
        get_user_model()
        .objects.filter(
            is_active=True,
            pk__in=TeamMember.objects.filter(
                organization__status=Organization.Status.MEMBER
            ).values("user_id"),
        )
        .exclude(pk__in=PolicyAcceptance.objects.filter(version=current).values("user_id"))
    )


def policy_reminder_recipients(*, now: datetime | None = None) -> list:
    """People of member organisations who have not accepted the current policy and were
    not reminded in the last week."""
    now = now or timezone.now()
    current = policy_current()
    if current is None:
        return []
    recently = set(
        AuditEvent.objects.filter(
            action=POLICY_REMINDER_ACTION,
            target_type=ContentType.objects.get_for_model(get_user_model()),
            created_at__gt=now - POLICY_REMINDER_INTERVAL,
        ).values_list("target_id", flat=True)
    )
    users = _policy_pending(current).order_by("pk")
    return [user for user in users if str(user.pk) not in recently]


def policy_reminders_send(*, now: datetime | None = None) -> int:
    """Reminds people who still have to accept the current policy, at most once a week.
    Returns how many reminders this run claimed (their mail goes after the commit).

    The audit log ("policy.reminder_sent", one event per reminder) narrows the list; the
    claim per person and week is what two runs at once cannot both win."""
    now = now or timezone.now()
    claimed = 0
    for user in policy_reminder_recipients(now=now):
        with transaction.atomic():
            if not periodic_claim(
                job=POLICY_REMINDER_JOB, key=user.pk, now=now, every=POLICY_REMINDER_INTERVAL
            ):
                continue  # another run reminded this person this week
            audit_record(actor=None, action=POLICY_REMINDER_ACTION, target=user)
            task_queue_after_commit("distributors.tasks.policy_reminder_mail_task", user.pk)
        claimed += 1
    return claimed


def policy_reminder_mail(*, user_id: int) -> int:
    """The reminder a run claimed, unless the person accepted the policy or left the
    list meanwhile."""
    current = policy_current()
    if current is None:
        return 0
    user = _policy_pending(current).filter(pk=user_id).first()
    if user is None:
        return 0
    return plain_mail(
        recipients=[user.email],
        template="distributors/email/policy_reminder",
        context={"url": settings.SITE_URL + reverse("distributors:me")},
    )
