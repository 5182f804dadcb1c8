"""The staff pages for personal bars: the list with filters and lifting one with a reason.
Anonymous people are sent to sign in; members, admins of the removed organisation or of
another one get a 404; staff (with a second factor) see and lift."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.models import AuditEvent
from distributors.models import BlockedIdentity
from distributors.services import organization_remove
from tests.factories import MemberOrganizationFactory, TeamMemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def removed(staff_reviewer):
    """A removed organisation, its barred person, and their account bar."""
    rogue = MemberOrganizationFactory(name="Rogue OS", website="https://rogue-os.test")
    person = TeamMemberFactory(organization=rogue, user__email="ada@rogue-os.test").user
    organization_remove(organization=rogue, actor=staff_reviewer, reason="Repeated leaks.")
    return {
        "organization": rogue,
        "person": person,
        "bar": BlockedIdentity.objects.get(kind="account", user=person),
    }


def _lift_url(bar) -> str:
    return reverse("distributors:staff_bar_lift", kwargs={"pk": bar.pk})


def _unchanged(bar) -> bool:
    bar.refresh_from_db()
    return (
        bar.lifted_at is None
        and not AuditEvent.objects.filter(action="blocked_identity.lifted").exists()
    )


@pytest.mark.parametrize("page", ["list", "lift"])
def test_an_anonymous_person_is_sent_to_sign_in(client, removed, page):
    url = reverse("distributors:staff_bars") if page == "list" else _lift_url(removed["bar"])
    response = client.get(url)
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]
    response = client.post(_lift_url(removed["bar"]), {"reason": "Let me in."})
    assert response.status_code == 302
    assert _unchanged(removed["bar"])


def test_a_member_of_an_organisation_in_good_standing_gets_a_404(mfa_client, removed):
    member = TeamMemberFactory(organization=MemberOrganizationFactory()).user
    client = mfa_client(member)
    assert client.get(reverse("distributors:staff_bars")).status_code == 404
    assert client.get(_lift_url(removed["bar"])).status_code == 404
    assert client.post(_lift_url(removed["bar"]), {"reason": "Please."}).status_code == 404
    assert _unchanged(removed["bar"])


def test_the_barred_person_cannot_lift_their_own_bar(mfa_client, removed):
    client = mfa_client(removed["person"])
    assert client.post(_lift_url(removed["bar"]), {"reason": "I was not there."}).status_code == 404
    assert _unchanged(removed["bar"])


def test_an_admin_of_another_organisation_gets_a_404(mfa_client, outsider, removed):
    client = mfa_client(outsider)
    assert client.get(reverse("distributors:staff_bars")).status_code == 404
    assert client.post(_lift_url(removed["bar"]), {"reason": "Please."}).status_code == 404
    assert _unchanged(removed["bar"])


def test_staff_see_every_bar_and_can_filter_them(mfa_client, staff_reviewer, removed):
    client = mfa_client(staff_reviewer)

    everything = client.get(reverse("distributors:staff_bars")).content.decode()
    accounts = client.get(reverse("distributors:staff_bars"), {"kind": "account"}).content.decode()
    searched = client.get(reverse("distributors:staff_bars"), {"q": "nobody.test"}).content.decode()

    assert "ada@rogue-os.test" in everything and "rogue-os.test" in everything
    assert "Email or web domain" in everything
    assert f"account #{removed['person'].pk}" in accounts
    assert "Email or web domain</td>" not in accounts
    assert "No bars match." in searched


def test_a_filter_with_a_value_it_does_not_know_shows_every_bar(
    mfa_client, staff_reviewer, removed
):
    response = mfa_client(staff_reviewer).get(
        reverse("distributors:staff_bars"), {"kind": "nonsense", "page": "x"}
    )
    assert response.status_code == 200
    assert "ada@rogue-os.test" in response.content.decode()


def test_staff_lift_a_bar_with_a_reason(mfa_client, staff_reviewer, removed):
    client = mfa_client(staff_reviewer)
    page = client.get(_lift_url(removed["bar"]))
    assert page.status_code == 200
    assert "ada@rogue-os.test" in page.content.decode()

    response = client.post(_lift_url(removed["bar"]), {"reason": "Left a year before the leak."})

    assert response.status_code == 302
    assert response["Location"] == reverse("distributors:staff_bars")
    bar = removed["bar"]
    bar.refresh_from_db()
    assert bar.lifted_by == staff_reviewer and bar.lift_reason == "Left a year before the leak."
    listing = client.get(reverse("distributors:staff_bars"), {"state": "lifted"}).content.decode()
    assert "Left a year before the leak." in listing


def test_lifting_without_a_reason_says_so_and_changes_nothing(mfa_client, staff_reviewer, removed):
    response = mfa_client(staff_reviewer).post(_lift_url(removed["bar"]), {"reason": "  "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert _unchanged(removed["bar"])


def test_lifting_a_domain_block_is_refused_with_a_message(mfa_client, staff_reviewer, removed):
    domain = BlockedIdentity.objects.get(kind="domain")
    response = mfa_client(staff_reviewer).post(_lift_url(domain), {"reason": "Sold."})
    assert response.status_code == 400
    assert "not a personal bar" in response.content.decode()
    domain.refresh_from_db()
    assert domain.lifted_at is None


def test_an_unknown_bar_is_a_404_for_staff(mfa_client, staff_reviewer):
    response = mfa_client(staff_reviewer).get(
        reverse("distributors:staff_bar_lift", kwargs={"pk": 999999})
    )
    assert response.status_code == 404
