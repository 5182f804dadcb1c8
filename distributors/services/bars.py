"""Personal bars: the people of a removed organisation, barred by account and by verified
address from every door (applying, founding, being invited, accepting an invitation,
receiving notices), until the security team lifts a bar with a reason.

Why by account and by address: the account catches the person whatever address they add
later; the address catches a new account made with a barred address. Only verified
addresses ever become bars (or lead to a domain block): anyone can add an unverified
address to their own account, and a removal must not let them bar someone else.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from allauth.account.models import EmailAddress
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.audit import audit_record
from distributors.models import BlockedIdentity, Organization, TeamMember

Kind = BlockedIdentity.Kind
LIFT_REASON_MAX_LENGTH = 2000

# What a member admin is told when the address they invite is barred: no reason and no
# organisation, because the bar concerns someone outside their own organisation.
INVITE_REFUSAL = (
    "This address cannot be invited. Write to the security team if you think this is a mistake."
)
ACCEPT_REFUSAL = (
    "You cannot join a team on this list: an organisation you belonged to was permanently "
    "removed, and its people are barred. Write to the security team if you think this is a "
    "mistake."
)


def _live() -> QuerySet[BlockedIdentity]:
    return BlockedIdentity.objects.filter(lifted_at__isnull=True)


def verified_addresses(*, user_ids: Iterable[int]) -> dict[int, set[str]]:
    """{user id: lower-case verified addresses}. The account's primary email counts only
    when allauth has it verified, which is the same as having a verified row."""
    found: dict[int, set[str]] = {}
    rows = EmailAddress.objects.filter(user_id__in=list(user_ids), verified=True)
    for user_id, email in rows.values_list("user_id", "email"):
        if email:
            found.setdefault(user_id, set()).add(email.strip().lower())
    return found


def person_bars_create(
    *, organization: Organization, user_ids: Iterable[int], reason: str, now: datetime
) -> dict[str, list[str]]:
    """Bars each person's account and verified addresses (inside the removal's
    transaction). Returns what was newly barred, for the audit event."""
    user_ids = sorted(set(user_ids))
    addresses = verified_addresses(user_ids=user_ids)
    accounts, emails = [], []
    for user_id in user_ids:
        if _block(organization, Kind.ACCOUNT, str(user_id), reason, now, user_id=user_id):
            accounts.append(str(user_id))
        for address in sorted(addresses.get(user_id, ())):
            if _block(organization, Kind.EMAIL, address, reason, now, user_id=user_id):
                emails.append(address)
    return {"accounts": accounts, "emails": sorted(emails)}


def _block(organization, kind: str, value: str, reason: str, now, *, user_id=None) -> bool:
    if not value:
        return False
    _, created = _live().get_or_create(
        kind=kind,
        value=value,
        defaults={
            "organization": organization,
            "user_id": user_id,
            "reason": reason[:300],
            "created_at": now,
        },
    )
    return created


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].strip().lower().rstrip(".") if "@" in address else ""


def domain_blocked(domain: str, blocked: set[str]) -> bool:
    # sub.example.net is blocked when example.net is.
    parts = domain.split(".")
    return any(".".join(parts[i:]) in blocked for i in range(len(parts) - 1))


def blocked_domains() -> set[str]:
    return set(_live().filter(kind=Kind.DOMAIN).values_list("value", flat=True))


def person_barred(*, user) -> bool:
    """True if this account is barred, or one of its verified addresses is."""
    if user is None or not user.pk:
        return False
    if _live().filter(kind=Kind.ACCOUNT, user_id=user.pk).exists():
        return True
    # Fail closed for a person of a removed organisation whom no bar names (a row made
    # outside organisation_remove): barred unless the security team lifted their bar.
    if (
        TeamMember.objects.filter(
            user_id=user.pk, organization__status=Organization.Status.REMOVED
        ).exists()
        and not BlockedIdentity.objects.filter(
            kind=Kind.ACCOUNT, user_id=user.pk, lifted_at__isnull=False
        ).exists()
    ):
        return True
    addresses = verified_addresses(user_ids=[user.pk]).get(user.pk, set())
    return bool(addresses) and _live().filter(kind=Kind.EMAIL, value__in=addresses).exists()


def address_barred(*, email: str) -> bool:
    """True if inviting this address would reach a barred person: the address itself is
    barred, its domain is blocked, or an account that verified it is barred."""
    email = (email or "").strip().lower()
    if not email:
        return False
    if _live().filter(kind=Kind.EMAIL, value=email).exists():
        return True
    domain = domain_of(email)
    if domain and domain_blocked(domain, blocked_domains()):
        return True
    owners = EmailAddress.objects.filter(email__iexact=email, verified=True).values("user_id")
    return _live().filter(kind=Kind.ACCOUNT, user_id__in=owners).exists()


# ---------------------------------------------------------------- staff


def bars_for_staff(
    *, user, kind: str = "", state: str = "", query: str = ""
) -> QuerySet[BlockedIdentity]:
    """Every bar, newest first, for the security team only (others get none)."""
    if not (user is not None and user.is_authenticated and user.is_staff):
        return BlockedIdentity.objects.none()
    queryset = BlockedIdentity.objects.select_related("organization", "user", "lifted_by")
    if kind in Kind.values:
        queryset = queryset.filter(kind=kind)
    if state == "live":
        queryset = queryset.filter(lifted_at__isnull=True)
    elif state == "lifted":
        queryset = queryset.filter(lifted_at__isnull=False)
    query = (query or "").strip()[:200]
    if query:
        queryset = queryset.filter(
            Q(value__icontains=query)
            | Q(user__email__icontains=query)
            | Q(organization__name__icontains=query)
        )
    return queryset.order_by("-created_at", "kind", "value")


@transaction.atomic
def person_bar_lift(*, bar: BlockedIdentity, actor, reason: str) -> list[BlockedIdentity]:
    """Lifts a personal bar, keeping the row as history. Lifting an account bar lifts the
    address bars the same removal made for that person too: a bar is one decision about
    one person. Returns the bars lifted."""
    if not (actor is not None and actor.is_authenticated and actor.is_staff):
        raise PermissionDenied("Only the security team can do this.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Give the reason for lifting the bar."})
    if len(reason) > LIFT_REASON_MAX_LENGTH:
        raise ValidationError({"reason": f"At most {LIFT_REASON_MAX_LENGTH:,} characters, please."})
    bar = BlockedIdentity.objects.select_for_update().get(pk=bar.pk)
    if bar.kind not in BlockedIdentity.PERSONAL_KINDS:
        raise ValidationError("A domain block is not a personal bar and cannot be lifted here.")
    if bar.lifted_at is not None:
        raise ValidationError("This bar was already lifted.")
    bars = [bar]
    if bar.kind == Kind.ACCOUNT and bar.user_id:
        bars += list(
            _live()
            .select_for_update()
            .filter(kind=Kind.EMAIL, user_id=bar.user_id, organization_id=bar.organization_id)
            .exclude(pk=bar.pk)
        )
    now = timezone.now()
    for item in bars:
        item.lifted_at = now
        item.lifted_by = actor
        item.lift_reason = reason
        item.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
        audit_record(
            actor=actor,
            action="blocked_identity.lifted",
            target=item,
            organization=item.organization,
            data={
                "kind": item.kind,
                "value": item.value,
                "user": item.user_id,
                "reason": reason,
            },
        )
    return bars
