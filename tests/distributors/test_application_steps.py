"""Walking through an application: how many criteria are answered (counted as submitting
counts them), the way from one criterion to the next, and asking a willing organisation
only once."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from distributors.models import Organization, Vouch
from distributors.selectors import application_approval_blockers
from tests.factories import (
    ApplicationFactory,
    CriterionAnswerFactory,
    MemberOrganizationFactory,
    PolicyAcceptanceFactory,
    TeamMemberFactory,
    UserFactory,
    VouchFactory,
    answer_all_criteria,
    criterion,
    policy_current_or_new,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def application(org_admin):
    return ApplicationFactory(
        organization=org_admin.memberships.get().organization, created_by=org_admin
    )


@pytest.fixture
def client_of(org_admin) -> Client:
    client = Client()
    client.force_login(org_admin)
    return client


def criterion_url(application, number: int) -> str:
    return reverse("distributors:criterion_answer", args=[application.pk, number])


def test_the_overview_counts_answers_as_submitting_does(client_of, application):
    for number in (1, 2, 3):
        CriterionAnswerFactory(application=application, criterion=criterion(number))
    # A note on the policy criterion is not its answer: only the acceptance is.
    CriterionAnswerFactory(application=application, criterion=criterion(6), evidence="We do.")
    content = client_of.get(application.get_absolute_url()).content.decode()
    assert "3 of 7 answered" in content
    PolicyAcceptanceFactory(user=application.created_by, version=policy_current_or_new())
    VouchFactory(application=application, state=Vouch.State.REQUESTED)
    content = client_of.get(application.get_absolute_url()).content.decode()
    assert "5 of 7 answered" in content
    # What is still missing links to its page, beside the submit button.
    assert f'href="{criterion_url(application, 4)}">criterion 4</a>' in content
    assert f'href="{criterion_url(application, 1)}">criterion 1</a>' not in content


def test_a_complete_draft_says_every_criterion_is_answered(client_of, application):
    answer_all_criteria(application)
    content = client_of.get(application.get_absolute_url()).content.decode()
    assert "7 of 7 answered" in content
    assert "Every criterion is answered." in content


def test_each_criterion_page_shows_the_count_and_leads_to_the_next(client_of, application):
    CriterionAnswerFactory(application=application, criterion=criterion(1))
    first = client_of.get(criterion_url(application, 1)).content.decode()
    assert "Criterion 1 of 7" in first and "1 of 7 answered" in first
    assert "Previous: criterion" not in first
    policy = client_of.get(criterion_url(application, 6)).content.decode()
    assert f'href="{criterion_url(application, 7)}">Next: criterion 7</a>' in policy
    assert f'href="{criterion_url(application, 5)}">← Previous: criterion 5</a>' in policy
    vouch = client_of.get(criterion_url(application, 7)).content.decode()
    assert "Next: criterion" not in vouch
    assert f'href="{application.get_absolute_url()}#submit-title">Next: check and submit' in vouch


def test_a_submitted_application_links_no_criterion_page(org_admin, client_of):
    application = ApplicationFactory(
        organization=org_admin.memberships.get().organization,
        created_by=org_admin,
        state="submitted",
    )
    answer_all_criteria(application)
    content = client_of.get(application.get_absolute_url()).content.decode()
    # Those pages only send a submitted application back here with an error.
    for number in range(1, 8):
        assert criterion_url(application, number) not in content
    assert "Met by a vouch from a member: see “Vouches” below." in content


def test_a_willing_contact_already_asked_is_not_offered_again(client_of, application):
    organization = MemberOrganizationFactory(name="Trusted Distro")
    contact = TeamMemberFactory(
        organization=organization, user=UserFactory(email="vouch@trusted.example.org")
    )
    Organization.objects.filter(pk=organization.pk).update(vouch_contact=contact.user)
    content = client_of.get(criterion_url(application, 7)).content.decode()
    assert "Ask vouch@trusted.example.org</button>" in content
    VouchFactory(
        application=application,
        voucher=contact.user,
        voucher_organization=organization,
        state=Vouch.State.REQUESTED,
    )
    content = client_of.get(criterion_url(application, 7)).content.decode()
    assert "Ask vouch@trusted.example.org</button>" not in content
    assert '<span class="muted">Asked</span>' in content


def test_a_submitted_application_says_what_starts_its_review(application):
    application.state = "submitted"
    application.save(update_fields=["state"])
    first = application_approval_blockers(application=application)[0]
    assert first.kind == "state"
    assert first.message == "The review has not started yet: recording a verdict starts it."
