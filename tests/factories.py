"""Factories for every model; tests build their world from these."""

from __future__ import annotations

import factory
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.utils import timezone

from distributors.models import (
    Application,
    Criterion,
    CriterionAnswer,
    CriterionReview,
    Organization,
    Question,
    TeamMember,
)

PASSWORD = "correct horse battery staple 42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"person{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified(obj, create, extracted, **kwargs):
        # allauth only lets a verified primary address sign in.
        if create and extracted is not False:
            EmailAddress.objects.update_or_create(
                user=obj, email=obj.email, defaults={"verified": True, "primary": True}
            )
        if create:
            obj.save()


class StaffFactory(UserFactory):
    is_staff = True


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Distro {n}")
    slug = factory.Sequence(lambda n: f"distro-{n}")
    website = factory.Sequence(lambda n: f"https://distro{n}.example.org")
    status = Organization.Status.APPLICANT


class MemberOrganizationFactory(OrganizationFactory):
    status = Organization.Status.MEMBER
    member_since = factory.LazyFunction(timezone.now)


class TeamMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TeamMember

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    is_admin = False
    is_need_to_know = False


class ApplicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Application

    organization = factory.SubFactory(OrganizationFactory)
    created_by = factory.LazyAttribute(
        lambda o: TeamMemberFactory(organization=o.organization, is_admin=True).user
    )
    state = Application.State.DRAFT
    submitted_at = factory.Maybe(
        factory.LazyAttribute(lambda o: o.state != Application.State.DRAFT),
        yes_declaration=factory.LazyFunction(timezone.now),
        no_declaration=None,
    )


def criterion(number: int) -> Criterion:
    return Criterion.objects.get(number=number)


class CriterionAnswerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CriterionAnswer

    application = factory.SubFactory(ApplicationFactory)
    criterion = factory.LazyFunction(lambda: criterion(1))
    evidence = "We ship it in our stable channel; see the links."
    links = factory.LazyFunction(lambda: ["https://example.org/evidence"])


class CriterionReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CriterionReview

    application = factory.SubFactory(ApplicationFactory, state=Application.State.IN_REVIEW)
    criterion = factory.LazyFunction(lambda: criterion(1))
    verdict = CriterionReview.Verdict.MET
    note = ""
    reviewer = factory.SubFactory(StaffFactory)
    reviewed_at = factory.LazyFunction(timezone.now)


class QuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Question

    application = factory.SubFactory(ApplicationFactory, state=Application.State.NEEDS_INFO)
    text = "Which release channels carry the fix?"
    asked_by = factory.SubFactory(StaffFactory)
    asked_at = factory.LazyFunction(timezone.now)


def answer_all_criteria(application: Application) -> None:
    for item in Criterion.objects.filter(is_active=True):
        CriterionAnswerFactory(application=application, criterion=item)


def review_all_criteria(application: Application, reviewer, verdict: str = "met") -> None:
    for item in Criterion.objects.filter(is_active=True):
        CriterionReviewFactory(
            application=application, criterion=item, reviewer=reviewer, verdict=verdict
        )
