"""Plain notification mail. It never carries embargoed or application content: only a
state, a date and a link, so a misdirected or intercepted message tells the reader
nothing about the issue."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.mail import EmailMessage
from django.template import Context
from django.template.loader import get_template


def plain_render(template_name: str, context: dict) -> str:
    """A .txt template rendered with autoescaping off. Plain text is not HTML: escaping
    would deliver "O'Neil & Sons" as "O&#x27;Neil &amp; Sons". Names are safe to put in
    verbatim because they are normalised before they are stored (distributors/text.py)."""
    return get_template(template_name).template.render(Context(context, autoescape=False))


def plain_mail(
    *, recipients: Iterable[str], template: str, context: dict, message_id: str | None = None
) -> int:
    """One message per address from `<template>_subject.txt` and `<template>.txt`
    (e.g. template="embargo/email/ack_reminder"). Returns how many were sent.
    `message_id`, when the caller has a stable one, makes a message sent twice (a retried
    task) the same message to the recipient's mail reader."""
    recipients = sorted({address for address in recipients if address})
    if not recipients:
        return 0
    context = {
        "SITE_NAME": settings.SITE_NAME,
        "SITE_URL": settings.SITE_URL,
        "SECURITY_TEAM_EMAIL": settings.SECURITY_TEAM_EMAIL,
        **context,
    }
    subject = " ".join(plain_render(f"{template}_subject.txt", context).split())
    body = plain_render(f"{template}.txt", context)
    # Auto-Submitted and X-Loop: an auto-reply to this mail piped back into
    # report_mail_in is recognised and dropped (RFC 3834), and vacation responders
    # stay quiet.
    headers = {"Auto-Submitted": "auto-generated", "X-Loop": settings.SECURITY_TEAM_EMAIL}
    if message_id:
        headers["Message-ID"] = message_id
    sent = 0
    # One message per person: no recipient learns who else is on the list.
    for address in recipients:
        sent += EmailMessage(
            subject=subject,
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
            headers=headers,
        ).send()
    return sent
