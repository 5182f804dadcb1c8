"""Reads. Cases and notices are staff-only; advisories are public once disclosed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate

from core.models import AuditEvent
from distributors.eligibility import Reason, eligibility_for_audience
from distributors.models import Organization
from embargo.delivery.outcomes import REASON_LABELS
from embargo.models import (
    AdvisoryRevision,
    AffectedPackage,
    Delivery,
    FixReference,
    Notice,
    Vulnerability,
)
from embargo.negotiation_selectors import (  # noqa: F401  (the negotiation's reads)
    InvitedParty,
    MemberNegotiation,
    disclosure_proposals_of,
    first_notice_sent_at,
    member_negotiation_get,
    negotiation_memberships,
    negotiations_for_member,
    organizations_notified,
    parties_answering,
    proposal_parties,
)
from embargo.pictures import CaseTimelineFacts, NoticeSent
from embargo.services.notices import audience_one_per_person


def vulnerabilities_visible_to(user) -> QuerySet[Vulnerability]:
    """Cases, with their private text: the security team only."""
    if not (user.is_authenticated and user.is_staff):
        return Vulnerability.objects.none()
    return Vulnerability.objects.select_related("created_by")


def notices_visible_to(user) -> QuerySet[Notice]:
    if not (user.is_authenticated and user.is_staff):
        return Notice.objects.none()
    return Notice.objects.select_related("vulnerability", "author", "sent_by", "revises")


def advisories_public() -> QuerySet[Vulnerability]:
    """Disclosed cases, newest first: the only cases anyone outside the team may see."""
    return Vulnerability.objects.filter(state=Vulnerability.State.DISCLOSED).order_by(
        "-disclosed_at", "-pk"
    )


def advisory_public_get(*, public_id: str) -> Vulnerability | None:
    return advisories_public().filter(public_id=public_id).first()


def affected_packages(*, vulnerability: Vulnerability) -> QuerySet[AffectedPackage]:
    """The case's packages in the team's order, each with its ranges: two queries however
    many there are. Private like the case: callers show them to staff, or publicly only
    for a disclosed case."""
    return AffectedPackage.objects.filter(vulnerability_id=vulnerability.pk).prefetch_related(
        "ranges"
    )


def fix_references(*, vulnerability: Vulnerability) -> QuerySet[FixReference]:
    return FixReference.objects.filter(vulnerability_id=vulnerability.pk).order_by("pk")


def advisory_revisions(*, vulnerability: Vulnerability) -> QuerySet[AdvisoryRevision]:
    """The advisory's published revisions, first (the disclosure) to last."""
    return AdvisoryRevision.objects.filter(vulnerability_id=vulnerability.pk).order_by("number")


def advisory_modified_at(*, vulnerability: Vulnerability) -> datetime | None:
    """When the public advisory last changed: its last revision, or the disclosure for a
    case disclosed without one; None before disclosure. One query."""
    last = advisory_revisions(vulnerability=vulnerability).last()
    if last is not None:
        return last.published_at
    return vulnerability.disclosed_at


def deliveries_of_user(user) -> QuerySet[Delivery]:
    """A person's own copies, for the acknowledgement page."""
    if not user.is_authenticated:
        return Delivery.objects.none()
    return Delivery.objects.filter(user=user).select_related("notice", "organization")


def reason_label(reason: str) -> str:
    if reason in REASON_LABELS:
        return REASON_LABELS[reason]
    try:
        return Reason(reason).label
    except ValueError:
        return reason


# What staff see per person: a sent copy that was acknowledged shows as acknowledged.
STATUSES = (
    "acknowledged",
    "sent",
    "pending",
    "sending",
    "failed",
    "uncertain",
    "withheld",
    "cancelled",
)


def delivery_status(delivery: Delivery) -> str:
    if delivery.state == Delivery.State.SENT and delivery.acknowledged_at is not None:
        return "acknowledged"
    return delivery.state


@dataclass
class PersonDelivery:
    delivery: Delivery
    status: str
    reasons: list[str]


@dataclass
class OrganizationDeliveries:
    organization: Organization
    people: list[PersonDelivery] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class NoticeDeliverySummary:
    notice: Notice
    totals: dict[str, int]
    organizations: list[OrganizationDeliveries]

    @property
    def is_complete(self) -> bool:
        return not (self.totals.get("pending") or self.totals.get("sending"))

    @property
    def total(self) -> int:
        return sum(self.totals.values())

    @property
    def unsettled(self) -> int:
        """Copies still waiting or going out: every other state is final for this send."""
        return self.totals.get("pending", 0) + self.totals.get("sending", 0)

    @property
    def settled(self) -> int:
        return self.total - self.unsettled


def notice_delivery_summary(*, notice: Notice) -> NoticeDeliverySummary:
    """Status per organisation and person, in one query however many people there are."""
    rows = (
        Delivery.objects.filter(notice_id=notice.pk)
        .select_related("organization", "user")
        .order_by("organization__name", "email", "pk")
    )
    totals = dict.fromkeys(STATUSES, 0)
    groups: dict[int, OrganizationDeliveries] = {}
    for delivery in rows:
        status = delivery_status(delivery)
        totals[status] += 1
        group = groups.get(delivery.organization_id)
        if group is None:
            group = groups[delivery.organization_id] = OrganizationDeliveries(
                organization=delivery.organization, counts=dict.fromkeys(STATUSES, 0)
            )
        group.counts[status] += 1
        group.people.append(person_delivery(delivery))
    return NoticeDeliverySummary(notice=notice, totals=totals, organizations=list(groups.values()))


def person_delivery(delivery: Delivery) -> PersonDelivery:
    reasons = [reason_label(reason) for reason in delivery.reasons or []]
    if delivery.failure_reason:
        reasons.append(delivery.failure_reason)
    return PersonDelivery(delivery=delivery, status=delivery_status(delivery), reasons=reasons)


# The rows of each status staff see, as a query (the inverse of delivery_status).
STATUS_CONDITIONS = {
    status: Q(state=status)
    for status in STATUSES
    if status not in ("acknowledged", Delivery.State.SENT)
} | {
    "acknowledged": Q(state=Delivery.State.SENT, acknowledged_at__isnull=False),
    Delivery.State.SENT: Q(state=Delivery.State.SENT, acknowledged_at__isnull=True),
}


def notice_deliveries(*, notice: Notice) -> QuerySet[Delivery]:
    """A notice's copies, one row per person, by organisation then address: the
    paginated delivery table and its CSV export."""
    return (
        Delivery.objects.filter(notice_id=notice.pk)
        .select_related("organization")
        .order_by("organization__name", "email", "pk")
    )


def notice_delivery_totals(*, notice: Notice) -> NoticeDeliverySummary:
    """The counts per status, in one query, without loading the rows."""
    counts = (
        Delivery.objects.filter(notice_id=notice.pk)
        .values("state")
        .annotate(
            rows=Count("pk"), acknowledged=Count("pk", filter=Q(acknowledged_at__isnull=False))
        )
    )
    totals = dict.fromkeys(STATUSES, 0)
    for row in counts:
        if row["state"] == Delivery.State.SENT:
            totals["acknowledged"] += row["acknowledged"]
            totals["sent"] += row["rows"] - row["acknowledged"]
        elif row["state"] in totals:
            totals[row["state"]] += row["rows"]
    return NoticeDeliverySummary(notice=notice, totals=totals, organizations=[])


# --- Pages (the web layer's reads) -----------------------------------------------------


def vulnerabilities_for_staff(*, user, state: str | None = None) -> QuerySet[Vulnerability]:
    """The case list: open cases first (nearest disclosure first), then closed ones, newest
    first; with the number of notices, so the list costs one query."""
    from django.db.models import BooleanField, Case, Count, F, Value, When

    queryset = vulnerabilities_visible_to(user).annotate(
        notice_count=Count("notices", distinct=True),
        open_first=Case(
            When(state__in=Vulnerability.OPEN_STATES, then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        ),
    )
    if state:
        queryset = queryset.filter(state=state)
    return queryset.order_by(
        "-open_first", F("disclosure_at").asc(nulls_last=True), "-year", "-number"
    )


def vulnerability_history(*, vulnerability: Vulnerability):
    """Audit events about the case and about its notices, oldest first."""
    from django.contrib.contenttypes.models import ContentType
    from django.db.models import Q

    notice_ids = [str(pk) for pk in vulnerability.notices.values_list("pk", flat=True)]
    case_type = ContentType.objects.get_for_model(Vulnerability)
    notice_type = ContentType.objects.get_for_model(Notice)
    return (
        AuditEvent.objects.filter(
            Q(target_type=case_type, target_id=str(vulnerability.pk))
            | Q(target_type=notice_type, target_id__in=notice_ids)
        )
        .select_related("actor", "target_type", "organization")
        .order_by("created_at", "pk")
    )


def notice_audience_preview(*, notice: Notice) -> list:
    """Who would get the notice if it were sent now, and who would be withheld and why:
    the same eligibility selector and the same one-copy-per-person rule as notice_send.
    Empty when the case has no disclosure date (eligibility depends on it)."""
    disclosure_at = notice.vulnerability.disclosure_at
    if disclosure_at is None:
        return []
    organizations = None if notice.audience_all else list(notice.organizations.all())
    if organizations == []:
        return []
    audience = audience_one_per_person(
        eligibility_for_audience(organizations=organizations, disclosure_at=disclosure_at)
    )
    return sorted(
        audience,
        key=lambda item: (item.eligible, item.member.organization.name, item.member.user.email),
    )


# ---------------------------------------------------------------- operations (ops/)
# Counts over every copy, never a copy's person or text: what the health page and the
# metrics endpoint show.


def delivery_state_counts() -> dict[str, int]:
    """{state: copies}, every state present (zero when none): one query."""
    counts = dict.fromkeys(Delivery.State.values, 0)
    rows = Delivery.objects.order_by().values_list("state").annotate(copies=Count("pk"))
    counts.update(dict(rows))
    return counts


def delivery_oldest_waiting_since() -> datetime | None:
    """When the oldest copy still queued or being sent was created, or None."""
    return Delivery.objects.filter(state__in=Delivery.OPEN_STATES).aggregate(
        oldest=Min("created_at")
    )["oldest"]


@dataclass(frozen=True)
class DeliveryLatency:
    """Sent copies by how long they took from Send to the mail server's acceptance,
    cumulative per upper bound (seconds), as a Prometheus histogram wants them; and the
    temporary failures the copies met."""

    buckets: list[tuple[float, int]]
    count: int
    total_seconds: float
    temporary_failures: int
    retrying: int


def delivery_latency(*, bounds: list[float]) -> DeliveryLatency:
    """One query over the copies (sent_at - created_at for sent ones)."""
    sent = Q(state=Delivery.State.SENT, sent_at__isnull=False)
    took = ExpressionWrapper(F("sent_at") - F("created_at"), output_field=DurationField())
    found = (
        Delivery.objects.order_by()
        .annotate(took=took)
        .aggregate(
            **{
                f"le_{index}": Count("pk", filter=sent & Q(took__lte=timedelta(seconds=bound)))
                for index, bound in enumerate(bounds)
            },
            count=Count("pk", filter=sent),
            total=Sum("took", filter=sent),
            failures=Sum("temporary_failures"),
            waiting_retry=Count(
                "pk", filter=Q(state=Delivery.State.PENDING, temporary_failures__gt=0)
            ),
        )
    )
    total = found["total"] or timedelta(0)
    return DeliveryLatency(
        buckets=[(bound, found[f"le_{index}"]) for index, bound in enumerate(bounds)],
        count=found["count"],
        total_seconds=total.total_seconds(),
        temporary_failures=found["failures"] or 0,
        retrying=found["waiting_retry"],
    )


# --- Home pages ---------------------------------------------------------------------------

# Notices go out at least 7 days before disclosure where the case allows (DESIGN.md §1):
# a case within that reach of its date, or past it and still open, needs the team.
DISCLOSURE_NEAR_DAYS = 7
HOME_ROWS = 10


def notices_of_person(*, user) -> dict[str, int]:
    """The person's own copies that went out, and those still to acknowledge: one query."""
    if not user.is_authenticated:
        return {"received": 0, "to_acknowledge": 0}
    return Delivery.objects.filter(user=user, state=Delivery.State.SENT).aggregate(
        received=Count("pk"),
        to_acknowledge=Count("pk", filter=Q(acknowledged_at__isnull=True)),
    )


def team_acknowledgements_outstanding(*, user) -> list[dict]:
    """Copies sent to the people of the organisations the person administers and not yet
    acknowledged, per person (address, copies, the oldest sent), longest waiting first:
    one query. Addresses and counts only; never what a notice is about."""
    if not user.is_authenticated:
        return []
    administered = Organization.objects.filter(people__user=user, people__is_admin=True).values(
        "pk"
    )
    return list(
        Delivery.objects.filter(
            organization_id__in=administered,
            state=Delivery.State.SENT,
            acknowledged_at__isnull=True,
        )
        .values("organization__name", "email")
        .annotate(copies=Count("pk"), oldest=Min("sent_at"))
        .order_by("oldest", "email")[:HOME_ROWS]
    )


def staff_embargo_summary(*, user, now: datetime) -> dict:
    """For the staff home: open cases near (or past) their disclosure date, and copies
    that failed, are uncertain or are not acknowledged. Three queries. Case references
    and dates only: "/" is not behind the staff pages' second-factor check."""
    empty = {"near": [], "near_count": 0, "copies": {}}
    if not (user.is_authenticated and user.is_staff):
        return empty
    near = vulnerabilities_visible_to(user).filter(
        state__in=Vulnerability.OPEN_STATES,
        disclosure_at__lte=now + timedelta(days=DISCLOSURE_NEAR_DAYS),
    )
    copies = Delivery.objects.aggregate(
        failed=Count("pk", filter=Q(state=Delivery.State.FAILED)),
        uncertain=Count("pk", filter=Q(state=Delivery.State.UNCERTAIN)),
        unacknowledged=Count(
            "pk", filter=Q(state=Delivery.State.SENT, acknowledged_at__isnull=True)
        ),
    )
    return {
        "near": list(near.order_by("disclosure_at", "pk")[:HOME_ROWS]),
        "near_count": near.count(),
        "copies": copies,
    }


def case_timeline_facts(*, vulnerability: Vulnerability, now: datetime) -> CaseTimelineFacts:
    """What the case's timeline draws, in two queries however many copies there are:
    the notices sent with their copies counted, and acknowledgements counted by day."""
    notices = (
        Notice.objects.filter(vulnerability=vulnerability)
        .exclude(state=Notice.State.DRAFT)
        .annotate(
            at=Coalesce("send_started_at", "sent_at", "created_at"),
            copies=Count("deliveries", filter=Q(deliveries__state=Delivery.State.SENT)),
        )
        .order_by("at", "pk")
        .values_list("pk", "at", "copies")
    )
    by_day = (
        Delivery.objects.filter(notice__vulnerability=vulnerability, acknowledged_at__isnull=False)
        .annotate(day=TruncDate("acknowledged_at", tzinfo=UTC))
        .values("day")
        .annotate(count=Count("pk"))
        .order_by("day")
        .values_list("day", "count")
    )
    return CaseTimelineFacts(
        reported_at=vulnerability.reported_at,
        now=now,
        first_response_at=vulnerability.first_response_at,
        notices=[NoticeSent(number=pk, at=at, copies=copies) for pk, at, copies in notices],
        acknowledgements_by_day=list(by_day),
        disclosure_at=vulnerability.disclosure_at,
        disclosed_at=vulnerability.disclosed_at,
    )
