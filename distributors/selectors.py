"""Reads, always scoped to the person asking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, F, Min, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from core.models import AuditEvent
from distributors.models import (
    Application,
    Criterion,
    CriterionAnswer,
    CriterionReview,
    Invitation,
    Organization,
    PgpKey,
    PolicyAcceptance,
    PolicyVersion,
    Question,
    TeamMember,
    Vouch,
)


def criteria_active() -> QuerySet[Criterion]:
    return Criterion.objects.filter(is_active=True).order_by("number")


def organizations_administered_by(user) -> QuerySet[Organization]:
    if not user.is_authenticated:
        return Organization.objects.none()
    return Organization.objects.filter(people__user=user, people__is_admin=True)


def applications_visible_to(user) -> QuerySet[Application]:
    """An organisation's admins see its applications; staff see every one."""
    if not user.is_authenticated:
        return Application.objects.none()
    queryset = Application.objects.select_related("organization", "created_by", "decided_by")
    if user.is_staff:
        return queryset
    return queryset.filter(organization__people__user=user, organization__people__is_admin=True)


def applications_for_review(
    *, user, state: str | None = None, older_than_days: int | None = None
) -> QuerySet[Application]:
    """The staff queue: open applications, the longest waiting first."""
    if not (user.is_authenticated and user.is_staff):
        return Application.objects.none()
    queryset = Application.objects.select_related("organization").filter(
        state__in=Application.REVIEW_STATES
    )
    if state:
        queryset = queryset.filter(state=state)
    if older_than_days:
        queryset = queryset.filter(
            submitted_at__lte=timezone.now() - timedelta(days=older_than_days)
        )
    return queryset.order_by("submitted_at", "pk")


def application_with_details(*, queryset: QuerySet[Application], pk: int) -> Application:
    """One application with its answers, reviews and questions in a fixed number of queries."""
    return queryset.prefetch_related(
        Prefetch("answers", queryset=CriterionAnswer.objects.select_related("criterion")),
        Prefetch(
            "reviews", queryset=CriterionReview.objects.select_related("criterion", "reviewer")
        ),
        Prefetch(
            "questions",
            queryset=Question.objects.select_related("criterion", "asked_by", "replied_by"),
        ),
    ).get(pk=pk)


def application_criteria_rows(*, application: Application) -> list[dict]:
    """Each active criterion with the applicant's answer and the current verdict beside it."""
    answers = {answer.criterion_id: answer for answer in application.answers.all()}
    reviews = {review.criterion_id: review for review in application.reviews.all()}
    rows = [
        {
            "criterion": criterion,
            "answer": answers.get(criterion.pk),
            "review": reviews.get(criterion.pk),
        }
        for criterion in criteria_active()
    ]
    # Criteria 6 and 7 are met by facts the system holds, shown beside (or instead of) text:
    # row["policy_acceptance"] is the applicant's acceptance of the current version or None;
    # row["vouches"] lists the vouches, each with `in_good_standing`.
    kinds = {row["criterion"].kind for row in rows}
    acceptance = vouches = None
    if Criterion.Kind.POLICY in kinds:
        acceptance = (
            PolicyAcceptance.objects.filter(
                user_id=application.created_by_id, version_id=Subquery(_current_version_id())
            )
            .select_related("version")
            .first()
        )
    if Criterion.Kind.VOUCH in kinds:
        vouches = vouches_for_application(application=application)
    answered = {answer.criterion_id for answer in answers.values() if answer.evidence}
    for row in rows:
        if row["criterion"].kind == Criterion.Kind.POLICY:
            row["policy_acceptance"] = acceptance
        elif row["criterion"].kind == Criterion.Kind.VOUCH:
            row["vouches"] = vouches
            row["vouches_waiting"] = [v for v in vouches if v.state == Vouch.State.REQUESTED]
            row["vouches_confirmed"] = [v for v in vouches if v.state == Vouch.State.CONFIRMED]
        # row["done"]: answered as submitting counts it, for the "x of 7 answered" count.
        row["done"] = _criterion_done(
            row["criterion"],
            answered=answered,
            accepted=acceptance is not None,
            vouches=vouches or [],
        )
    return rows


def application_history(*, application: Application) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        target_type=ContentType.objects.get_for_model(Application),
        target_id=str(application.pk),
    ).select_related("actor")


def team_member_for(*, user, organization: Organization) -> TeamMember | None:
    return TeamMember.objects.filter(user=user, organization=organization).first()


# --- Embargo policy -------------------------------------------------------------------


def policy_current() -> PolicyVersion | None:
    """The newest published version: the only one whose acceptance counts."""
    return PolicyVersion.objects.select_related("published_by").order_by("-number").first()


def policy_versions() -> QuerySet[PolicyVersion]:
    """Every version, newest first, with how many people accepted each."""
    return (
        PolicyVersion.objects.select_related("published_by")
        .annotate(acceptance_count=Count("acceptances"))
        .order_by("-number")
    )


def policy_acceptance_current(*, user) -> PolicyAcceptance | None:
    if not user.is_authenticated:
        return None
    current = policy_current()
    if current is None:
        return None
    return PolicyAcceptance.objects.filter(user=user, version=current).first()


def policy_has_accepted_current(*, user) -> bool:
    """True only for an acceptance of the CURRENT version; an earlier one has lapsed.
    No published policy at all means nobody has accepted it (fail closed)."""
    if user is None or not user.is_authenticated:
        return False
    return PolicyAcceptance.objects.filter(
        user=user, version_id=Subquery(_current_version_id())
    ).exists()


def _current_version_id():
    return PolicyVersion.objects.order_by("-number").values("pk")[:1]


def users_with_current_acceptance() -> QuerySet:
    """Everyone who accepted the current version, as one lazy query (usable in a filter:
    `user__in=users_with_current_acceptance()`)."""
    return get_user_model().objects.filter(
        policy_acceptances__version_id=Subquery(_current_version_id())
    )


def application_policy_accepted(*, application: Application) -> bool:
    """Criterion 6: the applicant (who created the application) accepted the current policy."""
    return policy_has_accepted_current(user=application.created_by)


# --- Vouching -------------------------------------------------------------------------


def vouches_in_good_standing() -> QuerySet[Vouch]:
    """Vouches whose voucher is, right now, an active person of the organisation they vouched
    from, and that organisation is a member (not suspended or removed)."""
    return Vouch.objects.filter(
        voucher__is_active=True,
        voucher_organization__status=Organization.Status.MEMBER,
        voucher__memberships__organization=F("voucher_organization"),
    )


def application_has_eligible_vouch(*, application: Application) -> bool:
    """Criterion 7: a confirmed vouch from a voucher still in good standing."""
    return (
        vouches_in_good_standing()
        .filter(application=application, state=Vouch.State.CONFIRMED)
        .exists()
    )


def vouches_for_application(*, application: Application) -> list[Vouch]:
    """The application's vouches, each with `in_good_standing` set, in a fixed number of
    queries."""
    vouches = list(
        Vouch.objects.filter(application=application)
        .select_related("voucher", "voucher_organization", "requested_by")
        .order_by("requested_at", "pk")
    )
    standing = set(
        vouches_in_good_standing().filter(application=application).values_list("pk", flat=True)
    )
    for vouch in vouches:
        vouch.in_good_standing = vouch.pk in standing
    return vouches


def vouches_addressed_to(user) -> QuerySet[Vouch]:
    """The requests a person was asked to answer; nobody else's, staff included."""
    if not user.is_authenticated:
        return Vouch.objects.none()
    return Vouch.objects.filter(voucher=user).select_related(
        "application__organization", "application__created_by", "voucher_organization"
    )


def vouch_graph(*, user, flagged_only: bool = False) -> QuerySet[Vouch]:
    """Who vouched for whom, with both organisations' status, for the security team."""
    if not (user.is_authenticated and user.is_staff):
        return Vouch.objects.none()
    queryset = Vouch.objects.select_related(
        "voucher", "voucher_organization", "application__organization"
    ).order_by("voucher_organization__name", "-requested_at", "pk")
    if flagged_only:
        queryset = queryset.filter(
            Q(flagged_at__isnull=False)
            | Q(voucher_organization__status__in=_NOT_IN_GOOD_STANDING)
            | Q(application__organization__status__in=_NOT_IN_GOOD_STANDING)
        )
    return queryset


_NOT_IN_GOOD_STANDING = (Organization.Status.SUSPENDED, Organization.Status.REMOVED)


# --- Need-to-know teams and keys (the people of an organisation) ------------------------


def organizations_with_team_visible_to(user) -> QuerySet[Organization]:
    """Anyone in an organisation sees its team (admins act, the others read). Staff read
    every team under /staff/, where the MFA middleware guards them, not here."""
    if not user.is_authenticated:
        return Organization.objects.none()
    return Organization.objects.filter(people__user=user).distinct()


def organizations_for_staff(*, user) -> QuerySet[Organization]:
    """Every organisation with its head count, for the security team's list."""
    if not (user.is_authenticated and user.is_staff):
        return Organization.objects.none()
    return Organization.objects.annotate(
        people_count=Count("people", distinct=True),
        need_to_know_count=Count("people", filter=Q(people__is_need_to_know=True), distinct=True),
    ).order_by("name")


def invitations_open(*, organization: Organization):
    """Invitations neither used nor revoked; expired ones stay listed so admins see them."""
    return (
        Invitation.objects.filter(
            organization=organization, accepted_at__isnull=True, revoked_at__isnull=True
        )
        .select_related("invited_by")
        .order_by("-created_at", "pk")
    )


def invitations_of(*, organization: Organization):
    """Every invitation of the organisation (open, used or revoked): the admins' actions
    load one from here, so an id from another organisation is a 404."""
    return Invitation.objects.filter(organization=organization)


def team_members_of(*, organization: Organization) -> QuerySet[TeamMember]:
    return TeamMember.objects.filter(organization=organization).select_related("user")


def applications_administered_by(user) -> QuerySet[Application]:
    """Applications of the organisations this person is an admin of: only they act on the
    application's vouches; staff get the same 404 as anyone else."""
    if not user.is_authenticated:
        return Application.objects.none()
    return Application.objects.select_related("organization").filter(
        organization__people__user=user, organization__people__is_admin=True
    )


def pgp_keys_of(*, user):
    if not user.is_authenticated:
        return PgpKey.objects.none()
    return PgpKey.objects.filter(user=user).order_by("-uploaded_at", "-pk")


def memberships_of(*, user) -> QuerySet[TeamMember]:
    if not user.is_authenticated:
        return TeamMember.objects.none()
    return TeamMember.objects.filter(user=user).select_related("organization")


# --- Home pages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplicationProgress:
    """An open application as its applicant's home shows it."""

    application: Application
    answered: int
    total: int
    missing: list[Criterion]
    vouches: list[Vouch]


def _criterion_done(criterion: Criterion, *, answered: set[int], accepted: bool, vouches) -> bool:
    # The same test as submitting (services.applications._criterion_is_satisfied_for_submit):
    # policy by the applicant's own acceptance, vouch by someone asked, evidence by text.
    if criterion.kind == Criterion.Kind.POLICY:
        return accepted
    if criterion.kind == Criterion.Kind.VOUCH:
        return any(v.state in (Vouch.State.REQUESTED, Vouch.State.CONFIRMED) for v in vouches)
    return criterion.pk in answered


def applications_in_progress_for(user) -> list[ApplicationProgress]:
    """The open applications of the organisations the person administers, each with how
    many criteria are answered, which are not, and who was asked to vouch. Five queries
    however many applications, answers and vouches."""
    if not user.is_authenticated:
        return []
    applications = list(
        applications_administered_by(user)
        .filter(state__in=Application.OPEN_STATES)
        .prefetch_related(
            Prefetch("answers", queryset=CriterionAnswer.objects.exclude(evidence="")),
            Prefetch(
                "vouches",
                queryset=Vouch.objects.select_related("voucher", "voucher_organization").order_by(
                    "requested_at", "pk"
                ),
            ),
        )
        .order_by("created_at", "pk")
    )
    if not applications:
        return []
    criteria = list(criteria_active())
    accepted_by = set(
        PolicyAcceptance.objects.filter(
            user_id__in={a.created_by_id for a in applications},
            version_id=Subquery(_current_version_id()),
        ).values_list("user_id", flat=True)
    )
    progress = []
    for application in applications:
        answered = {answer.criterion_id for answer in application.answers.all()}
        vouches = list(application.vouches.all())
        missing = [
            criterion
            for criterion in criteria
            if not _criterion_done(
                criterion,
                answered=answered,
                accepted=application.created_by_id in accepted_by,
                vouches=vouches,
            )
        ]
        progress.append(
            ApplicationProgress(
                application=application,
                answered=len(criteria) - len(missing),
                total=len(criteria),
                missing=missing,
                vouches=vouches,
            )
        )
    return progress


def organizations_run_by(user) -> QuerySet[Organization]:
    """Member (or suspended) organisations the person administers: their home shows the
    team, requests to vouch and what is due."""
    return (
        organizations_administered_by(user)
        .filter(status__in=(Organization.Status.MEMBER, Organization.Status.SUSPENDED))
        .order_by("name", "pk")
    )


def vouch_requests_to_organizations_of(user) -> QuerySet[Vouch]:
    """Requests still waiting for an answer from someone of an organisation the person
    administers; nobody else's."""
    if not user.is_authenticated:
        return Vouch.objects.none()
    return (
        Vouch.objects.filter(
            state=Vouch.State.REQUESTED,
            voucher_organization__in=organizations_administered_by(user).values("pk"),
        )
        .select_related("voucher", "voucher_organization", "application__organization")
        .order_by("requested_at", "pk")
    )


def applications_waiting(*, user) -> dict:
    """For the staff home: applications waiting for the security team, by state, with
    the oldest submission. One query."""
    if not (user.is_authenticated and user.is_staff):
        return {"total": 0, "oldest": None, "by_state": []}
    queryset = Application.objects.filter(state__in=Application.REVIEW_STATES)
    counts = queryset.aggregate(
        total=Count("pk"),
        oldest=Min("submitted_at"),
        **{state: Count("pk", filter=Q(state=state)) for state in Application.REVIEW_STATES},
    )
    return {
        "total": counts["total"],
        "oldest": counts["oldest"],
        "by_state": [
            {"state": state.value, "label": state.label, "count": counts[state]}
            for state in Application.REVIEW_STATES
        ],
    }


# --- What blocks an approval ----------------------------------------------------------


@dataclass(frozen=True)
class ApprovalBlocker:
    """One reason an application cannot be approved now; `anchor` is the id of the part of
    the review page where it can be fixed (without the #)."""

    message: str
    anchor: str
    # "state", "criterion", "question", "vouch" or "policy"
    kind: str = "criterion"


def _criteria_blockers(application: Application, criteria) -> list[ApprovalBlocker]:
    verdicts = dict(application.reviews.values_list("criterion_id", "verdict"))
    words = dict(CriterionReview.Verdict.choices)
    blockers = []
    for criterion in criteria:
        verdict = verdicts.get(criterion.pk)
        if verdict == CriterionReview.Verdict.MET:
            continue
        state = "is not reviewed yet" if verdict is None else f"is reviewed as “{words[verdict]}”"
        blockers.append(
            ApprovalBlocker(
                message=f"Criterion {criterion.number} ({criterion.title}) {state}.",
                anchor=f"criterion-{criterion.number}",
            )
        )
    return blockers


def application_approval_blockers(*, application: Application) -> list[ApprovalBlocker]:
    """Everything that stands between this application and an approval, in page order;
    an empty list means it can be approved. The approval service refuses on the same list,
    so the page and the rule cannot disagree. A fixed number of queries."""
    state = application.state
    blockers = []
    if state in Application.FINAL_STATES:
        return [
            ApprovalBlocker(
                message=f"The application is already {application.get_state_display().lower()}.",
                anchor="decide-title",
                kind="state",
            )
        ]
    if state not in Application.REVIEW_STATES:
        return [
            ApprovalBlocker(
                message="The application is not submitted yet.", anchor="", kind="state"
            )
        ]
    if state == Application.State.SUBMITTED:
        blockers.append(
            ApprovalBlocker(
                message="The review has not started yet: recording a verdict starts it.",
                anchor="criteria-title",
                kind="state",
            )
        )
    criteria = list(criteria_active())
    blockers += _criteria_blockers(application, criteria)
    blockers += _question_blockers(application, state)
    blockers += _standing_blockers(application, criteria)
    return blockers


def _criterion_anchor(criteria, kind: str) -> str:
    numbers = [criterion.number for criterion in criteria if criterion.kind == kind]
    return f"criterion-{numbers[0]}" if numbers else "criteria-title"


def _question_blockers(application: Application, state: str) -> list[ApprovalBlocker]:
    blockers = []
    open_questions = application.questions.filter(replied_at__isnull=True).select_related(
        "criterion"
    )
    for question in open_questions.order_by("asked_at", "pk"):
        about = f" about criterion {question.criterion.number}" if question.criterion else ""
        blockers.append(
            ApprovalBlocker(
                message=f"A question{about} asked {question.asked_at:%Y-%m-%d %H:%M} UTC is "
                "waiting for the applicant's reply.",
                anchor=f"question-{question.pk}",
                kind="question",
            )
        )
    if state == Application.State.NEEDS_INFO and not any(b.kind == "question" for b in blockers):
        blockers.append(
            ApprovalBlocker(
                message="The application is waiting for more information from the applicant.",
                anchor="questions-title",
                kind="state",
            )
        )
    return blockers


def _standing_blockers(application: Application, criteria) -> list[ApprovalBlocker]:
    blockers = []
    # Re-checked here, not trusted from the verdicts: the voucher's organisation may have
    # been suspended, or a new policy version published, since criteria 6 and 7 were met.
    if not application_has_eligible_vouch(application=application):
        blockers.append(
            ApprovalBlocker(
                message="There is no confirmed vouch from a voucher in good standing.",
                anchor=_criterion_anchor(criteria, Criterion.Kind.VOUCH),
                kind="vouch",
            )
        )
    if not application_policy_accepted(application=application):
        blockers.append(
            ApprovalBlocker(
                message="The applicant's acceptance of the current embargo policy is missing.",
                anchor=_criterion_anchor(criteria, Criterion.Kind.POLICY),
                kind="policy",
            )
        )
    return blockers


def organizations_willing_to_vouch(*, application: Application) -> QuerySet[Organization]:
    """Member organisations that opted in to being asked for vouches, each with the
    contact they named (`vouch_contact`), for an applicant; never the applicant's own. A
    contact who left the team or was deactivated takes the organisation off the list."""
    return (
        Organization.objects.filter(
            status=Organization.Status.MEMBER,
            vouch_contact__is_active=True,
            people__user=F("vouch_contact"),
        )
        .exclude(pk=application.organization_id)
        .select_related("vouch_contact")
        .order_by("name", "pk")
    )
