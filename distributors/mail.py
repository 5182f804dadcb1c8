"""Plain notification mail. It never carries embargoed or application content: only a
state and a link, so a misdirected message tells the reader nothing."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.template import Context
from django.template.loader import get_template


def plain_render(template_name: str, context: dict) -> str:
    """A .txt template rendered with autoescaping off. Plain text is not HTML: escaping
    would deliver "O'Neil & Sons" as "O&#x27;Neil &amp; Sons". Names are safe to put in
    verbatim because they are normalised before they are stored (distributors/text.py)."""
    return get_template(template_name).template.render(Context(context, autoescape=False))


def mail_notify(*, recipients: Iterable[str], template: str, context: dict) -> int:
    recipients = sorted({address for address in recipients if address})
    if not recipients:
        return 0
    context = {"SITE_NAME": settings.SITE_NAME, "SITE_URL": settings.SITE_URL, **context}
    subject = plain_render(f"distributors/email/{template}_subject.txt", context)
    body = plain_render(f"distributors/email/{template}.txt", context)
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
