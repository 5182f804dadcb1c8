"""Who may receive an embargoed notice, and every reason why not.

Eligibility is computed, never stored: a stored flag could go stale between a policy
change, a key revocation or a suspension and the moment a notice is sent. The selector
runs a fixed number of queries however many people there are (the policy version, the
people with their organisation, user, MFA and acceptance as annotations, and one query for
the active keys), so a notice to every member costs the same as a notice to one team.

The send path reads the same facts as bare values in one query (audience_for_send when
"send" is pressed, eligibility_at_send before every few copies) and applies the same
rules (_reasons) to them: no model rows for people it only needs to check.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.db import models
from django.db.models import (
    Exists,
    FilteredRelation,
    Func,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Lower
from django.utils import timezone

from core.mfa import SECOND_FACTOR_TYPES
from distributors.models import (
    BlockedIdentity,
    Organization,
    PgpKey,
    PolicyAcceptance,
    PolicyVersion,
    TeamMember,
)
from distributors.selectors import policy_current

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
    PERSON_BARRED = (
        "person_barred",
        "The person is barred: an organisation they belonged to was removed.",
    )
    OTHER_ORG_SUSPENDED = (
        "other_org_suspended",
        "Another organisation of this person is suspended.",
    )


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

    # The attributes SendEligibility has too, so the notice services take either.
    @property
    def member_id(self) -> int:
        return self.member.pk

    @property
    def user_id(self) -> int:
        return self.member.user_id

    @property
    def organization_id(self) -> int:
        return self.member.organization_id

    @property
    def email(self) -> str:
        return self.member.user.email

    @property
    def fingerprint(self) -> str:
        return self.key.fingerprint if self.key is not None else ""

    @property
    def reason_labels(self) -> list[str]:
        return [Reason(reason).label for reason in self.reasons]


def _members(*, policy: PolicyVersion | int | None) -> QuerySet[TeamMember]:
    if policy is None:
        accepted = models.Value(False, output_field=models.BooleanField())
    else:
        accepted = Exists(PolicyAcceptance.objects.filter(user=OuterRef("user_id"), version=policy))
    return (
        _annotated(TeamMember.objects.select_related("organization", "user"), accepted=accepted)
        .prefetch_related(
            Prefetch(
                "user__pgp_keys",
                queryset=PgpKey.objects.filter(state=PgpKey.State.ACTIVE),
                to_attr="active_pgp_keys",
            )
        )
        .order_by("organization__name", "user__email", "pk")
    )


class _Found(Func):
    """True when a correlated subquery finds a row, as `(subquery) IS NOT NULL` rather
    than EXISTS. For a few people PostgreSQL may answer EXISTS by reading the whole
    other table into a hash (it did for the send-time check of ten people among a
    thousand, every ten copies); a scalar subquery is looked up person by person
    through the index, whatever the size of the list."""

    template = "((%(expressions)s) IS NOT NULL)"
    output_field = models.BooleanField()


def _found(queryset: QuerySet) -> _Found:
    # No ordering: any row will do, and a model's default ordering would sort for nothing.
    return _Found(Subquery(queryset.order_by().values(found=models.Value(1))[:1]))


def _annotated(queryset: QuerySet[TeamMember], *, accepted, found=Exists) -> QuerySet[TeamMember]:
    """The facts about a person that live in other tables, as annotations. `found`
    turns a correlated queryset into "has a row": EXISTS, or _found for a few people."""
    live_bars = BlockedIdentity.objects.filter(lifted_at__isnull=True)
    return queryset.annotate(
        # A personal bar holds through every membership, not only the removed one: by
        # account, and by any verified address (a new account with a barred address).
        has_account_bar=found(
            live_bars.filter(kind=BlockedIdentity.Kind.ACCOUNT, user_id=OuterRef("user_id"))
        ),
        # Looked up from the person's few addresses into the bars' (kind, value) index:
        # the other way round reads every address bar for every person.
        has_address_bar=found(
            live_bars.filter(
                kind=BlockedIdentity.Kind.EMAIL,
                value__in=EmailAddress.objects.filter(
                    user_id=OuterRef(OuterRef("user_id")), verified=True
                )
                .annotate(address=Lower("email"))
                .values("address"),
            )
        ),
        # While one of the person's organisations is suspended, no other membership of
        # theirs lets them receive what the suspension withholds.
        other_org_suspended=found(
            TeamMember.objects.filter(
                user_id=OuterRef("user_id"),
                organization__status=Organization.Status.SUSPENDED,
            ).exclude(organization_id=OuterRef("organization_id"))
        ),
        # An authenticator app or a security key: either is two-factor authentication.
        has_second_factor=found(
            Authenticator.objects.filter(user=OuterRef("user_id"), type__in=SECOND_FACTOR_TYPES)
        ),
        has_accepted_policy=accepted,
        has_revoked_key=found(
            # Only a key that was once trusted: withdrawing an unproven upload
            # says nothing about a compromise.
            PgpKey.objects.filter(
                user=OuterRef("user_id"),
                state=PgpKey.State.REVOKED,
                verified_at__isnull=False,
            )
        ),
    )


def _evaluate(member: TeamMember, *, disclosure_at: datetime, now: datetime) -> Eligibility:
    keys = member.user.active_pgp_keys
    key = keys[0] if keys else None
    reasons = _reasons(
        org_status=member.organization.status,
        user_active=member.user.is_active,
        need_to_know=member.is_need_to_know,
        has_second_factor=member.has_second_factor,
        accepted=member.has_accepted_policy,
        has_key=key is not None,
        key_expires_at=key.expires_at if key else None,
        has_revoked_key=member.has_revoked_key,
        barred=member.has_account_bar or member.has_address_bar,
        other_org_suspended=member.other_org_suspended,
        disclosure_at=disclosure_at,
        now=now,
    )
    return Eligibility(member=member, key=key, reasons=reasons)


def _reasons(
    *,
    org_status: str,
    user_active: bool,
    need_to_know: bool,
    has_second_factor: bool,
    accepted: bool,
    has_key: bool,
    key_expires_at: datetime | None,
    has_revoked_key: bool,
    barred: bool,
    other_org_suspended: bool,
    disclosure_at: datetime,
    now: datetime,
) -> tuple[str, ...]:
    """The rules, in one place for both ways of reading the facts (full rows for the
    pages, bare values at send time)."""
    reasons: list[str] = []
    org_reason = _ORG_REASONS.get(org_status)
    if org_reason:
        reasons.append(org_reason)
    if barred:
        reasons.append(Reason.PERSON_BARRED)
    if other_org_suspended:
        reasons.append(Reason.OTHER_ORG_SUSPENDED)
    if not user_active:
        reasons.append(Reason.ACCOUNT_INACTIVE)
    if not need_to_know:
        reasons.append(Reason.NOT_NEED_TO_KNOW)
    if not has_second_factor:
        reasons.append(Reason.NO_MFA)
    if not accepted:
        reasons.append(Reason.POLICY_NOT_ACCEPTED)
    if not has_key:
        reasons.append(Reason.NO_VERIFIED_KEY)
        # With no active key, a revoked one means the person's last key was revoked:
        # say so, because "no key" alone would hide a possible compromise.
        if has_revoked_key:
            reasons.append(Reason.KEY_REVOKED)
    elif key_expires_at is not None and key_expires_at <= max(disclosure_at, now):
        # The copy must still be decryptable, and the key usable, on disclosure day.
        reasons.append(Reason.KEY_EXPIRES_BEFORE_DISCLOSURE)
    return tuple(str(reason) for reason in reasons)


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


def team_people(*, organization: Organization) -> QuerySet[TeamMember]:
    """One organisation's people with the facts eligibility needs, for a paginated team
    page: evaluate only the page shown with eligibility_evaluate."""
    return _members(policy=policy_current()).filter(organization_id=organization.pk)


def eligibility_evaluate(members: Iterable[TeamMember], *, disclosure_at: datetime):
    """eligibility_for_audience() for people already loaded through team_people()."""
    now = timezone.now()
    return [_evaluate(member, disclosure_at=disclosure_at, now=now) for member in members]


@dataclass(frozen=True, slots=True)
class SendEligibility:
    """One person as the send path needs them: who, where to, the reasons against, and
    the active key to encrypt to (empty strings when there is none)."""

    member_id: int
    user_id: int
    organization_id: int
    email: str
    reasons: tuple[str, ...]
    fingerprint: str
    armored: str

    @property
    def eligible(self) -> bool:
        return not self.reasons


def audience_for_send(
    *,
    organizations: Iterable[Organization | int] | None = None,
    disclosure_at: datetime,
) -> list[SendEligibility]:
    """eligibility_for_audience() for the moment "send" is pressed: the same people in
    the same order with the same reasons, as bare values. A notice to every member
    builds no model rows for a thousand people, their accounts and keys while the
    transaction holds the notice (benchmarks/fanout.py)."""
    queryset = _send_values()
    if organizations is None:
        queryset = queryset.filter(organization__status__in=AUDIENCE_STATUSES)
    else:
        ids = [org.pk if isinstance(org, Organization) else int(org) for org in organizations]
        queryset = queryset.filter(organization_id__in=ids)
    queryset = queryset.order_by("organization__name", "user__email", "pk")
    return _send_eligibility(queryset, disclosure_at=disclosure_at)


@dataclass(frozen=True, slots=True)
class TeamSummary:
    """The people of some organisations for a home page: how many, how many cannot
    receive notices, and the first few with every reason, the blocked ones first."""

    rows: list[Eligibility]
    people: int
    blocked: int

    @property
    def more(self) -> int:
        return self.people - len(self.rows)


def team_summary(
    *, organizations: Iterable[Organization], disclosure_at: datetime, limit: int
) -> TeamSummary:
    """Everyone is checked as bare values (the send path's rules, without the keys'
    text); only the `limit` people shown are loaded as rows. Loading a thousand people
    as model rows to show ten of them took most of a member admin's home page."""
    ids = [org.pk for org in organizations]
    values = (
        _send_base(per_person=False)
        .filter(organization_id__in=ids)
        .annotate(no_key_text=models.Value(""))
        .values_list(*_SEND_FIELDS[:-1], "no_key_text")
        .order_by("organization__name", "user__email", "pk")
    )
    people = _send_eligibility(values, disclosure_at=disclosure_at)
    shown = sorted(people, key=lambda person: person.eligible)[:limit]
    order = {person.member_id: index for index, person in enumerate(shown)}
    members = _members(policy=policy_current()).filter(pk__in=order)
    rows = sorted(
        eligibility_evaluate(members, disclosure_at=disclosure_at),
        key=lambda row: order[row.member.pk],
    )
    return TeamSummary(
        rows=rows, people=len(people), blocked=sum(not person.eligible for person in people)
    )


def eligibility_at_send(
    *, team_member_ids: Iterable[int], disclosure_at: datetime
) -> dict[int, SendEligibility]:
    """Several people at once, checked again just before their copies go out:
    {team member id: SendEligibility}, in one query. A worker runs this for every few
    copies it sends, and building model rows for the people, their organisations,
    accounts and keys cost more than the check itself (benchmarks/fanout.py). An id
    whose membership is gone is absent from the result."""
    ids = sorted({int(pk) for pk in team_member_ids})
    if not ids:
        return {}
    return {
        item.member_id: item
        for item in _send_eligibility(_send_check_rows(ids), disclosure_at=disclosure_at)
    }


def _send_check_rows(ids: list[int]) -> list:
    # Plain ORM: Django compiles the query each time (about a millisecond per part of a
    # batch, against the ~6 ms of gpg per copy), which is no reason to lean on its
    # private compiler API.
    return list(_send_values(per_person=True).filter(pk__in=ids).order_by())


_SEND_FIELDS = (
    "pk",
    "user_id",
    "organization_id",
    "user__email",
    "organization__status",
    "user__is_active",
    "is_need_to_know",
    "has_second_factor",
    "has_accepted_policy",
    "has_revoked_key",
    "has_account_bar",
    "has_address_bar",
    "other_org_suspended",
    "active_key__pk",
    "active_key__fingerprint",
    "active_key__expires_at",
    "active_key__armored",
)


@functools.cache
def _send_base(*, per_person: bool) -> QuerySet[TeamMember]:
    """Built once per process and only ever cloned (filter() copies it), never run:
    assembling the annotations cost as much as running the query. Nothing in it is a
    value of the moment; the current policy is a subquery. `per_person`: the facts are
    looked up person by person (a few people), not across the tables (everyone)."""
    found = _found if per_person else Exists
    current_policy = PolicyVersion.objects.order_by("-number").values("pk")[:1]
    return _annotated(
        TeamMember.objects.all(),
        accepted=found(
            PolicyAcceptance.objects.filter(
                user=OuterRef("user_id"), version=Subquery(current_policy)
            )
        ),
        found=found,
    ).annotate(
        # At most one active key per person (a constraint): a join, not a prefetch.
        active_key=FilteredRelation(
            "user__pgp_keys", condition=Q(user__pgp_keys__state=PgpKey.State.ACTIVE)
        )
    )


def _send_values(*, per_person: bool = False) -> QuerySet:
    return _send_base(per_person=per_person).values_list(*_SEND_FIELDS)


def _send_eligibility(rows: Iterable, *, disclosure_at: datetime) -> list[SendEligibility]:
    now = timezone.now()
    return [
        SendEligibility(
            member_id=pk,
            user_id=user_id,
            organization_id=organization_id,
            email=email,
            reasons=_reasons(
                org_status=org_status,
                user_active=user_active,
                need_to_know=need_to_know,
                has_second_factor=has_second_factor,
                accepted=accepted,
                has_key=key_pk is not None,
                key_expires_at=expires_at,
                has_revoked_key=has_revoked_key,
                barred=bool(account_bar or address_bar),
                other_org_suspended=bool(other_suspended),
                disclosure_at=disclosure_at,
                now=now,
            ),
            fingerprint=fingerprint or "",
            armored=armored or "",
        )
        for (
            pk,
            user_id,
            organization_id,
            email,
            org_status,
            user_active,
            need_to_know,
            has_second_factor,
            accepted,
            has_revoked_key,
            account_bar,
            address_bar,
            other_suspended,
            key_pk,
            fingerprint,
            expires_at,
            armored,
        ) in rows
    ]


def eligibility_for_member(*, team_member_id: int, disclosure_at: datetime) -> Eligibility:
    """One person, checked again at send time. Raises TeamMember.DoesNotExist."""
    now = timezone.now()
    member = _members(policy=policy_current()).get(pk=team_member_id)
    return _evaluate(member, disclosure_at=disclosure_at, now=now)


def eligibility_of_person(*, user, disclosure_at: datetime) -> list[Eligibility]:
    """The person's own memberships, each with every reason against: their home's
    checklist. Three queries however many organisations they belong to."""
    if not user.is_authenticated:
        return []
    now = timezone.now()
    queryset = _members(policy=policy_current()).filter(user=user)
    return [_evaluate(member, disclosure_at=disclosure_at, now=now) for member in queryset]
