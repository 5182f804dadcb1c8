"""Who may receive an embargoed notice, and every reason why not.

Eligibility is computed, never stored: a stored flag could go stale between a policy
change, a key revocation or a suspension and the moment a notice is sent. The selector
runs a fixed number of queries however many people there are (the policy version, the
people with their organisation, user, MFA and acceptance as annotations, and one query for
the active keys), so a notice to every member costs the same as a notice to one team.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from allauth.mfa.models import Authenticator
from django.db import models
from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils import timezone

from .models import Organization, PgpKey, PolicyAcceptance, PolicyVersion, TeamMember
from .selectors import policy_current

# Organisations whose people are considered at all: an applicant never had access, but
# a suspended or removed member's people are listed so the security team sees why they
# were left out of a notice.
AUDIENCE_STATUSES = (
    Organization.Status.MEMBER,
    Organization.Status.SUSPENDED,
    Organization.Status.REMOVED,
)


class Reason(models.TextChoices):
    ORG_NOT_MEMBER = "org_not_member", "The organisation is not a member."
    ORG_SUSPENDED = "org_suspended", "The organisation is suspended."
    ORG_REMOVED = "org_removed", "The organisation has been removed."
    ACCOUNT_INACTIVE = "account_inactive", "The account is deactivated."
    NOT_NEED_TO_KNOW = "not_need_to_know", "Not marked as need-to-know."
    NO_MFA = "no_mfa", "Two-factor authentication is not set up."
    POLICY_NOT_ACCEPTED = "policy_not_accepted", "The current embargo policy is not accepted."
    NO_VERIFIED_KEY = "no_verified_key", "No verified PGP key."
    KEY_EXPIRES_BEFORE_DISCLOSURE = (
        "key_expires_before_disclosure",
        "The PGP key expires before the disclosure date.",
    )
    KEY_REVOKED = "key_revoked", "The PGP key was revoked."


_ORG_REASONS = {
    Organization.Status.APPLICANT: Reason.ORG_NOT_MEMBER,
    Organization.Status.SUSPENDED: Reason.ORG_SUSPENDED,
    Organization.Status.REMOVED: Reason.ORG_REMOVED,
}


@dataclass(frozen=True)
class Eligibility:
    member: TeamMember
    key: PgpKey | None
    reasons: tuple[str, ...]

    @property
    def eligible(self) -> bool:
        return not self.reasons

    @property
    def reason_labels(self) -> list[str]:
        return [Reason(reason).label for reason in self.reasons]


def _members(*, policy: PolicyVersion | int | None) -> QuerySet[TeamMember]:
    if policy is None:
        accepted = models.Value(False, output_field=models.BooleanField())
    else:
        accepted = Exists(PolicyAcceptance.objects.filter(user=OuterRef("user_id"), version=policy))
    return (
        TeamMember.objects.select_related("organization", "user")
        .annotate(
            has_totp=Exists(
                Authenticator.objects.filter(user=OuterRef("user_id"), type=Authenticator.Type.TOTP)
            ),
            has_accepted_policy=accepted,
            has_revoked_key=Exists(
                # Only a key that was once trusted: withdrawing an unproven upload
                # says nothing about a compromise.
                PgpKey.objects.filter(
                    user=OuterRef("user_id"),
                    state=PgpKey.State.REVOKED,
                    verified_at__isnull=False,
                )
            ),
        )
        .prefetch_related(
            Prefetch(
                "user__pgp_keys",
                queryset=PgpKey.objects.filter(state=PgpKey.State.ACTIVE),
                to_attr="active_pgp_keys",
            )
        )
        .order_by("organization__name", "user__email", "pk")
    )


def _evaluate(member: TeamMember, *, disclosure_at: datetime, now: datetime) -> Eligibility:
    reasons: list[str] = []
    org_reason = _ORG_REASONS.get(member.organization.status)
    if org_reason:
        reasons.append(org_reason)
    if not member.user.is_active:
        reasons.append(Reason.ACCOUNT_INACTIVE)
    if not member.is_need_to_know:
        reasons.append(Reason.NOT_NEED_TO_KNOW)
    if not member.has_totp:
        reasons.append(Reason.NO_MFA)
    if not member.has_accepted_policy:
        reasons.append(Reason.POLICY_NOT_ACCEPTED)
    keys = member.user.active_pgp_keys
    key = keys[0] if keys else None
    if key is None:
        reasons.append(Reason.NO_VERIFIED_KEY)
        # With no active key, a revoked one means the person's last key was revoked:
        # say so, because "no key" alone would hide a possible compromise.
        if member.has_revoked_key:
            reasons.append(Reason.KEY_REVOKED)
    elif key.expires_at is not None and key.expires_at <= max(disclosure_at, now):
        # The copy must still be decryptable, and the key usable, on disclosure day.
        reasons.append(Reason.KEY_EXPIRES_BEFORE_DISCLOSURE)
    return Eligibility(member=member, key=key, reasons=tuple(str(r) for r in reasons))


def eligibility_for_audience(
    *,
    organizations: Iterable[Organization | int] | None = None,
    disclosure_at: datetime,
) -> list[Eligibility]:
    """Every person of the audience, eligible or not, with every reason against.

    organizations=None means every organisation that is or was a member.
    """
    now = timezone.now()
    policy = policy_current()
    queryset = _members(policy=policy)
    if organizations is None:
        queryset = queryset.filter(organization__status__in=AUDIENCE_STATUSES)
    else:
        ids = [org.pk if isinstance(org, Organization) else int(org) for org in organizations]
        queryset = queryset.filter(organization_id__in=ids)
    return [_evaluate(member, disclosure_at=disclosure_at, now=now) for member in queryset]


def eligibility_for_members(
    *, team_member_ids: Iterable[int], disclosure_at: datetime
) -> dict[int, Eligibility]:
    """Several people at once, checked again at send time: {team member id: Eligibility}.
    A fixed number of queries (the policy, the people, their active keys) however many
    ids; an id whose membership is gone is simply absent from the result."""
    ids = sorted({int(pk) for pk in team_member_ids})
    if not ids:
        return {}
    now = timezone.now()
    # The current version's id is all the check needs (policy_current() reads its text).
    policy = PolicyVersion.objects.order_by("-number").values_list("pk", flat=True).first()
    members = _members(policy=policy).filter(pk__in=ids).order_by()
    return {
        member.pk: _evaluate(member, disclosure_at=disclosure_at, now=now) for member in members
    }


def eligibility_for_member(*, team_member_id: int, disclosure_at: datetime) -> Eligibility:
    """One person, checked again at send time. Raises TeamMember.DoesNotExist."""
    now = timezone.now()
    member = _members(policy=policy_current()).get(pk=team_member_id)
    return _evaluate(member, disclosure_at=disclosure_at, now=now)
