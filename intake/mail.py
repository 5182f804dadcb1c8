"""Mail about reports. Tasks call these with ids; each loads its rows and decides.

The receipt and staff alerts carry a reference, dates and a link, never what the report
says. A team message reaches the reporter encrypted to the key they gave; without one,
the mail says only that there is news and where to read it. Each mail has a Message-ID
made from the row it is about, so a message sent twice after a fault is one duplicate
the reader's mail program recognises."""

from __future__ import annotations

import logging
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, formataddr

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from core.mail import plain_mail
from embargo.delivery.mail import smtp_send
from intake.models import Report, ReportMessage
from intake.tokens import report_link
from pgpmail import CryptoError, pgp_mime_message

logger = logging.getLogger(__name__)
OUTER_SUBJECT = "News on your security report"


def _message_id(kind: str, pk: int) -> str:
    return f"<intake-{kind}-{pk}@{settings.HAULOUT_MESSAGE_ID_DOMAIN}>"


def report_receipt_send(*, report_id: int) -> bool:
    """The receipt, once: marked sent afterwards, so a crash in between sends it again
    (the same Message-ID) rather than never."""
    report = Report.objects.filter(pk=report_id, receipt_sent_at__isnull=True).first()
    if report is None:
        return False
    plain_mail(
        recipients=[report.reporter_email],
        template="intake/email/receipt",
        context={"report": report, "link": report_link(report)},
        message_id=_message_id("receipt", report.pk),
    )
    Report.objects.filter(pk=report.pk).update(receipt_sent_at=timezone.now())
    return True


def report_news_send(*, message_id: int) -> str:
    """Mails one team message to the reporter: "encrypted", "plain", or "nothing"."""
    message = (
        ReportMessage.objects.select_related("report")
        .filter(pk=message_id, author=ReportMessage.Author.TEAM, mailed_at__isnull=True)
        .first()
    )
    if message is None:
        return "nothing"
    report = message.report
    wire = _encrypted_or_none(message)
    if wire is not None:
        smtp_send(wire, from_email=settings.SECURITY_TEAM_EMAIL, to=report.reporter_email)
        outcome = "encrypted"
    else:
        plain_mail(
            recipients=[report.reporter_email],
            template="intake/email/news",
            context={"report": report, "link": report_link(report)},
            message_id=_message_id("news", message.pk),
        )
        outcome = "plain"
    with transaction.atomic():
        ReportMessage.objects.filter(pk=message.pk).update(mailed_at=timezone.now())
    return outcome


def _encrypted_or_none(message: ReportMessage) -> bytes | None:
    report = message.report
    if not (report.reporter_public_key and report.reporter_key_fingerprint):
        return None
    inner = MimeMessage()
    inner["Subject"] = f"Your report {report.reference}: {report.subject}"[:200]
    inner.set_content(
        render_to_string(
            "intake/email/news_encrypted.txt",
            {"report": report, "message": message, "link": report_link(report)},
        )
    )
    inner.set_param("protected-headers", "v1")
    try:
        mime = pgp_mime_message(
            recipient_armored=report.reporter_public_key,
            fingerprint=report.reporter_key_fingerprint,
            inner=inner,
            outer_subject=OUTER_SUBJECT,
            from_email=formataddr((settings.SITE_NAME, settings.SECURITY_TEAM_EMAIL)),
            to_email=report.reporter_email,
            message_id=_message_id("news", message.pk),
            headers={"Date": format_datetime(timezone.now())},
        )
        wire = mime.as_bytes(policy=mime.policy.clone(linesep="\r\n"))
    except CryptoError as error:
        # Fails closed: the plain "there is news" mail, never the text in clear.
        logger.warning("News for report %s not encrypted: %s", report.pk, error)
        return None
    if mime.get_content_type() != "multipart/encrypted" or message.body.encode() in wire:
        return None
    return wire


def staff_news_send(*, message_id: int) -> int:
    """Tells staff a reporter wrote back; which report and where, not what they wrote."""
    message = (
        ReportMessage.objects.select_related("report")
        .filter(pk=message_id, author=ReportMessage.Author.REPORTER)
        .first()
    )
    if message is None:
        return 0
    report = message.report
    staff = get_user_model().objects.filter(is_staff=True, is_active=True)
    return plain_mail(
        recipients=list(staff.values_list("email", flat=True)),
        template="intake/email/staff_news",
        context={
            "report": report,
            "url": settings.SITE_URL + reverse("intake:staff_report", kwargs={"pk": report.pk}),
        },
        message_id=_message_id("reply", message.pk),
    )


def staff_deadline_send(*, report_ids: list[int], overdue: bool) -> int:
    reports = list(Report.objects.filter(pk__in=report_ids, first_response_at__isnull=True))
    if not reports:
        return 0
    staff = get_user_model().objects.filter(is_staff=True, is_active=True)
    return plain_mail(
        recipients=list(staff.values_list("email", flat=True)),
        template="intake/email/staff_deadline",
        context={
            "overdue": overdue,
            "reports": [
                {
                    "reference": report.reference,
                    "due": report.first_response_due_at,
                    "url": settings.SITE_URL
                    + reverse("intake:staff_report", kwargs={"pk": report.pk}),
                }
                for report in reports
            ],
        },
        message_id=_message_id(f"{'overdue' if overdue else 'warn'}", min(report_ids)),
    )
