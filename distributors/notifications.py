"""Who is told about a change, and with which template."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.urls import reverse

from core.mail import plain_mail
from core.models import AuditCheckpoint
from distributors.models import Application, Organization, PolicyVersion, TeamMember, Vouch
from distributors.services.sanctions import vouchers_of_removed


def application_state_notify(*, application_id: int) -> int:
    application = (
        Application.objects.select_related("organization").filter(pk=application_id).first()
    )
    if application is None:
        return 0
    recipients = application.organization.people.filter(
        is_admin=True, user__is_active=True
    ).values_list("user__email", flat=True)
    return plain_mail(
        recipients=recipients,
        template="distributors/email/application_state",
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
    return plain_mail(
        recipients=reviewers.values_list("email", flat=True),
        template="distributors/email/reviewer_alert",
        context={
            "application": application,
            "url": settings.SITE_URL + application.get_review_url(),
        },
    )


def policy_lapsed_notify(*, version_id: int) -> int:
    """Everyone whose acceptance lapsed with this version, and every person of a member
    organisation, is asked to accept it. The mail holds a link, never the policy text."""
    version = PolicyVersion.objects.filter(pk=version_id).first()
    latest = PolicyVersion.objects.order_by("-number").first()
    # A newer version's own task asks for that one; asking for this one would mislead.
    if version is None or latest is None or latest.pk != version.pk:
        return 0
    people = (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            Q(policy_acceptances__version__number__lt=version.number)
            | Q(memberships__organization__status=Organization.Status.MEMBER)
        )
        .exclude(policy_acceptances__version=version)
        .distinct()
    )
    return plain_mail(
        recipients=people.values_list("email", flat=True),
        template="distributors/email/policy_lapsed",
        context={"version": version, "url": settings.SITE_URL + reverse("distributors:policy")},
    )


def vouch_requested_notify(*, vouch_id: int) -> int:
    vouch = (
        Vouch.objects.select_related("voucher")
        .filter(pk=vouch_id, state=Vouch.State.REQUESTED, voucher__is_active=True)
        .first()
    )
    if vouch is None:
        return 0
    return plain_mail(
        recipients=[vouch.voucher.email],
        template="distributors/email/vouch_requested",
        context={
            "url": settings.SITE_URL + reverse("distributors:vouch_detail", kwargs={"pk": vouch.pk})
        },
    )


def vouch_answered_notify(*, vouch_id: int) -> int:
    vouch = Vouch.objects.select_related("application__organization").filter(pk=vouch_id).first()
    if vouch is None:
        return 0
    application = vouch.application
    recipients = application.organization.people.filter(
        is_admin=True, user__is_active=True
    ).values_list("user__email", flat=True)
    return plain_mail(
        recipients=recipients,
        template="distributors/email/vouch_answered",
        context={
            "application": application,
            "url": settings.SITE_URL + application.get_absolute_url(),
        },
    )


# An organisation's standing. It names the organisation and the decision and links to the
# page that explains it; the reason stays on the page, behind a sign-in.
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
        recipients = vouchers_of_removed(organization=organization)
    else:
        recipients = TeamMember.objects.filter(
            organization=organization, user__is_active=True
        ).values_list("user__email", flat=True)
    return plain_mail(
        recipients=recipients, template=f"distributors/email/organization_{event}", context=context
    )


def audit_checkpoint_notify(*, checkpoint_id: int) -> int:
    """Staff get the day's sequence number and hash: a copy of the checkpoint outside
    the database, so whoever can change the database cannot change every record of it."""
    checkpoint = AuditCheckpoint.objects.filter(pk=checkpoint_id).first()
    if checkpoint is None:
        return 0
    staff = get_user_model().objects.filter(is_staff=True, is_active=True)
    return plain_mail(
        recipients=staff.values_list("email", flat=True),
        template="distributors/email/audit_checkpoint",
        context={"checkpoint": checkpoint},
    )
