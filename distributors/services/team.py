"""The need-to-know team: invitations and the admins' changes to the people in it.

Every change locks the organisation row first, so two admins acting at once are applied one
after the other: that is what keeps "the last admin cannot go" true under concurrency.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import audit_record
from core.mail import plain_mail
from core.queue import task_queue_after_commit
from distributors.models import Invitation, Organization, TeamMember
from distributors.services.bars import ACCEPT_REFUSAL, INVITE_REFUSAL, address_barred, person_barred

# The session remembers the hash of the invitation link its holder opened, so that signing
# up with the invited address through it needs no second confirmation mail
# (AccountAdapter.is_email_verified). Never the raw token.
INVITATION_SESSION_KEY = "haulout.invitation_sha256"


def invitation_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, invitation_token_hash(token)


def _locked_organization(organization: Organization) -> Organization:
    return Organization.objects.select_for_update().get(pk=organization.pk)


def _require_admin(actor, organization: Organization) -> TeamMember:
    membership = (
        TeamMember.objects.filter(
            organization=organization, user_id=actor.pk, is_admin=True
        ).first()
        if actor is not None and actor.is_authenticated
        else None
    )
    if membership is None:
        raise PermissionDenied("Only an admin of this organisation can do this.")
    return membership


def _require_member_organization(organization: Organization) -> None:
    if organization.status != Organization.Status.MEMBER:
        raise ValidationError(
            "Only a member organisation can invite people; this organisation is "
            f"{organization.get_status_display().lower()}."
        )


def _other_admins(member: TeamMember) -> int:
    return (
        TeamMember.objects.filter(organization_id=member.organization_id, is_admin=True)
        .exclude(pk=member.pk)
        .count()
    )


def _invitation_email_clean(organization: Organization, email: str, *, now) -> str:
    """Returns the stripped address, or raises if it cannot be invited to this team."""
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": "Enter a valid email address."}) from None
    if len(email) > 254:
        raise ValidationError({"email": "That address is too long."})
    # A removed organisation's people are barred personally; the admin is not told why,
    # since the bar is about someone outside their organisation.
    if address_barred(email=email):
        raise ValidationError({"email": INVITE_REFUSAL})
    if TeamMember.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise ValidationError({"email": f"{email} is already in this team."})
    if Invitation.objects.filter(
        organization=organization,
        email__iexact=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=now,
    ).exists():
        raise ValidationError(
            {"email": f"{email} already has a pending invitation; revoke it to send a new one."}
        )
    return email


@transaction.atomic
def invitation_create(
    *,
    actor,
    organization: Organization,
    email: str,
    is_admin: bool = False,
    is_need_to_know: bool = True,
) -> Invitation:
    """Record an invitation; the worker mints the link's token and mails it.

    The raw token is never in a task argument or the database: the mail task makes a fresh
    one, stores its hash and sends the link in the same step (invitation_send).
    """
    organization = _locked_organization(organization)
    _require_admin(actor, organization)
    _require_member_organization(organization)
    now = timezone.now()
    email = _invitation_email_clean(organization, email, now=now)
    # A placeholder hash nobody holds the token for, until the mail task replaces it.
    _unused, placeholder = _new_token()
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        is_admin=bool(is_admin),
        is_need_to_know=bool(is_need_to_know),
        token_sha256=placeholder,
        invited_by=actor,
        created_at=now,
        expires_at=now + timedelta(days=Invitation.VALID_DAYS),
    )
    audit_record(
        actor=actor,
        action="invitation.created",
        target=invitation,
        data={
            "email": email,
            "is_admin": invitation.is_admin,
            "is_need_to_know": invitation.is_need_to_know,
        },
    )
    invitation_id = invitation.pk
    task_queue_after_commit("distributors.tasks.invitation_send_task", invitation_id)
    return invitation


def invitation_send(*, invitation_id: int) -> int:
    """Mint the link's token, store only its hash, mail the link. Returns messages sent.

    A retry mints a new token, so only the newest mailed link works; nothing else is lost.
    """
    from django.conf import settings
    from django.urls import reverse

    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .select_related("organization", "invited_by")
            .filter(pk=invitation_id)
            .first()
        )
        if invitation is None or invitation.accepted_at or invitation.revoked_at:
            return 0
        if invitation.expires_at <= timezone.now():
            return 0
        token, digest = _new_token()
        invitation.token_sha256 = digest
        invitation.save(update_fields=["token_sha256"])
        # Each mailed link is on record; the token itself never is.
        audit_record(actor=None, action="invitation.link_sent", target=invitation)
    url = settings.SITE_URL + reverse("distributors:invitation", kwargs={"token": token})
    return plain_mail(
        recipients=[invitation.email],
        template="distributors/email/invitation",
        context={
            "organization": invitation.organization,
            # Named so the person can judge the mail (and ask that admin) before clicking.
            "inviter": invitation.invited_by.email,
            "url": url,
            "expires_at": invitation.expires_at,
        },
    )


def invitation_for_token(token: str) -> Invitation | None:
    if not token or len(token) > 200:
        return None
    return (
        Invitation.objects.select_related("organization")
        .filter(token_sha256=invitation_token_hash(token))
        .first()
    )


def invitation_problem(invitation: Invitation | None, *, now=None) -> str | None:
    """Why a link cannot be used, in words for the person holding it; None if it can."""
    now = now or timezone.now()
    if invitation is None:
        return "This invitation link is not valid. Ask your organisation's admin for a new one."
    if invitation.revoked_at:
        return "This invitation was withdrawn by the organisation. Ask its admin for a new one."
    if invitation.accepted_at:
        return "This invitation has already been used. Each link works only once."
    if invitation.expires_at <= now:
        return (
            "This invitation has expired (links are valid for "
            f"{Invitation.VALID_DAYS} days). Ask your organisation's admin for a new one."
        )
    if invitation.organization.status != Organization.Status.MEMBER:
        return "This organisation is not a member at the moment, so it cannot add people."
    return None


def invitation_usable_for_hash(token_sha256: str | None) -> Invitation | None:
    """The invitation whose link has this hash, if it can still be accepted."""
    if not token_sha256 or len(token_sha256) != 64:
        return None
    invitation = (
        Invitation.objects.select_related("organization").filter(token_sha256=token_sha256).first()
    )
    if invitation is None or invitation_problem(invitation) is not None:
        return None
    return invitation


def invitation_proves_address(*, token_sha256: str, email: str) -> bool:
    """Whether the invitation link opened in this session proves that its holder reads
    mail at `email`: only the invited address itself, only while the invitation is still
    usable (not expired, revoked or used), and never for a barred address."""
    invitation = invitation_usable_for_hash(token_sha256)
    if invitation is None or not email:
        return False
    if invitation.email.strip().lower() != email.strip().lower():
        return False
    return not address_barred(email=email)


def invitation_address_verified(*, user, email: str) -> bool:
    from allauth.account.models import EmailAddress

    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()


def invitation_accept(*, token: str, user) -> TeamMember:
    """The invited person joins the team. Refusals leave the invitation usable."""
    if user is None or not user.is_authenticated:
        raise PermissionDenied("Sign in first.")
    with transaction.atomic():
        found = invitation_for_token(token)
        if found is not None:
            _locked_organization(found.organization)
            # Re-read under the lock: two clicks on one link must not both succeed.
            found = Invitation.objects.select_related("organization").get(pk=found.pk)
        problem = invitation_problem(found)
        if problem:
            raise ValidationError(problem)
        invitation = found
        if not invitation_address_verified(user=user, email=invitation.email):
            raise ValidationError(
                "This invitation was sent to a different email address than the one you are "
                "signed in with. Sign in with the invited address (or add and verify it on "
                "your account), then open the link again."
            )
        # Checked again here: the bar may be newer than the invitation, and the accepting
        # account may hold a barred address or be barred itself.
        if person_barred(user=user) or address_barred(email=invitation.email):
            raise ValidationError(ACCEPT_REFUSAL)
        if TeamMember.objects.filter(organization=invitation.organization, user=user).exists():
            raise ValidationError("You are already in this organisation's team.")
        now = timezone.now()
        try:
            with transaction.atomic():
                member = TeamMember.objects.create(
                    organization=invitation.organization,
                    user=user,
                    is_admin=invitation.is_admin,
                    is_need_to_know=invitation.is_need_to_know,
                )
        except IntegrityError:
            raise ValidationError("You are already in this organisation's team.") from None
        invitation.accepted_at = now
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        audit_record(
            actor=user,
            action="invitation.accepted",
            target=invitation,
            data={"team_member": member.pk},
        )
        audit_record(
            actor=user,
            action="team_member.added",
            target=member,
            data={
                "is_admin": member.is_admin,
                "is_need_to_know": member.is_need_to_know,
                "invitation": invitation.pk,
            },
        )
    return member


@transaction.atomic
def invitation_revoke(*, actor, invitation: Invitation) -> Invitation:
    organization = _locked_organization(invitation.organization)
    _require_admin(actor, organization)
    invitation = Invitation.objects.get(pk=invitation.pk)
    if invitation.accepted_at:
        raise ValidationError("This invitation was already accepted; remove the person instead.")
    if invitation.revoked_at:
        raise ValidationError("This invitation was already revoked.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit_record(
        actor=actor,
        action="invitation.revoked",
        target=invitation,
        data={"email": invitation.email},
    )
    return invitation


@transaction.atomic
def team_member_update(
    *,
    actor,
    member: TeamMember,
    is_need_to_know: bool | None = None,
    is_admin: bool | None = None,
) -> TeamMember:
    """Change a person's flags. The last admin cannot be demoted."""
    organization = _locked_organization(member.organization)
    _require_admin(actor, organization)
    member = TeamMember.objects.select_related("user").get(pk=member.pk)
    changes: dict[str, list[bool]] = {}
    if is_admin is not None and bool(is_admin) != member.is_admin:
        if not is_admin and _other_admins(member) == 0:
            raise ValidationError(
                "This is the organisation's last admin. Make someone else an admin first."
            )
        changes["is_admin"] = [member.is_admin, bool(is_admin)]
        member.is_admin = bool(is_admin)
    if is_need_to_know is not None and bool(is_need_to_know) != member.is_need_to_know:
        changes["is_need_to_know"] = [member.is_need_to_know, bool(is_need_to_know)]
        member.is_need_to_know = bool(is_need_to_know)
    if not changes:
        return member
    member.save(update_fields=list(changes))
    audit_record(actor=actor, action="team_member.updated", target=member, data=changes)
    return member


@transaction.atomic
def team_member_remove(*, actor, member: TeamMember) -> None:
    """Take a person out of the team. The last admin cannot be removed."""
    organization = _locked_organization(member.organization)
    _require_admin(actor, organization)
    member = TeamMember.objects.select_related("user").get(pk=member.pk)
    if member.is_admin and _other_admins(member) == 0:
        raise ValidationError(
            "This is the organisation's last admin and cannot be removed. "
            "Make someone else an admin first."
        )
    # The event is written before the row goes so its target still resolves to a name.
    audit_record(
        actor=actor,
        action="team_member.removed",
        target=member,
        organization=organization,
        data={
            "user": member.user_id,
            "email": member.user.email,
            "was_admin": member.is_admin,
            "was_need_to_know": member.is_need_to_know,
        },
    )
    member.delete()
