"""The list's founding members.

Criterion 7 needs a vouch from an existing member, so the very first members cannot come
in through an application: the operator enters them once, from the command line
(`manage.py founding_member`). It is still a service with an audit event, so the record
says who was admitted without review and when.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from distributors.models import Organization, TeamMember
from distributors.services.applications import _clean_text, _unique_slug, organization_name_taken
from distributors.services.sanctions import REMOVED_REFUSAL, application_blocked
from distributors.text import organization_name_clean


@transaction.atomic
def organization_found(*, actor, name: str, website: str, admin_email: str) -> Organization:
    """A member organisation admitted without an application, with its first admin.

    The admin must already have an account with a verified address, so the person who
    will run the team has proved they control it."""
    # Normalised as an application's name is (see organization_apply).
    name = organization_name_clean(name)
    website = _clean_text(
        website, field="website", label="The website", max_length=300, required=True
    )
    try:
        URLValidator(schemes=["https", "http"])(website)
    except ValidationError:
        raise ValidationError({"website": "Enter a valid http(s) address."}) from None
    address = (
        EmailAddress.objects.select_related("user")
        .filter(email__iexact=(admin_email or "").strip(), verified=True)
        .first()
    )
    if address is None:
        raise ValidationError(
            {"admin_email": "No account has verified this address; the admin signs up first."}
        )
    admin = address.user
    if application_blocked(actor=admin, name=name, website=website):
        raise ValidationError(REMOVED_REFUSAL)
    if TeamMember.objects.filter(user=admin).exists():
        raise ValidationError({"admin_email": "This person already belongs to an organisation."})
    if organization_name_taken(name):
        raise ValidationError({"name": "An organisation with this name already exists."})
    organization = Organization.objects.create(
        name=name,
        slug=_unique_slug(name),
        website=website,
        status=Organization.Status.MEMBER,
        member_since=timezone.now(),
    )
    TeamMember.objects.create(
        organization=organization, user=admin, is_admin=True, is_need_to_know=True
    )
    audit_record(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action="organization.founded",
        target=organization,
        data={
            "name": name,
            "website": website,
            "admin": admin.pk,
            "from": None,
            "to": Organization.Status.MEMBER,
        },
    )
    return organization
