"""Who is told about a change, and with which template."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model

from .mail import mail_notify
from .models import Application


def application_state_notify(*, application_id: int) -> int:
    application = (
        Application.objects.select_related("organization").filter(pk=application_id).first()
    )
    if application is None:
        return 0
    recipients = application.organization.people.filter(
        is_admin=True, user__is_active=True
    ).values_list("user__email", flat=True)
    return mail_notify(
        recipients=recipients,
        template="application_state",
        context={
            "application": application,
            "url": settings.SITE_URL + application.get_absolute_url(),
        },
    )


def application_reviewer_alert(*, application_id: int) -> int:
    application = Application.objects.filter(pk=application_id).first()
    if application is None:
        return 0
    reviewers = get_user_model().objects.filter(is_staff=True, is_active=True)
    return mail_notify(
        recipients=reviewers.values_list("email", flat=True),
        template="reviewer_alert",
        context={
            "application": application,
            "url": settings.SITE_URL + application.get_review_url(),
        },
    )
