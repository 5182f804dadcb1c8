"""Member organisations opt in to being listed as willing to vouch; applicants see the list
where they ask for a vouch; a refused address stays in the field."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import AuditEvent
from distributors.models import Organization, Vouch
from distributors.selectors import organizations_willing_to_vouch
from distributors.services import organization_vouch_listing_set
from tests.conftest import sign_in_with_mfa
from tests.factories import (
    ApplicationFactory,
    MemberOrganizationFactory,
    TeamMemberFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def member_team():
    organization = MemberOrganizationFactory(name="Trusted Distro", slug="trusted")
    admin = TeamMemberFactory(organization=organization, is_admin=True)
    contact = TeamMemberFactory(
        organization=organization, user=UserFactory(email="vouch@trusted.example.org")
    )
    return {"org": organization, "admin": admin, "contact": contact}


@pytest.fixture
def application(org_admin):
    return ApplicationFactory(
        organization=org_admin.memberships.get().organization, created_by=org_admin
    )


def listing_url(organization) -> str:
    return reverse("distributors:vouch_listing", kwargs={"slug": organization.slug})


def criterion_url(application) -> str:
    return reverse("distributors:criterion_answer", kwargs={"pk": application.pk, "number": 7})


def state() -> tuple:
    return (
        list(Organization.objects.order_by("pk").values_list("pk", "vouch_contact")),
        AuditEvent.objects.count(),
        Vouch.objects.count(),
    )


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# The service


def test_an_admin_lists_the_organisation_with_a_contact_and_it_is_audited(member_team):
    organization_vouch_listing_set(
        actor=member_team["admin"].user,
        organization=member_team["org"],
        contact=member_team["contact"],
    )
    member_team["org"].refresh_from_db()
    assert member_team["org"].vouch_contact == member_team["contact"].user
    event = AuditEvent.objects.get(action="organization.vouch_listing_set")
    assert event.data["listed"] is True


def test_an_admin_takes_the_organisation_off_the_list(member_team):
    admin, org = member_team["admin"].user, member_team["org"]
    organization_vouch_listing_set(actor=admin, organization=org, contact=member_team["contact"])
    organization_vouch_listing_set(actor=admin, organization=org, contact=None)
    org.refresh_from_db()
    assert org.vouch_contact is None


def test_a_person_who_is_not_an_admin_cannot_list_the_organisation(member_team):
    before = state()
    with pytest.raises(PermissionDenied):
        organization_vouch_listing_set(
            actor=member_team["contact"].user,
            organization=member_team["org"],
            contact=member_team["contact"],
        )
    assert state() == before


def test_a_contact_from_another_team_is_refused(member_team, outsider):
    before = state()
    with pytest.raises(ValidationError):
        organization_vouch_listing_set(
            actor=member_team["admin"].user,
            organization=member_team["org"],
            contact=outsider.memberships.get(),
        )
    assert state() == before


def test_an_applicant_organisation_cannot_offer_to_vouch(org_admin):
    membership = org_admin.memberships.get()
    before = state()
    with pytest.raises(ValidationError):
        organization_vouch_listing_set(
            actor=org_admin, organization=membership.organization, contact=membership
        )
    assert state() == before


# The list applicants see


def test_the_list_holds_only_members_with_a_contact_still_in_the_team(member_team, application):
    admin, org = member_team["admin"].user, member_team["org"]
    organization_vouch_listing_set(actor=admin, organization=org, contact=member_team["contact"])
    MemberOrganizationFactory(name="Not Listed")
    assert list(organizations_willing_to_vouch(application=application)) == [org]
    member_team["contact"].delete()
    assert list(organizations_willing_to_vouch(application=application)) == []


def test_the_list_drops_a_suspended_organisation(member_team, application):
    admin, org = member_team["admin"].user, member_team["org"]
    organization_vouch_listing_set(actor=admin, organization=org, contact=member_team["contact"])
    Organization.objects.filter(pk=org.pk).update(status=Organization.Status.SUSPENDED)
    assert list(organizations_willing_to_vouch(application=application)) == []


def test_the_applicant_sees_the_willing_organisations_where_they_ask(
    org_admin, member_team, application
):
    organization_vouch_listing_set(
        actor=member_team["admin"].user,
        organization=member_team["org"],
        contact=member_team["contact"],
    )
    content = logged_in(org_admin).get(criterion_url(application)).content.decode()
    assert "Member organisations willing to vouch" in content
    assert "Trusted Distro" in content
    assert 'value="vouch@trusted.example.org"' in content


def test_the_applicant_page_query_count_does_not_grow_with_the_list(
    org_admin, application, django_assert_max_num_queries
):
    def listed():
        team = TeamMemberFactory(organization=MemberOrganizationFactory(), is_admin=True)
        Organization.objects.filter(pk=team.organization_id).update(vouch_contact=team.user)

    client = logged_in(org_admin)
    listed()
    client.get(criterion_url(application))
    with CaptureQueriesContext(connection) as few:
        client.get(criterion_url(application))
    for _ in range(30):
        listed()
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(criterion_url(application))
    # One page of 20, with a link to the next.
    assert response.content.decode().count('class="link">Ask ') == 20
    assert "?vouchers=2" in response.content.decode()


def test_a_refused_address_stays_in_the_field(org_admin, application):
    before = state()
    response = logged_in(org_admin).post(
        reverse("distributors:vouch_request", args=[application.pk]),
        {"voucher_email": "nobody-here@example.org"},
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert 'value="nobody-here@example.org"' in content
    assert 'id="id_voucher_email_error"' in content
    assert state() == before


def test_a_malformed_address_stays_in_the_field(org_admin, application):
    response = logged_in(org_admin).post(
        reverse("distributors:vouch_request", args=[application.pk]),
        {"voucher_email": "not an address"},
    )
    assert response.status_code == 400
    assert 'value="not an address"' in response.content.decode()


# The member admin's setting on the team page


def test_the_admin_sets_the_listing_from_the_team_page(member_team):
    client = sign_in_with_mfa(Client(), member_team["admin"].user)
    page = client.get(reverse("distributors:team", kwargs={"slug": "trusted"})).content.decode()
    assert "Vouching for applicants" in page
    response = client.post(
        listing_url(member_team["org"]), {"contact": member_team["contact"].user.email}
    )
    assert response.status_code == 302
    member_team["org"].refresh_from_db()
    assert member_team["org"].vouch_contact == member_team["contact"].user


def test_a_bad_contact_on_the_team_page_changes_nothing(member_team, outsider):
    client = sign_in_with_mfa(Client(), member_team["admin"].user)
    before = state()
    response = client.post(listing_url(member_team["org"]), {"contact": outsider.email})
    assert response.status_code == 400
    assert response.context["vouch_listing_form"].errors["contact"]
    assert state() == before


def test_the_contact_is_found_by_address_whatever_its_case(member_team):
    client = sign_in_with_mfa(Client(), member_team["admin"].user)
    response = client.post(
        listing_url(member_team["org"]), {"contact": "VOUCH@Trusted.Example.org"}
    )
    assert response.status_code == 302
    member_team["org"].refresh_from_db()
    assert member_team["org"].vouch_contact == member_team["contact"].user


def test_an_address_outside_the_team_stays_in_the_field_with_a_clear_message(member_team):
    client = sign_in_with_mfa(Client(), member_team["admin"].user)
    before = state()
    response = client.post(listing_url(member_team["org"]), {"contact": "stranger@example.org"})
    assert response.status_code == 400
    content = response.content.decode()
    assert 'value="stranger@example.org"' in content
    assert "Nobody in your team has the address stranger@example.org" in content
    assert state() == before


def test_a_deactivated_person_cannot_be_the_contact(member_team):
    member_team["contact"].user.is_active = False
    member_team["contact"].user.save(update_fields=["is_active"])
    client = sign_in_with_mfa(Client(), member_team["admin"].user)
    before = state()
    response = client.post(
        listing_url(member_team["org"]), {"contact": "vouch@trusted.example.org"}
    )
    assert response.status_code == 400
    assert state() == before


def test_the_team_page_shows_the_current_contact_in_the_field(member_team):
    Organization.objects.filter(pk=member_team["org"].pk).update(
        vouch_contact=member_team["contact"].user
    )
    client = sign_in_with_mfa(Client(), member_team["admin"].user)
    page = client.get(reverse("distributors:team", kwargs={"slug": "trusted"})).content.decode()
    assert 'value="vouch@trusted.example.org"' in page


def test_an_anonymous_visitor_cannot_set_the_listing(client, member_team):
    before = state()
    response = client.post(
        listing_url(member_team["org"]), {"contact": member_team["contact"].user.email}
    )
    assert response.status_code == 302
    assert state() == before


def test_a_non_admin_of_the_team_cannot_set_the_listing(member_team):
    client = sign_in_with_mfa(Client(), member_team["contact"].user)
    before = state()
    response = client.post(
        listing_url(member_team["org"]), {"contact": member_team["contact"].user.email}
    )
    assert response.status_code in (302, 400)
    assert state() == before


@pytest.mark.parametrize("who", ["outsider", "staff_reviewer"])
def test_another_organisation_or_staff_get_404(request, who, member_team):
    client = sign_in_with_mfa(Client(), request.getfixturevalue(who))
    before = state()
    response = client.post(
        listing_url(member_team["org"]), {"contact": member_team["contact"].user.email}
    )
    assert response.status_code == 404
    assert state() == before
