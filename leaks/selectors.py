"""Reads for leaks, sanctions and tracing, each scoped to who is asking.

A member sees the leak reports of their own organisations (never the pasted evidence),
and only while they may read embargoed content at all (leak_access_of); the security team
sees everything. Nobody else sees that a report exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db.models import Case, Count, F, Min, Q, QuerySet, Value, When
from django.utils import timezone

from distributors.eligibility import Reason, eligibility_of_person
from distributors.models import Organization, TeamMember
from embargo import tracing
from embargo.delivery.variants import notice_parsed, trace_secret
from embargo.models import Delivery, Notice, Vulnerability
from leaks.models import LeakReport, Sanction

# A leak report says what of an embargo leaked and to whom, so the leak pages are for the
# people who may receive the notices: the rules of distributors.eligibility, less these.
# A key (missing, expiring, revoked) matters for an encrypted copy, not for a page behind
# two-factor sign-in, and must never stop someone reporting a leak urgently; a suspended
# organisation still reports its leaks and answers for them. Any other reason, including
# one added to the eligibility rules later, keeps the person out.
LEAK_ACCESS_WAIVED = frozenset(
    {
        Reason.ORG_SUSPENDED.value,
        Reason.NO_VERIFIED_KEY.value,
        Reason.KEY_EXPIRES_BEFORE_DISCLOSURE.value,
        Reason.KEY_REVOKED.value,
    }
)
# The organisations whose people the leak pages consider at all. A removed organisation's
# people see nothing of it (a removal holds through every door); an applicant has none.
LEAK_ORGANIZATION_STATUSES = (Organization.Status.MEMBER, Organization.Status.SUSPENDED)


@dataclass(frozen=True)
class LeakAccess:
    """One of a person's organisations, and what they lack to see its leak pages."""

    organization: Organization
    missing: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        return not self.missing

    @property
    def missing_labels(self) -> list[str]:
        return [Reason(code).label if code in Reason.values else code for code in self.missing]


@dataclass(frozen=True)
class PersonLeakAccess:
    """A person's LeakAccess in each of their organisations, worked out once for a request
    (leak_access_of) and handed to the selectors below through their `access` argument,
    so a page does not evaluate the person's eligibility again for every list it shows."""

    user_id: int | None
    organizations: tuple[LeakAccess, ...] = ()

    @property
    def allowed_ids(self) -> list[int]:
        return [access.organization.pk for access in self.organizations if access.allowed]

    @property
    def refused(self) -> list[LeakAccess]:
        return [access for access in self.organizations if not access.allowed]

    @property
    def closed(self) -> bool:
        """In organisations that count, and open in none of them: the refusal page."""
        return bool(self.organizations) and not self.allowed_ids


def _is_staff(user) -> bool:
    return bool(user.is_authenticated and user.is_staff)


def leak_access_of(user) -> PersonLeakAccess:
    """Each member or suspended organisation of the person, with the eligibility reasons
    that keep them from its leak pages (none: they may open them). Staff are not members
    and get no organisations; they see every report anyway. Three queries however many
    organisations the person belongs to."""
    if not user.is_authenticated:
        return PersonLeakAccess(user_id=None)
    # The person's every membership with its reasons, in the order of their organisations'
    # names; the statuses that count are picked here rather than in the query.
    eligibilities = eligibility_of_person(user=user, disclosure_at=timezone.now())
    return PersonLeakAccess(
        user_id=user.pk,
        organizations=tuple(
            LeakAccess(
                organization=eligibility.member.organization,
                missing=tuple(r for r in eligibility.reasons if str(r) not in LEAK_ACCESS_WAIVED),
            )
            for eligibility in eligibilities
            if eligibility.member.organization.status in LEAK_ORGANIZATION_STATUSES
        ),
    )


def _leak_organization_ids(user, access: PersonLeakAccess | None) -> list[int]:
    # An access worked out for someone else (or for nobody) is never trusted: the
    # selectors always answer for the user they are given.
    if access is None or access.user_id is None or access.user_id != user.pk:
        access = leak_access_of(user)
    return access.allowed_ids


def leak_reports_visible_to(
    user, *, access: PersonLeakAccess | None = None
) -> QuerySet[LeakReport]:
    """`access`: leak_access_of(user) when the caller already has it (see PersonLeakAccess)."""
    base = LeakReport.objects.select_related(
        "organization", "vulnerability", "notice", "reported_by", "decided_by"
    )
    if _is_staff(user):
        return base
    if not user.is_authenticated:
        return LeakReport.objects.none()
    return base.filter(organization_id__in=_leak_organization_ids(user, access))


def sanctions_visible_to(user, *, access: PersonLeakAccess | None = None) -> QuerySet[Sanction]:
    base = Sanction.objects.select_related("organization", "leak_report", "created_by")
    if _is_staff(user):
        return base
    if not user.is_authenticated:
        return Sanction.objects.none()
    return base.filter(organization_id__in=_leak_organization_ids(user, access))


def organizations_reporting_for(
    user, *, access: PersonLeakAccess | None = None
) -> QuerySet[Organization]:
    """The organisations a person may file a leak report for: their own, while they can
    still receive notices or were just suspended (a suspended member must still report),
    and while they may read its leak pages (the form lists the notices it received)."""
    if not user.is_authenticated:
        return Organization.objects.none()
    return Organization.objects.filter(pk__in=_leak_organization_ids(user, access))


def notices_received_by(*, organization: Organization) -> QuerySet[Notice]:
    """Notices whose copies went to the organisation: what it can say leaked."""
    return (
        Notice.objects.filter(deliveries__organization=organization)
        .exclude(state=Notice.State.DRAFT)
        .select_related("vulnerability")
        .distinct()
        .order_by("-send_started_at", "-pk")
    )


def notices_received_by_any(*, organizations: QuerySet[Organization]) -> QuerySet[Notice]:
    """Notices whose copies went to any of the organisations (those a person reports for)."""
    return (
        Notice.objects.filter(deliveries__organization__in=organizations)
        .exclude(state=Notice.State.DRAFT)
        .select_related("vulnerability")
        .distinct()
        .order_by("-send_started_at", "-pk")
    )


def delivery_of_case_by_code(*, vulnerability_id: int, reference_code: str) -> Delivery | None:
    """The copy of one of the case's notices with that reference code, if any: a leak is
    only ever traced to a copy of its own case."""
    return Delivery.objects.filter(
        reference_code=reference_code, notice__vulnerability_id=vulnerability_id
    ).first()


def retrospectives_due_for(user, *, access: PersonLeakAccess | None = None) -> QuerySet[Sanction]:
    """Warnings whose retrospective the person, as an admin, must still answer."""
    if not user.is_authenticated:
        return Sanction.objects.none()
    admin_of = TeamMember.objects.filter(
        user=user, is_admin=True, organization_id__in=_leak_organization_ids(user, access)
    ).values("organization_id")
    return Sanction.objects.filter(
        organization_id__in=admin_of, retrospective_required=True, retrospective_at__isnull=True
    ).select_related("organization")


def leak_reports_for_staff(*, user) -> QuerySet[LeakReport]:
    """The security team's leak list: open reports first, the oldest (most urgent) first,
    then decided ones, the newest decision first."""
    if not _is_staff(user):
        return LeakReport.objects.none()
    is_open = Q(state=LeakReport.State.OPEN)
    return leak_reports_visible_to(user).order_by(
        Case(When(is_open, then=Value(0)), default=Value(1)),
        Case(When(is_open, then=F("reported_at"))).asc(),
        F("decided_at").desc(nulls_last=True),
        "-pk",
    )


def leak_dashboard(*, user) -> dict:
    """How many reports wait for a decision, for the dashboard's heading."""
    if not _is_staff(user):
        return {"open_count": 0}
    return {"open_count": leak_reports_visible_to(user).filter(state=LeakReport.State.OPEN).count()}


def organization_leak_history(*, organization: Organization) -> dict:
    return {
        "reports": list(
            LeakReport.objects.filter(organization=organization)
            .select_related("vulnerability", "reported_by", "decided_by")
            .order_by("-reported_at", "-pk")
        ),
        "sanctions": list(
            Sanction.objects.filter(organization=organization)
            .select_related("created_by", "leak_report")
            .order_by("-created_at", "-pk")
        ),
        "confirmed": LeakReport.objects.filter(
            organization=organization, state=LeakReport.State.CONFIRMED
        ).count(),
    }


# ---------------------------------------------------------------- tracing a leaked copy

# A reference code as the notices print it: ten base32 characters standing alone (a longer
# run of letters is a word, not a code).
_REFERENCE = re.compile(r"(?<![A-Z2-7])[A-Z2-7]{10}(?![A-Z2-7])")
RANKED_ROWS = 50


@dataclass
class TraceRow:
    delivery: Delivery
    score: tracing.Score
    matched: list[str]
    mismatched: list[str]
    reference_found: bool


@dataclass
class TraceResult:
    rows: list[TraceRow]  # ranked, best first
    identified: TraceRow | None  # the one copy named, when one copy explains the text
    verdict: tracing.Verdict
    candidates: int
    labels: dict[str, str]
    named: list[TraceRow] = field(default_factory=list)  # a mixture: everyone named


def _candidates(vulnerability: Vulnerability) -> list[Delivery]:
    # A copy can only leak if it was rendered (the variation is recorded then) or sent.
    return list(
        Delivery.objects.filter(notice__vulnerability=vulnerability)
        .filter(Q(variation__isnull=False) | Q(state=Delivery.State.SENT))
        .select_related("notice", "user", "organization", "variation")
        .order_by("pk")
    )


def _delivery_variant(delivery: Delivery, *, parsed, secret) -> tracing.Variant:
    """The variation recorded for the copy, else the one derived from its id."""
    variant = None
    # A missing reverse one-to-one raises an AttributeError subclass: None here.
    record = getattr(delivery, "variation", None)
    if record is not None:
        variant = tracing.Variant.from_record(record.choices, parsed)
    if variant is None:
        variant = tracing.variant_derive(secret=secret, delivery_id=delivery.pk, parsed=parsed)
    return variant


def _scores(deliveries: list[Delivery], *, normalised: str, codes: set[str]):
    """Each copy's score against the text, and how many points the text shows (the
    most of any notice's), and the labels of the points."""
    per_notice: dict[int, tuple] = {}
    labels: dict[str, str] = {"reference": "The copy's reference code"}
    secret = trace_secret()
    scores: list[tracing.Score] = []
    observed_total = 0
    for delivery in deliveries:
        if delivery.notice_id not in per_notice:
            parsed = notice_parsed(delivery.notice)
            points = tracing.points_of(parsed)
            observed = tracing.observe(points, normalised)
            observed_total = max(observed_total, len(observed))
            counts = {point.key: len(point.needles) for point in points}
            per_notice[delivery.notice_id] = (parsed, observed, counts)
            labels.update({point.key: point.label for point in points})
        parsed, observed, counts = per_notice[delivery.notice_id]
        variant = _delivery_variant(delivery, parsed=parsed, secret=secret)
        result = tracing.score(
            observed=observed,
            choices=tracing.choices_by_key(variant),
            option_counts=counts,
            ref=delivery.pk,
            group=str(delivery.notice_id),
        )
        if delivery.reference_code in codes:
            # The reference code is exact proof of the copy: weigh it as such.
            result.bits += tracing.REFERENCE_BITS
            result.matched.append("reference")
        scores.append(result)
    return scores, observed_total, labels


def leak_trace(*, vulnerability: Vulnerability, text: str) -> TraceResult:
    """Ranks the case's copies by how well the pasted text matches their variations,
    alone or two or three of them mixed, and names whom the evidence allows."""
    deliveries = _candidates(vulnerability)
    by_pk = {delivery.pk: delivery for delivery in deliveries}
    known_codes = {delivery.reference_code for delivery in deliveries}
    codes = set(_REFERENCE.findall(text.upper())) & known_codes
    scores, observed_total, labels = _scores(
        deliveries, normalised=tracing.normalise(text), codes=codes
    )
    outcome = tracing.verdict(scores, observed_points=observed_total + len(codes))

    def row(s: tracing.Score) -> TraceRow:
        delivery = by_pk[s.ref]
        return TraceRow(
            delivery=delivery,
            score=s,
            matched=[labels.get(key, key) for key in s.matched],
            mismatched=[labels.get(key, key) for key in s.mismatched],
            reference_found=delivery.reference_code in codes,
        )

    rows = [row(s) for s in outcome.ranked[:RANKED_ROWS]]
    named = [row(s) for s in outcome.named]
    identified = row(outcome.identified) if outcome.identified is not None else None
    found = [r for r in rows if r.reference_found]
    if found:
        # A reference code is unique to one copy: it identifies on its own.
        identified = found[0]
        named = [identified, *[r for r in named if r.delivery.pk != identified.delivery.pk]]
    return TraceResult(
        rows=rows,
        identified=identified,
        verdict=outcome,
        candidates=len(deliveries),
        labels=labels,
        named=named,
    )


def notice_trace_capacity(*, notice: Notice, audience: int | None = None) -> tracing.Capacity:
    """For the author: how many variation points the body has and whom they tell apart."""
    if audience is None:
        if notice.state == Notice.State.DRAFT:
            organizations = (
                Organization.objects.filter(status=Organization.Status.MEMBER)
                if notice.audience_all
                else notice.organizations.all()
            )
            audience = (
                TeamMember.objects.filter(organization__in=organizations, is_need_to_know=True)
                .values("user_id")
                .distinct()
                .count()
            )
        else:
            audience = notice.deliveries.exclude(state=Delivery.State.WITHHELD).count()
    return tracing.capacity(
        body=notice.body,
        audience=audience,
        catalogue_version=notice.tracing_catalogue,
        off=notice.variation_off or (),
    )


def leaks_open_summary(*, user) -> dict:
    """For the staff home: leak reports waiting for a decision, and the oldest. One query."""
    if not _is_staff(user):
        return {"total": 0, "oldest": None}
    return LeakReport.objects.filter(state=LeakReport.State.OPEN).aggregate(
        total=Count("pk"), oldest=Min("reported_at")
    )
