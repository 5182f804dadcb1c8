"""Reads, always scoped to the person asking."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.contenttypes.models import ContentType
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from .models import (
    Application,
    AuditEvent,
    Criterion,
    CriterionAnswer,
    CriterionReview,
    Organization,
    Question,
    TeamMember,
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
    return [
        {
            "criterion": criterion,
            "answer": answers.get(criterion.pk),
            "review": reviews.get(criterion.pk),
        }
        for criterion in criteria_active()
    ]


def application_history(*, application: Application) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        target_type=ContentType.objects.get_for_model(Application),
        target_id=str(application.pk),
    ).select_related("actor")


def team_member_for(*, user, organization: Organization) -> TeamMember | None:
    return TeamMember.objects.filter(user=user, organization=organization).first()
