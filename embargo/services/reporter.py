"""The reporter of a case: the first response, the overdue reminder to staff, and telling
the reporter when their case is rejected or its disclosure date is set or moves.

What the reporter is told about their own case is still embargoed, so it goes only
encrypted to the key pinned on the case (one recipient, signed by the team, PGP/MIME).
Without a pinned key, or if encryption fails, the reporter gets a mail that says only that
the status of their report changed and asks them to contact the security team: never the
details in clear.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, formataddr, make_msgid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from core.audit import audit_record
from core.calendar import business_days_add
from core.mail import plain_mail
from core.models import AuditEvent
from core.queue import task_queue_after_commit
from embargo.delivery.mail import smtp_send
from embargo.models import Vulnerability
from pgpmail import CryptoError, pgp_mime_message

logger = logging.getLogger(__name__)

# The reference commits to a first response within 3 business days; staff hear at 2.
FIRST_RESPONSE_ALERT_BUSINESS_DAYS = 2
REPORTER_OUTER_SUBJECT = "Update on your security report"
REPORTER_EVENTS = ("vulnerability.rejected", "vulnerability.disclosure_moved")


def first_response_due_for_alert(case: Vulnerability) -> datetime:
    # The team's calendar: weekends, public holidays and closure days do not count.
    return business_days_add(start=case.reported_at, days=FIRST_RESPONSE_ALERT_BUSINESS_DAYS)


@transaction.atomic
def vulnerability_first_response_record(*, vulnerability: Vulnerability, actor) -> Vulnerability:
    """Staff say the reporter has had their first answer."""
    case = Vulnerability.objects.select_for_update().get(pk=vulnerability.pk)
    if case.first_response_at is not None:
        raise ValidationError("The first response to the reporter is already recorded.")
    now = timezone.now()
    case.first_response_at = now
    case.updated_at = now
    case.save(update_fields=["first_response_at", "updated_at"])
    audit_record(actor=actor, action="vulnerability.first_response_recorded", target=case)
    return case


def first_response_overdue_alert(*, now: datetime | None = None) -> int:
    """Tells staff, once per case, about open cases whose reporter has had no first
    response two business days after the report. Returns the number of cases.

    Safe to run twice at once: the cases are marked first, by a conditional UPDATE in one
    transaction with their audit events, and the mail is queued after the commit with
    the ids this run marked. A run that finds every case marked already sends nothing."""
    now = now or timezone.now()
    candidates = Vulnerability.objects.filter(
        state__in=Vulnerability.OPEN_STATES,
        first_response_at__isnull=True,
        first_response_alerted_at__isnull=True,
        # Two business days are at least two calendar days: the database narrows first.
        reported_at__lte=now - timedelta(days=FIRST_RESPONSE_ALERT_BUSINESS_DAYS),
    ).order_by("reported_at", "pk")
    due = [case for case in candidates if first_response_due_for_alert(case) <= now]
    if not due:
        return 0
    marked = []
    with transaction.atomic():
        for case in due:
            if Vulnerability.objects.filter(
                pk=case.pk,
                state__in=Vulnerability.OPEN_STATES,
                first_response_at__isnull=True,
                first_response_alerted_at__isnull=True,
            ).update(first_response_alerted_at=now):
                audit_record(actor=None, action="vulnerability.first_response_overdue", target=case)
                marked.append(case.pk)
        if marked:
            task_queue_after_commit("embargo.tasks.first_response_overdue_mail_task", marked)
    return len(marked)


def first_response_overdue_mail(*, vulnerability_ids: list[int]) -> int:
    """The staff alert for the cases a run marked; a case answered meanwhile is left
    out, and nothing is sent if none is left."""
    cases = Vulnerability.objects.filter(
        pk__in=vulnerability_ids,
        state__in=Vulnerability.OPEN_STATES,
        first_response_at__isnull=True,
    ).order_by("reported_at", "pk")
    if not cases:
        return 0
    staff = get_user_model().objects.filter(is_staff=True, is_active=True)
    # Staff mail says which case and where, never what it is about.
    return plain_mail(
        recipients=staff.values_list("email", flat=True),
        template="embargo/email/first_response_overdue",
        context={
            "cases": [
                {
                    "public_id": case.public_id,
                    "reported_at": case.reported_at,
                    "url": settings.SITE_URL
                    + reverse("embargo:case_detail", kwargs={"pk": case.pk}),
                }
                for case in cases
            ],
        },
    )


# ---------------------------------------------------------------- telling the reporter


def _utc(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "not set"


def _iso(value) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def reporter_update_text(*, case: Vulnerability, event: AuditEvent) -> str:
    """The text inside the encryption."""
    data = event.data or {}
    return render_to_string(
        "embargo/email/reporter_update.txt",
        {
            "case": case,
            "rejected": event.action == "vulnerability.rejected",
            "previous": _utc(_iso(data.get("from"))) if data.get("from") else None,
            "new": _utc(_iso(data.get("to"))),
            "SITE_NAME": settings.SITE_NAME,
            "SECURITY_TEAM_EMAIL": settings.SECURITY_TEAM_EMAIL,
        },
    )


def reporter_message(*, case: Vulnerability, event: AuditEvent) -> MimeMessage:
    inner = MimeMessage()
    inner["Subject"] = f"Your report {case.public_id}: {case.title}"[:200]
    inner.set_content(reporter_update_text(case=case, event=event))
    inner.set_param("protected-headers", "v1")
    return pgp_mime_message(
        recipient_armored=case.reporter_public_key,
        fingerprint=case.reporter_key_fingerprint,
        inner=inner,
        outer_subject=REPORTER_OUTER_SUBJECT,
        from_email=formataddr((settings.SITE_NAME, settings.SECURITY_TEAM_EMAIL)),
        to_email=case.reporter_email,
        message_id=make_msgid(idstring="reporter", domain=settings.HAULOUT_MESSAGE_ID_DOMAIN),
        headers={"Date": format_datetime(timezone.now())},
    )


def _encrypted_or_none(case: Vulnerability, event: AuditEvent) -> bytes | None:
    """The encrypted update as it goes on the wire (CRLF), or None to send the plain one."""
    if not (case.reporter_public_key and case.reporter_key_fingerprint):
        return None
    try:
        message = reporter_message(case=case, event=event)
        wire = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    except CryptoError as error:
        # The gpg phrase only ("key expired"); never any of the text.
        logger.warning(
            "Reporter update for case %s not encrypted: %s",
            case.pk,
            error,
            extra={"case_id": case.pk},
        )
        return None
    if (
        message.get_content_type() != "multipart/encrypted"
        or b"-----BEGIN PGP MESSAGE-----" not in wire
        or case.title.encode() in wire
    ):
        logger.warning(
            "Reporter update for case %s: no usable encrypted message",
            case.pk,
            extra={"case_id": case.pk},
        )
        return None
    return wire


def reporter_update_send(*, vulnerability_id: int, event_id: int) -> str:
    """Tells the reporter about the event. Returns "encrypted", "plain" (the content-free
    status mail), "no_reporter" or "nothing" (unknown case or event)."""
    case = Vulnerability.objects.filter(pk=vulnerability_id).first()
    event = AuditEvent.objects.filter(
        pk=event_id, action__in=REPORTER_EVENTS, target_id=str(vulnerability_id)
    ).first()
    if case is None or event is None:
        return "nothing"
    if not case.reporter_email:
        return "no_reporter"
    wire = _encrypted_or_none(case, event)
    if wire is not None:
        smtp_send(wire, from_email=settings.SECURITY_TEAM_EMAIL, to=case.reporter_email)
        outcome = "encrypted"
    else:
        plain_mail(
            recipients=[case.reporter_email],
            template="embargo/email/reporter_status_changed",
            context={
                "reported_at": case.reported_at,
                "SECURITY_TEAM_EMAIL": settings.SECURITY_TEAM_EMAIL,
            },
        )
        outcome = "plain"
    with transaction.atomic():
        audit_record(
            actor=None,
            action="vulnerability.reporter_told",
            target=case,
            data={"event": event.pk, "encrypted": outcome == "encrypted"},
        )
    return outcome
