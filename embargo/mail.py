"""Plain mail about notices. It never carries embargoed text: a state, a date and a link,
so a misdirected or intercepted message tells the reader nothing about the issue."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail

from distributors.mail import plain_render


def plain_mail(*, recipients: Iterable[str], template: str, context: dict) -> int:
    recipients = sorted({address for address in recipients if address})
    if not recipients:
        return 0
    context = {"SITE_NAME": settings.SITE_NAME, "SITE_URL": settings.SITE_URL, **context}
    subject = " ".join(plain_render(f"embargo/email/{template}_subject.txt", context).split())
    body = plain_render(f"embargo/email/{template}.txt", context)
    sent = 0
    # One message per person: no recipient learns who else is on the list.
    for address in recipients:
        sent += send_mail(
            subject=subject,
            message=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[address],
        )
    return sent
