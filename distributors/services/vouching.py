"""Vouching (criterion 7): the applicant names a member in good standing, who confirms or
declines in the portal."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.queue import task_queue_after_commit
from distributors.models import NOTE_MAX_LENGTH, Application, Organization, TeamMember, Vouch

# One message for "no such account" and "not a member in good standing": the list's
# membership is private, so the refusal must not tell the applicant which one it was.
VOUCHER_REFUSED = (
    "We can't ask this person to vouch: a voucher must be a person in good standing in a "
    "member organisation, and not from your own organisation."
)


def _require_org_admin(actor, organization: Organization) -> None:
    if not (
        actor.is_authenticated
        and TeamMember.objects.filter(organization=organization, user=actor, is_admin=True).exists()
    ):
        raise PermissionDenied("Only an admin of this organisation can do this.")


def _locked_application(application: Application) -> Application:
    return (
        Application.objects.select_for_update()
        .select_related("organization", "created_by")
        .get(pk=application.pk)
    )


def _locked_vouch(vouch: Vouch) -> Vouch:
    return (
        Vouch.objects.select_for_update()
        .select_related("application__organization", "voucher", "voucher_organization")
        .get(pk=vouch.pk)
    )


def _clean_statement(statement: str, *, required: bool) -> str:
    statement = (statement or "").strip()
    if required and not statement:
        raise ValidationError({"statement": "Say in a sentence or two how you know them."})
    if len(statement) > NOTE_MAX_LENGTH:
        raise ValidationError(
            {
                "statement": f"The statement is {len(statement):,} characters; "
                f"the limit is {NOTE_MAX_LENGTH:,}."
            }
        )
    return statement


def voucher_membership(*, user, application: Application) -> TeamMember | None:
    """The membership that lets `user` vouch for `application`, or None.

    A voucher is an active person of an organisation that is a member right now (not
    suspended or removed), is not the applicant, and belongs to no part of the applying
    organisation: a colleague vouching would defeat the point of an outside word."""
    if user is None or not user.is_active or user.pk == application.created_by_id:
        return None
    if TeamMember.objects.filter(user=user, organization_id=application.organization_id).exists():
        return None
    return (
        TeamMember.objects.select_related("organization")
        .filter(user=user, organization__status=Organization.Status.MEMBER)
        .exclude(organization_id=application.organization_id)
        .order_by("organization__member_since", "organization_id")
        .first()
    )


def _notify_voucher(vouch: Vouch) -> None:
    vouch_id = vouch.pk
    task_queue_after_commit("distributors.tasks.vouch_requested_mail_task", vouch_id)


def _notify_applicant(vouch: Vouch) -> None:
    vouch_id = vouch.pk
    task_queue_after_commit("distributors.tasks.vouch_answered_mail_task", vouch_id)


def _vouch_row_requested(vouch, *, application, voucher, membership, actor, now) -> Vouch:
    """Starts the existing (withdrawn) row over, or creates the first request."""
    if vouch is not None:
        # Withdrawn earlier and asked again: the same row starts over.
        vouch.state = Vouch.State.REQUESTED
        vouch.voucher_organization = membership.organization
        vouch.statement = ""
        vouch.requested_by, vouch.requested_at, vouch.responded_at = actor, now, None
        vouch.save(
            update_fields=[
                "state",
                "voucher_organization",
                "statement",
                "requested_by",
                "requested_at",
                "responded_at",
            ]
        )
    else:
        vouch = Vouch.objects.create(
            application=application,
            voucher=voucher,
            voucher_organization=membership.organization,
            requested_by=actor,
            requested_at=now,
        )
    return vouch


@transaction.atomic
def vouch_request(*, application: Application, voucher_email: str, actor) -> Vouch:
    """Ask a member to vouch. Allowed while the application is open, so an applicant whose
    voucher declined during review can ask someone else."""
    application = _locked_application(application)
    _require_org_admin(actor, application.organization)
    if not application.is_open:
        raise ValidationError("This application is closed; vouches can no longer be requested.")
    email = (voucher_email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"voucher_email": "Enter a valid email address."}) from None
    voucher = get_user_model().objects.filter(email__iexact=email, is_active=True).first()
    if voucher is not None and voucher.pk == actor.pk:
        raise ValidationError({"voucher_email": "You cannot vouch for your own application."})
    membership = voucher_membership(user=voucher, application=application)
    if membership is None:
        raise ValidationError({"voucher_email": VOUCHER_REFUSED})
    now = timezone.now()
    vouch = (
        Vouch.objects.select_for_update().filter(application=application, voucher=voucher).first()
    )
    if vouch is not None and vouch.state in (Vouch.State.REQUESTED, Vouch.State.CONFIRMED):
        raise ValidationError(
            {"voucher_email": "You have already asked this person; their answer is below."}
        )
    if vouch is not None and vouch.state == Vouch.State.DECLINED:
        raise ValidationError(
            {"voucher_email": "This person declined to vouch for this application."}
        )
    vouch = _vouch_row_requested(
        vouch, application=application, voucher=voucher, membership=membership, actor=actor, now=now
    )
    audit_record(
        actor=actor,
        action="vouch.requested",
        target=vouch,
        organization=application.organization,
        data={
            "application": application.pk,
            "voucher": voucher.pk,
            "voucher_organization": membership.organization_id,
        },
    )
    _notify_voucher(vouch)
    return vouch


def _require_voucher(actor, vouch: Vouch) -> None:
    if not (actor.is_authenticated and actor.pk == vouch.voucher_id):
        raise PermissionDenied("Only the person asked can answer this request.")


@transaction.atomic
def vouch_confirm(*, vouch: Vouch, statement: str, actor) -> Vouch:
    vouch = _locked_vouch(vouch)
    _require_voucher(actor, vouch)
    if vouch.state != Vouch.State.REQUESTED:
        raise ValidationError(
            f"This request is no longer waiting for an answer ({vouch.get_state_display()})."
        )
    if not vouch.application.is_open:
        raise ValidationError("This application is closed; there is nothing left to vouch for.")
    # Standing is checked again now: the organisation may have been suspended since.
    if voucher_membership(user=actor, application=vouch.application) is None or not (
        vouch.voucher_organization.status == Organization.Status.MEMBER
        and TeamMember.objects.filter(user=actor, organization=vouch.voucher_organization).exists()
    ):
        raise ValidationError(
            "Only a person in good standing in a member organisation can vouch; "
            "your organisation is not a member in good standing right now."
        )
    statement = _clean_statement(statement, required=True)
    vouch.state, vouch.statement, vouch.responded_at = (
        Vouch.State.CONFIRMED,
        statement,
        timezone.now(),
    )
    vouch.save(update_fields=["state", "statement", "responded_at"])
    audit_record(
        actor=actor,
        action="vouch.confirmed",
        target=vouch,
        organization=vouch.application.organization,
        data={"application": vouch.application_id},
    )
    _notify_applicant(vouch)
    return vouch


@transaction.atomic
def vouch_decline(*, vouch: Vouch, statement: str, actor) -> Vouch:
    """Say no, or take back a confirmation while the application is still open."""
    vouch = _locked_vouch(vouch)
    _require_voucher(actor, vouch)
    if vouch.state not in (Vouch.State.REQUESTED, Vouch.State.CONFIRMED):
        raise ValidationError(
            f"This request is no longer waiting for an answer ({vouch.get_state_display()})."
        )
    if not vouch.application.is_open:
        raise ValidationError("This application is closed; your answer can no longer change.")
    statement = _clean_statement(statement, required=False)
    previous = vouch.state
    vouch.state, vouch.statement, vouch.responded_at = (
        Vouch.State.DECLINED,
        statement,
        timezone.now(),
    )
    vouch.save(update_fields=["state", "statement", "responded_at"])
    audit_record(
        actor=actor,
        action="vouch.declined",
        target=vouch,
        organization=vouch.application.organization,
        data={"application": vouch.application_id, "from": previous},
    )
    _notify_applicant(vouch)
    return vouch


@transaction.atomic
def vouch_withdraw(*, vouch: Vouch, actor) -> Vouch:
    """The applicant no longer wants this person's vouch."""
    vouch = _locked_vouch(vouch)
    _require_org_admin(actor, vouch.application.organization)
    if vouch.state not in (Vouch.State.REQUESTED, Vouch.State.CONFIRMED):
        raise ValidationError("Only a waiting or confirmed vouch can be withdrawn.")
    if not vouch.application.is_open:
        raise ValidationError("This application is closed; its vouches can no longer change.")
    previous = vouch.state
    vouch.state = Vouch.State.WITHDRAWN
    vouch.save(update_fields=["state"])
    audit_record(
        actor=actor,
        action="vouch.withdrawn",
        target=vouch,
        organization=vouch.application.organization,
        data={"application": vouch.application_id, "from": previous},
    )
    return vouch


@transaction.atomic
def vouches_flag_for_organization(*, organization: Organization, reason: str, actor) -> int:
    """Mark every confirmed vouch given FOR `organization` (e.g. when it is removed) so the
    security team looks at its vouchers again. Returns how many were flagged."""
    if not (actor.is_authenticated and actor.is_staff):
        raise PermissionDenied("Only the security team can flag vouches.")
    reason = (reason or "").strip()[:300] or f"{organization} is {organization.status}."
    vouches = list(
        Vouch.objects.select_for_update().filter(
            application__organization=organization,
            state=Vouch.State.CONFIRMED,
            flagged_at__isnull=True,
        )
    )
    now = timezone.now()
    for vouch in vouches:
        vouch.flagged_at, vouch.flag_reason = now, reason
        vouch.save(update_fields=["flagged_at", "flag_reason"])
    if vouches:
        audit_record(
            actor=actor,
            action="vouch.flagged",
            target=organization,
            data={"vouches": [vouch.pk for vouch in vouches], "reason": reason},
        )
    return len(vouches)


@transaction.atomic
def organization_vouch_listing_set(
    *, actor, organization: Organization, contact: TeamMember | None
) -> Organization:
    """Opt in to (a person of the team as contact) or out of (None) the list of member
    organisations willing to vouch, which applicants see where they ask for a vouch."""
    _require_org_admin(actor, organization)
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    if contact is not None:
        if organization.status != Organization.Status.MEMBER:
            raise ValidationError(
                {"contact": "Only a member organisation can offer to vouch for applicants."}
            )
        if contact.organization_id != organization.pk or not contact.user.is_active:
            raise ValidationError({"contact": "Choose a person of your own team."})
    previous = organization.vouch_contact_id
    contact_id = contact.user_id if contact is not None else None
    if previous == contact_id:
        return organization
    organization.vouch_contact_id = contact_id
    organization.save(update_fields=["vouch_contact"])
    audit_record(
        actor=actor,
        action="organization.vouch_listing_set",
        target=organization,
        data={"listed": contact_id is not None, "contact": contact_id, "previous": previous},
    )
    return organization
