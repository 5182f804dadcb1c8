"""The home page of each role: what it shows, to whom, and at what cost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from distributors.models import Vouch
from embargo.selectors import HOME_ROWS
from leaks.models import Sanction
from tests.factories import (
    ApplicationFactory,
    CriterionAnswerFactory,
    DeliveryFactory,
    MemberOrganizationFactory,
    PolicyAcceptanceFactory,
    ReportFactory,
    TeamMemberFactory,
    VouchFactory,
    VulnerabilityFactory,
    criterion,
    make_eligible,
)

pytestmark = pytest.mark.django_db


def home(client, user=None):
    if user is not None:
        client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def member_org():
    return MemberOrganizationFactory(name="Walrus Linux")


@pytest.fixture
def member_admin(member_org):
    return make_eligible(TeamMemberFactory(organization=member_org, is_admin=True)).user


def test_an_anonymous_visitor_is_offered_sign_up_and_nothing_else(client):
    ReportFactory()
    text = home(client)
    assert "Create an account to apply" in text
    assert 'id="home-team"' not in text and "to triage" not in text


def test_a_person_without_an_organisation_is_asked_to_apply(client, outsider):
    text = home(client, outsider)
    assert "You have not applied yet." in text
    assert reverse("distributors:apply") in text


def test_an_applicant_sees_progress_what_is_missing_and_who_is_asked_to_vouch(client):
    application = ApplicationFactory(organization__name="Seal OS")
    CriterionAnswerFactory(application=application, criterion=criterion(1))
    CriterionAnswerFactory(application=application, criterion=criterion(2))
    PolicyAcceptanceFactory(user=application.created_by)
    voucher = TeamMemberFactory(
        organization=MemberOrganizationFactory(name="Walrus Linux"),
        user__email="walrus@example.org",
    )
    VouchFactory(
        application=application,
        state=Vouch.State.REQUESTED,
        voucher=voucher.user,
        voucher_organization=voucher.organization,
    )
    text = home(client, application.created_by)
    # Criteria 1 and 2 by text, 6 by the acceptance, 7 by a request sent.
    assert "4 of 7 answered" in text
    assert str(criterion(3)) in text and str(criterion(1)) not in text.split("Still missing")[1]
    assert "walrus@example.org (Walrus Linux)" in text and "Waiting for the voucher" in text
    assert "Continue the application" in text
    assert application.get_absolute_url() in text
    assert "You have not applied yet" not in text


def test_a_member_admin_sees_the_team_with_what_blocks_each_person(
    client, member_org, member_admin
):
    TeamMemberFactory(organization=member_org, user__email="blocked@example.org")
    text = home(client, member_admin)
    assert "You have not applied yet" not in text
    assert reverse("distributors:team", args=[member_org.slug]) in text
    assert "blocked@example.org" in text
    assert "Not marked as need-to-know." in text
    assert 'class="table-scroll" role="region"' in text


def test_a_member_admin_sees_blocked_people_first_and_how_many_are_blocked(
    client, member_org, member_admin
):
    # More eligible people than the panel shows, sorted before the blocked one by address:
    # the blocked person must still be listed, and the counts cover everyone.
    for number in range(HOME_ROWS + 2):
        make_eligible(TeamMemberFactory(organization=member_org, user__email=f"a{number}@x.org"))
    TeamMemberFactory(organization=member_org, user__email="zz-blocked@example.org")
    text = home(client, member_admin)
    assert "zz-blocked@example.org" in text
    people = HOME_ROWS + 4
    assert f"1 of {people} people cannot receive notices yet." in text
    assert f"{people - HOME_ROWS} more on the team page." in text


def test_a_member_admin_sees_vouch_requests_retrospectives_and_unacknowledged_notices(
    client, member_org, member_admin
):
    VouchFactory(
        voucher_organization=member_org,
        state=Vouch.State.REQUESTED,
        application__organization__name="Seal OS",
    )
    Sanction.objects.create(
        organization=member_org,
        kind=Sanction.Kind.WARNING,
        reason="Shared too widely.",
        created_by=member_admin,
        created_at=timezone.now(),
        retrospective_required=True,
    )
    colleague = TeamMemberFactory(organization=member_org, user__email="colleague@example.org")
    DeliveryFactory(member=colleague)
    text = home(client, member_admin)
    assert "Seal OS asked" in text
    assert "Retrospective for Walrus Linux" in text
    assert "colleague@example.org (Walrus Linux): 1 copy" in text


def test_a_need_to_know_person_sees_their_checklist_and_notices(client, member_org):
    person = TeamMemberFactory(organization=member_org, is_need_to_know=True)
    PolicyAcceptanceFactory(user=person.user)
    DeliveryFactory(member=person)
    DeliveryFactory(member=person, acknowledged_at=timezone.now())
    text = home(client, person.user)
    assert "Your checklist at Walrus Linux" in text
    assert "Two-factor authentication is not set up." in text
    assert "No verified PGP key." in text
    assert "2 received" in text and "1 still to acknowledge" in text
    assert 'id="home-team"' not in text


def test_people_see_nothing_of_another_organisation(client, member_org, member_admin):
    other = MemberOrganizationFactory(name="Otter BSD")
    stranger = TeamMemberFactory(organization=other, user__email="stranger@example.org")
    DeliveryFactory(member=stranger)
    VouchFactory(
        voucher_organization=other,
        state=Vouch.State.REQUESTED,
        application__organization__name="Hidden Applicant",
    )
    ApplicationFactory(organization__name="Private Applicant")
    text = home(client, member_admin)
    for secret in ("Otter BSD", "stranger@example.org", "Hidden Applicant", "Private Applicant"):
        assert secret not in text


def test_the_staff_home_counts_what_waits_with_its_age_and_links_the_lists(
    client, mfa_client, staff_reviewer
):
    now = timezone.now()
    ReportFactory(received_at=now - timedelta(days=3))
    ApplicationFactory(state="submitted", submitted_at=now - timedelta(days=2))
    case = VulnerabilityFactory(disclosure_at=now + timedelta(days=2), title="Secret title")
    VulnerabilityFactory(disclosure_at=now + timedelta(days=30))
    DeliveryFactory(state="failed")
    DeliveryFactory()
    text = mfa_client(staff_reviewer).get(reverse("home")).content.decode()
    assert "1 report to triage" in text and "3\xa0days" in text
    assert f"{reverse('intake:staff_queue')}?state=received" in text
    assert "1 application waiting" in text and "2\xa0days" in text
    assert f'href="{reverse("distributors:review_queue")}?state=submitted">1 submitted' in text
    assert "1 open case within a week" in text and case.public_id in text
    assert "Secret title" not in text
    assert "1 copy failed, 0 uncertain" in text and "1 sent and not acknowledged" in text
    assert "0 leak reports open" in text


def _grow_member_world(org, size):
    for index in range(size):
        person = TeamMemberFactory(organization=org, is_need_to_know=bool(index % 2))
        DeliveryFactory(member=person)
        VouchFactory(voucher_organization=org, state=Vouch.State.REQUESTED)


@pytest.mark.parametrize("who", ["admin", "applicant"])
def test_the_member_home_costs_the_same_queries_for_many_rows(
    client, django_assert_max_num_queries, member_org, member_admin, who
):
    application = ApplicationFactory()
    user = member_admin if who == "admin" else application.created_by
    client.force_login(user)
    _grow_member_world(member_org, 2)
    for _ in range(2):
        VouchFactory(application=application, state=Vouch.State.REQUESTED)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("home"))
    _grow_member_world(member_org, 25)
    for _ in range(25):
        VouchFactory(application=application, state=Vouch.State.REQUESTED)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("home")).status_code == 200


def test_the_staff_home_costs_the_same_queries_for_many_rows(
    mfa_client, django_assert_max_num_queries, staff_reviewer
):
    http = mfa_client(staff_reviewer)

    def grow(size):
        for _ in range(size):
            ReportFactory()
            ApplicationFactory(state="submitted")
            VulnerabilityFactory(disclosure_at=timezone.now() + timedelta(days=1))
            DeliveryFactory(state="failed")

    grow(2)
    with CaptureQueriesContext(connection) as few:
        http.get(reverse("home"))
    grow(25)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert http.get(reverse("home")).status_code == 200


def test_the_person_home_costs_the_same_queries_for_many_notices(
    client, django_assert_max_num_queries, member_org
):
    person = TeamMemberFactory(organization=member_org, is_need_to_know=True)
    client.force_login(person.user)
    DeliveryFactory.create_batch(2, member=person, notice__state="sent")
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("home"))
    DeliveryFactory.create_batch(25, member=person, notice__state="sent")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert "27 received" in client.get(reverse("home")).content.decode()


def test_a_staff_member_sees_no_member_panels_and_a_member_no_staff_counts(
    client, mfa_client, staff_reviewer, member_admin
):
    ReportFactory()
    staff_text = mfa_client(staff_reviewer).get(reverse("home")).content.decode()
    assert 'id="home-team"' not in staff_text and "Your checklist at" not in staff_text
    client.logout()
    member_text = home(client, member_admin)
    assert "to triage" not in member_text and "awaiting triage" not in member_text
