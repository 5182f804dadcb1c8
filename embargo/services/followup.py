"""After sending: acknowledgements, reminders, and telling people the embargo is over."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.mail import plain_mail
from core.queue import task_queue_after_commit
from embargo.models import Delivery, Notice, Vulnerability

# Same answer for "no such code" and "not yours": a code tells nobody whose it is.
NOT_YOURS = "This acknowledgement link does not belong to your account."


@transaction.atomic
def delivery_acknowledge(*, reference_code: str, user) -> Delivery:
    """Records that the person read their copy. The link needs sign-in with two factors
    (the view checks that); this checks the copy is the signed-in person's own."""
    code = (reference_code or "").strip().upper()
    if not user.is_authenticated:
        raise ValidationError(NOT_YOURS)
    delivery = (
        Delivery.objects.select_for_update()
        .select_related("organization")
        .filter(reference_code=code, user=user)
        .first()
    )
    if delivery is None:
        raise ValidationError(NOT_YOURS)
    if delivery.state != Delivery.State.SENT:
        raise ValidationError("This notice was not delivered to you, so it cannot be acknowledged.")
    if delivery.acknowledged_at is not None:
        return delivery  # a second click changes nothing
    delivery.acknowledged_at = timezone.now()
    delivery.save(update_fields=["acknowledged_at"])
    audit_record(
        actor=user,
        action="delivery.acknowledged",
        target=delivery,
        organization=delivery.organization,
    )
    return delivery


def acknowledgement_reminders_send(*, now=None) -> tuple[int, int]:
    """One plain reminder a day after sending; a day after that, staff are told who still
    has not acknowledged. Returns (reminders queued, notices reported to staff).

    Safe to run twice at once: every reminder and every alert is claimed by a conditional
    UPDATE before its mail is queued after the commit."""
    now = now or timezone.now()
    unacknowledged = Delivery.objects.filter(
        state=Delivery.State.SENT, acknowledged_at__isnull=True
    )
    reminder_cutoff = now - timedelta(hours=settings.HAULOUT_ACK_REMINDER_HOURS)
    due = list(
        unacknowledged.filter(reminded_at__isnull=True, sent_at__lte=reminder_cutoff).values_list(
            "pk", flat=True
        )
    )
    reminded = []
    for delivery_id in due:
        with transaction.atomic():
            # Conditional: two overlapping runs remind a person once.
            if Delivery.objects.filter(pk=delivery_id, reminded_at__isnull=True).update(
                reminded_at=now
            ):
                delivery = Delivery.objects.select_related("organization").get(pk=delivery_id)
                audit_record(
                    actor=None,
                    action="delivery.reminded",
                    target=delivery,
                    organization=delivery.organization,
                )
                reminded.append(delivery_id)
                task_queue_after_commit(
                    "embargo.tasks.acknowledgement_reminder_mail_task", delivery_id
                )
    alert_cutoff = now - timedelta(hours=settings.HAULOUT_ACK_STAFF_ALERT_HOURS)
    overdue = unacknowledged.filter(staff_alerted_at__isnull=True, reminded_at__lte=alert_cutoff)
    notices = sorted(set(overdue.values_list("notice_id", flat=True)))
    reported = []
    for notice_id in notices:
        with transaction.atomic():
            # Conditional too (`overdue` requires staff_alerted_at IS NULL): a person that
            # another run reported meanwhile is not counted, and a run that finds nobody
            # left sends no alert.
            count = overdue.filter(notice_id=notice_id).update(staff_alerted_at=now)
            if count:
                reported.append(notice_id)
                audit_record(
                    actor=None,
                    action="notice.unacknowledged_reported",
                    target=Notice(pk=notice_id),
                    data={"people": count},
                )
                task_queue_after_commit(
                    "embargo.tasks.staff_unacknowledged_alert_task", notice_id, count
                )
    return len(reminded), len(reported)


def acknowledgement_reminder_mail(*, delivery_id: int) -> int:
    delivery = Delivery.objects.filter(pk=delivery_id, acknowledged_at__isnull=True).first()
    if delivery is None:
        return 0
    return plain_mail(
        recipients=[delivery.email],
        template="embargo/email/ack_reminder",
        context={"sent_at": delivery.sent_at, "team_email": settings.SECURITY_TEAM_EMAIL},
    )


def staff_unacknowledged_alert(*, notice_id: int, count: int) -> int:
    notice = Notice.objects.filter(pk=notice_id).first()
    if notice is None:
        return 0
    staff = get_user_model().objects.filter(is_staff=True, is_active=True)
    return plain_mail(
        recipients=staff.values_list("email", flat=True),
        template="embargo/email/ack_staff_alert",
        context={
            "notice_id": notice.pk,
            "count": count,
            "url": settings.SITE_URL + notice.get_staff_url(),
        },
    )


def embargo_lifted_mail(*, vulnerability_id: int) -> int:
    """Tells everyone who received a copy about the case that it is public now. Plain
    mail on purpose: after disclosure there is nothing left to protect, and it says only
    the public id and where the advisory is."""
    case = Vulnerability.objects.filter(
        pk=vulnerability_id, state=Vulnerability.State.DISCLOSED
    ).first()
    if case is None:
        return 0
    recipients = (
        Delivery.objects.filter(notice__vulnerability=case, state=Delivery.State.SENT)
        .values_list("email", flat=True)
        .distinct()
    )
    return plain_mail(
        recipients=recipients,
        template="embargo/email/embargo_lifted",
        context={
            "public_id": case.public_id,
            "disclosed_at": case.disclosed_at,
            "url": settings.SITE_URL + case.get_advisory_url(),
        },
    )
