"""The policy and vouch cards appear once per page: twice meant two vouch request forms with
the same field ids, and on the review page two copies of each card per criterion."""

from __future__ import annotations

import pytest
from django.urls import reverse

from distributors.models import Application, Criterion, Vouch
from tests.factories import (
    ApplicationFactory,
    MemberOrganizationFactory,
    TeamMemberFactory,
    UserFactory,
    VouchFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def application(org_admin) -> Application:
    application = ApplicationFactory(
        organization=org_admin.memberships.get().organization, created_by=org_admin
    )
    voucher = TeamMemberFactory(
        organization=MemberOrganizationFactory(name="Trusted Distro"),
        user=UserFactory(email="friend@trusted.example.org"),
    ).user
    VouchFactory(
        application=application,
        voucher=voucher,
        voucher_organization=voucher.memberships.get().organization,
        state=Vouch.State.REQUESTED,
        statement="",
    )
    return application


def _number(kind: str) -> int:
    return Criterion.objects.get(is_active=True, kind=kind).number


def test_the_vouch_criterion_page_shows_one_request_form(client, org_admin, application):
    client.force_login(org_admin)
    url = reverse(
        "distributors:criterion_answer",
        kwargs={"pk": application.pk, "number": _number(Criterion.Kind.VOUCH)},
    )

    body = client.get(url).content.decode()

    assert body.count('id="vouches-title"') == 1
    assert body.count('name="voucher_email"') == 1


def test_the_submitted_application_page_shows_one_vouch_card(client, org_admin, application):
    application.state = Application.State.SUBMITTED
    application.save(update_fields=["state"])
    client.force_login(org_admin)

    body = client.get(application.get_absolute_url()).content.decode()

    assert body.count('id="vouches-title"') == 1
    assert body.count('id="policy-status-title"') == 1


def test_the_review_page_shows_each_trust_card_once(mfa_client, staff_reviewer, application):
    application.state = Application.State.SUBMITTED
    application.save(update_fields=["state"])

    body = mfa_client(staff_reviewer).get(application.get_review_url()).content.decode()

    assert body.count('id="review-vouches-title"') == 1
    assert body.count('id="policy-status-title"') == 1
    assert "friend@trusted.example.org" in body
