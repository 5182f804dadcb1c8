"""Mail about an organisation's standing. It names the organisation and the decision and
links to the page that explains it; the reason stays on the page, behind a sign-in."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from .mail import mail_notify
from .models import Organization, TeamMember

EVENTS = ("suspended", "removed", "reinstated", "vouchee_removed")


def organization_standing_notify(*, organization_id: int, event: str) -> int:
    if event not in EVENTS:
        return 0
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return 0
    context = {
        "organization": organization.name,
        "url": settings.SITE_URL + reverse("distributors:standing"),
        "team_email": settings.SECURITY_TEAM_EMAIL,
    }
    if event == "vouchee_removed":
        from .services.sanctions import vouchers_of_removed

        recipients = vouchers_of_removed(organization=organization)
    else:
        recipients = TeamMember.objects.filter(
            organization=organization, user__is_active=True
        ).values_list("user__email", flat=True)
    return mail_notify(recipients=recipients, template=f"organization_{event}", context=context)
