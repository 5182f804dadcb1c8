"""Reads for member feedback. Who may give it: a need-to-know person of a member
organisation that was sent a notice about the case (at least one copy went out to one of
its people). Each organisation reads its own rows only; the security team reads them all.

Every selector here costs the same number of queries however many organisations, cases,
tests or messages there are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.core.paginator import Page, Paginator
from django.db.models import Count, Min, QuerySet

from distributors.models import Organization, TeamMember
from embargo.models import Delivery, Vulnerability
from feedback.models import FeedbackReminder, OrganizationStatus, PatchTest, ThreadMessage

# The cases whose feedback pages members see: open ones and, so an organisation can still
# say it has fixed the issue (and whether that may be published), disclosed ones. A
# rejected case is no issue: its pages are gone.
MEMBER_CASE_STATES = (*Vulnerability.OPEN_STATES, Vulnerability.State.DISCLOSED)
# What members may read of a case on the feedback pages: never its title or summary.
MEMBER_CASE_FIELDS = ("pk", "public_id", "state", "disclosure_at")
MATRIX_PAGE_SIZE = 50
MEMBER_LIST_PAGE_SIZE = 50


def feedback_memberships(user) -> list[TeamMember]:
    """The person's need-to-know memberships of organisations in good standing (a
    suspended or removed organisation gives no feedback and reads none)."""
    if not user.is_authenticated:
        return []
    return list(
        TeamMember.objects.filter(
            user=user, is_need_to_know=True, organization__status=Organization.Status.MEMBER
        )
        .select_related("organization")
        .order_by("organization__name", "pk")
    )


def _told_pairs(*, organization_ids, vulnerability_id: int | None = None) -> set[tuple[int, int]]:
    """(case id, organisation id) for every sent copy to these organisations."""
    rows = Delivery.objects.filter(
        organization_id__in=organization_ids,
        state=Delivery.State.SENT,
        notice__vulnerability__state__in=MEMBER_CASE_STATES,
    )
    if vulnerability_id is not None:
        rows = rows.filter(notice__vulnerability_id=vulnerability_id)
    return set(rows.values_list("notice__vulnerability_id", "organization_id").distinct())


@dataclass
class MemberFeedbackCase:
    """One case as one of the person's organisations sees its feedback."""

    case: Vulnerability
    organization: Organization
    status: OrganizationStatus | None


def feedback_cases_for_member(*, user) -> list[MemberFeedbackCase]:
    """Every (case, organisation) where the person may give feedback, with the
    organisation's current status (None: no answer yet), most recent case first."""
    organizations = {m.organization_id: m.organization for m in feedback_memberships(user)}
    if not organizations:
        return []
    pairs = _told_pairs(organization_ids=organizations)
    case_ids = {case_id for case_id, _ in pairs}
    cases = {
        case.pk: case
        for case in Vulnerability.objects.filter(pk__in=case_ids).only(*MEMBER_CASE_FIELDS)
    }
    statuses = {
        (row.vulnerability_id, row.organization_id): row
        for row in OrganizationStatus.objects.filter(
            vulnerability_id__in=case_ids, organization_id__in=organizations
        )
    }
    return [
        MemberFeedbackCase(
            case=cases[case_id],
            organization=organizations[org_id],
            status=statuses.get((case_id, org_id)),
        )
        for case_id, org_id in sorted(
            pairs, key=lambda pair: (-pair[0], organizations[pair[1]].name)
        )
    ]


def feedback_cases_page(*, user, page: str | None) -> Page:
    return Paginator(feedback_cases_for_member(user=user), MEMBER_LIST_PAGE_SIZE).get_page(page)


@dataclass
class MemberFeedback:
    """What one organisation's person sees of one case: the case's public facts and the
    organisation's own status, tests and thread. `organizations` are the person's
    organisations told about the case, for choosing which one speaks."""

    case: Vulnerability
    organization: Organization
    organizations: list[Organization]
    status: OrganizationStatus | None
    patch_tests: list[PatchTest]
    messages: list[ThreadMessage]


def member_feedback_get(
    *, user, vulnerability_id: int, organization_id: int | None = None
) -> MemberFeedback | None:
    """The case's feedback for one of the person's told organisations: the one asked for
    (which must be theirs), or the first. None when the person may not see it, so a case
    or organisation outside their reach is indistinguishable from one that is not there."""
    organizations = {m.organization_id: m.organization for m in feedback_memberships(user)}
    if not organizations:
        return None
    told = sorted(
        (
            organizations[org_id]
            for _, org_id in _told_pairs(
                organization_ids=organizations, vulnerability_id=vulnerability_id
            )
        ),
        key=lambda organization: (organization.name, organization.pk),
    )
    if not told:
        return None
    if organization_id is None:
        organization = told[0]
    else:
        organization = next((o for o in told if o.pk == organization_id), None)
        if organization is None:
            return None
    case = Vulnerability.objects.only(*MEMBER_CASE_FIELDS).get(pk=vulnerability_id)
    scope = {"vulnerability_id": case.pk, "organization_id": organization.pk}
    return MemberFeedback(
        case=case,
        organization=organization,
        organizations=told,
        status=OrganizationStatus.objects.filter(**scope).first(),
        patch_tests=list(patch_tests_of(**scope)),
        messages=list(thread_messages_of(**scope)),
    )


def patch_tests_of(*, vulnerability_id: int, organization_id: int) -> QuerySet[PatchTest]:
    """One organisation's patch tests on one case, newest first."""
    return PatchTest.objects.filter(
        vulnerability_id=vulnerability_id, organization_id=organization_id
    ).select_related("reported_by")


def thread_messages_of(*, vulnerability_id: int, organization_id: int) -> QuerySet[ThreadMessage]:
    """The private thread between the team and one organisation on one case, oldest first."""
    return ThreadMessage.objects.filter(
        vulnerability_id=vulnerability_id, organization_id=organization_id
    ).select_related("author")


# ---------------------------------------------------------------- the security team


def organizations_told(*, vulnerability: Vulnerability) -> QuerySet[Organization]:
    """Every organisation sent a copy of a notice about the case, whatever its standing
    now (staff still see what a suspended organisation said), by name."""
    told = Delivery.objects.filter(
        notice__vulnerability_id=vulnerability.pk, state=Delivery.State.SENT
    ).values("organization_id")
    return Organization.objects.filter(pk__in=told).order_by("name", "pk")


@dataclass
class MatrixRow:
    organization: Organization
    status: OrganizationStatus | None
    patch_tests: int
    messages: int
    reminded_at: datetime | None
    told_at: datetime | None


@dataclass
class FeedbackMatrix:
    page: Page
    rows: list[MatrixRow]
    told: int
    # Per status value, plus "none" for organisations that have not answered.
    counts: dict[str, int] = field(default_factory=dict)


def _counted(queryset, ids) -> dict[int, int]:
    rows = queryset.filter(organization_id__in=ids).values("organization_id")
    return dict(rows.annotate(n=Count("pk")).values_list("organization_id", "n"))


def feedback_matrix(*, vulnerability: Vulnerability, page: str | None = None) -> FeedbackMatrix:
    """Every told organisation with its status (None: no answer yet, never "not
    affected"), its number of patch tests and messages and its reminder, a page at a time,
    and the counts per status over all of them: eight queries whatever the page holds."""
    told = organizations_told(vulnerability=vulnerability)
    current = Paginator(told, MATRIX_PAGE_SIZE).get_page(page)
    ids = [organization.pk for organization in current]
    of_case = {"vulnerability_id": vulnerability.pk}
    statuses = {
        row.organization_id: row
        for row in OrganizationStatus.objects.filter(
            organization_id__in=ids, **of_case
        ).select_related("updated_by")
    }
    tests = _counted(PatchTest.objects.filter(**of_case), ids)
    messages = _counted(ThreadMessage.objects.filter(from_team=False, **of_case), ids)
    reminders = dict(
        FeedbackReminder.objects.filter(organization_id__in=ids, **of_case).values_list(
            "organization_id", "sent_at"
        )
    )
    first_sent = dict(
        Delivery.objects.filter(
            notice__vulnerability_id=vulnerability.pk,
            state=Delivery.State.SENT,
            organization_id__in=ids,
        )
        .values("organization_id")
        .annotate(first=Min("sent_at"))
        .values_list("organization_id", "first")
    )
    rows = [
        MatrixRow(
            organization=organization,
            status=statuses.get(organization.pk),
            patch_tests=tests.get(organization.pk, 0),
            messages=messages.get(organization.pk, 0),
            reminded_at=reminders.get(organization.pk),
            told_at=first_sent.get(organization.pk),
        )
        for organization in current
    ]
    by_status = dict(
        OrganizationStatus.objects.filter(organization__in=told, **of_case)
        .values("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    total = current.paginator.count
    counts = {value: by_status.get(value, 0) for value in OrganizationStatus.Status.values}
    counts["none"] = total - sum(counts.values())
    return FeedbackMatrix(page=current, rows=rows, told=total, counts=counts)


def organization_feedback_for_staff(
    *, vulnerability: Vulnerability, organization_id: int
) -> MemberFeedback | None:
    """One told organisation's status, tests and thread on the case, for the team."""
    organization = organizations_told(vulnerability=vulnerability).filter(pk=organization_id)
    organization = organization.first()
    if organization is None:
        return None
    scope = {"vulnerability_id": vulnerability.pk, "organization_id": organization.pk}
    return MemberFeedback(
        case=vulnerability,
        organization=organization,
        organizations=[organization],
        status=OrganizationStatus.objects.filter(**scope).select_related("updated_by").first(),
        patch_tests=list(patch_tests_of(**scope)),
        messages=list(thread_messages_of(**scope)),
    )


def organization_reminder_of(*, vulnerability: Vulnerability, organization_id: int):
    return FeedbackReminder.objects.filter(
        vulnerability_id=vulnerability.pk, organization_id=organization_id
    ).first()


# ---------------------------------------------------------------- the exports


def statuses_publishable(*, vulnerability: Vulnerability) -> QuerySet[OrganizationStatus]:
    """The statuses whose organisations agreed to publication (publish_after_disclosure),
    only once the case is disclosed, by the database's word, not the caller's copy of the
    case; empty before that, whatever the organisations chose."""
    return (
        OrganizationStatus.objects.filter(
            vulnerability_id=vulnerability.pk,
            vulnerability__state=Vulnerability.State.DISCLOSED,
            publish_after_disclosure=True,
        )
        .select_related("organization")
        .order_by("organization__name", "pk")
    )
