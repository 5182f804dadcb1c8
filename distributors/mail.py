"""Plain notification mail. It never carries embargoed or application content: only a
state and a link, so a misdirected message tells the reader nothing."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string


def mail_notify(*, recipients: Iterable[str], template: str, context: dict) -> int:
    recipients = sorted({address for address in recipients if address})
    if not recipients:
        return 0
    context = {"SITE_NAME": settings.SITE_NAME, "SITE_URL": settings.SITE_URL, **context}
    subject = render_to_string(f"distributors/email/{template}_subject.txt", context)
    body = render_to_string(f"distributors/email/{template}.txt", context)
    sent = 0
    # One message per person so no address is disclosed to another recipient.
    for address in recipients:
        sent += send_mail(
            subject=" ".join(subject.split()),
            message=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[address],
        )
    return sent
