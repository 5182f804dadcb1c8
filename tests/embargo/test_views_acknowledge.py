"""A recipient's pages: their notices (codes and dates only) and the acknowledgement link."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.models import AuditEvent
from embargo.models import Delivery
from tests.conftest import enable_totp
from tests.embargo.views_world import assert_no_canary, world_build
from tests.factories import DeliveryFactory

pytestmark = pytest.mark.django_db


def ack_url(delivery) -> str:
    return reverse("embargo:acknowledge", kwargs={"reference_code": delivery.reference_code})


def test_the_acknowledgement_path_on_the_model_is_the_routed_url():
    world = world_build()
    assert world.delivery.acknowledgement_path == ack_url(world.delivery)


def test_an_anonymous_visitor_is_sent_to_sign_in(client):
    world = world_build()
    response = client.get(ack_url(world.delivery))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    response = client.post(ack_url(world.delivery))
    assert response.status_code == 302
    world.delivery.refresh_from_db()
    assert world.delivery.acknowledged_at is None


def test_a_recipient_without_two_factor_is_sent_to_set_it_up(mfa_client):
    world = world_build(with_mfa=False)
    client = mfa_client(world.owner)
    response = client.post(ack_url(world.delivery))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    world.delivery.refresh_from_db()
    assert world.delivery.acknowledged_at is None


def test_the_owner_sees_code_number_and_date_but_no_embargoed_text(mfa_client):
    world = world_build()
    response = mfa_client(world.owner).get(ack_url(world.delivery))
    assert response.status_code == 200
    text = response.content.decode()
    assert world.delivery.reference_code in text
    assert f"#{world.notice.pk}" in text
    assert world.case.disclosure_at.strftime("%Y-%m-%d %H:%M") in text
    assert_no_canary(response)


def test_the_owner_acknowledges_with_a_post_and_it_is_audited(mfa_client):
    world = world_build()
    client = mfa_client(world.owner)
    response = client.post(ack_url(world.delivery))
    assert response.status_code == 302
    world.delivery.refresh_from_db()
    assert world.delivery.acknowledged_at is not None
    assert AuditEvent.objects.filter(
        action="delivery.acknowledged", target_id=str(world.delivery.pk)
    ).exists()
    page = client.get(ack_url(world.delivery))
    assert "Thank you" in page.content.decode()
    assert_no_canary(page)


def test_the_page_asks_to_acknowledge_only_until_the_notice_is_acknowledged(mfa_client):
    world = world_build()
    client = mfa_client(world.owner)
    code = world.delivery.reference_code
    before = client.get(ack_url(world.delivery)).content.decode()
    assert f"<h1>Acknowledge notice {code}</h1>" in before
    client.post(ack_url(world.delivery))
    after = client.get(ack_url(world.delivery)).content.decode()
    assert f"<h1>Notice {code}</h1>" in after
    assert f"<title>Notice {code} · " in after
    assert f"I have read notice {code}" not in after


def test_a_second_acknowledgement_changes_nothing(mfa_client):
    world = world_build()
    client = mfa_client(world.owner)
    client.post(ack_url(world.delivery))
    world.delivery.refresh_from_db()
    first = world.delivery.acknowledged_at
    client.post(ack_url(world.delivery))
    world.delivery.refresh_from_db()
    assert world.delivery.acknowledged_at == first
    assert AuditEvent.objects.filter(action="delivery.acknowledged").count() == 1


def test_a_code_typed_in_lower_case_still_finds_the_owners_copy(mfa_client):
    world = world_build()
    url = reverse(
        "embargo:acknowledge", kwargs={"reference_code": world.delivery.reference_code.lower()}
    )
    assert mfa_client(world.owner).get(url).status_code == 200


def test_another_organisations_person_gets_404_for_someone_elses_code(mfa_client):
    world = world_build()
    client = mfa_client(world.other)
    assert client.get(ack_url(world.delivery)).status_code == 404
    assert client.post(ack_url(world.delivery)).status_code == 404
    world.delivery.refresh_from_db()
    assert world.delivery.acknowledged_at is None
    assert not AuditEvent.objects.filter(action="delivery.acknowledged").exists()


def test_someone_elses_code_and_a_made_up_code_look_the_same(mfa_client):
    world = world_build()
    client = mfa_client(world.other)
    real = client.get(ack_url(world.delivery))
    made_up = client.get(reverse("embargo:acknowledge", kwargs={"reference_code": "ZZZZZZZZZZ"}))
    assert real.status_code == made_up.status_code == 404
    assert real.content == made_up.content


def test_an_overlong_code_is_a_404_not_an_error(mfa_client):
    world = world_build()
    url = reverse("embargo:acknowledge", kwargs={"reference_code": "A" * 5000})
    assert mfa_client(world.owner).get(url).status_code == 404


def test_staff_cannot_open_or_acknowledge_a_recipients_copy(mfa_client, staff_reviewer):
    world = world_build()
    client = mfa_client(staff_reviewer)
    assert client.get(ack_url(world.delivery)).status_code == 404
    assert client.post(ack_url(world.delivery)).status_code == 404
    world.delivery.refresh_from_db()
    assert world.delivery.acknowledged_at is None


def test_a_withheld_copy_cannot_be_acknowledged(mfa_client):
    world = world_build()
    withheld = DeliveryFactory(
        notice=world.notice,
        member__organization=world.delivery.organization,
        state=Delivery.State.WITHHELD,
        reasons=["no_verified_key"],
    )
    enable_totp(withheld.user)
    client = mfa_client(withheld.user)
    page = client.get(ack_url(withheld))
    assert page.status_code == 200
    assert "nothing to acknowledge" in page.content.decode()
    response = client.post(ack_url(withheld), follow=True)
    assert "not delivered to you" in response.content.decode()
    withheld.refresh_from_db()
    assert withheld.acknowledged_at is None
    assert_no_canary(response)


# --- The list of one's own notices -------------------------------------------------


def test_my_notices_needs_sign_in(client):
    response = client.get(reverse("embargo:my_notices"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_my_notices_lists_only_my_own_codes_and_no_embargoed_text(mfa_client):
    world = world_build()
    response = mfa_client(world.owner).get(reverse("embargo:my_notices"))
    assert response.status_code == 200
    text = response.content.decode()
    assert world.delivery.reference_code in text
    assert world.other_delivery.reference_code not in text
    assert "You have 1 notice to acknowledge" in text
    assert_no_canary(response)


def test_my_notices_for_another_organisations_person_shows_their_own_code_only(mfa_client):
    world = world_build()
    text = mfa_client(world.other).get(reverse("embargo:my_notices")).content.decode()
    assert world.other_delivery.reference_code in text
    assert world.delivery.reference_code not in text


def test_my_notices_for_staff_lists_nothing_of_other_people(mfa_client, staff_reviewer):
    world = world_build()
    text = mfa_client(staff_reviewer).get(reverse("embargo:my_notices")).content.decode()
    assert world.delivery.reference_code not in text
    assert "No notice has been sent to you" in text


def test_my_notices_query_count_does_not_grow_with_notices(
    mfa_client, django_assert_max_num_queries
):
    world = world_build()
    client = mfa_client(world.owner)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("embargo:my_notices"))
    for _ in range(20):
        DeliveryFactory(member=world.delivery.member)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("embargo:my_notices"))
    assert "You have 21 notices to acknowledge" in response.content.decode()


def test_no_distributor_facing_page_shows_embargoed_text(client, mfa_client):
    """The canary phrases sit in the case title, summary, notice subject and body; a
    recipient walking every page they can reach never sees them."""
    world = world_build()
    signed_in = mfa_client(world.owner)
    urls = [
        reverse("home"),
        reverse("embargo:my_notices"),
        ack_url(world.delivery),
        ack_url(world.other_delivery),
        reverse("embargo:advisory_list"),
        world.case.get_advisory_url(),
        reverse("embargo:case_list"),
        reverse("embargo:case_detail", kwargs={"pk": world.case.pk}),
        reverse("embargo:advisory_preview", kwargs={"pk": world.case.pk}),
        reverse("embargo:notice_detail", kwargs={"pk": world.notice.pk}),
        reverse("embargo:notice_preview", kwargs={"pk": world.notice.pk}),
        reverse("distributors:me"),
    ]
    for url in urls:
        response = signed_in.get(url)
        assert response.status_code in (200, 302, 404), url
        assert_no_canary(response)
    acknowledged = signed_in.post(ack_url(world.delivery), follow=True)
    assert_no_canary(acknowledged)
