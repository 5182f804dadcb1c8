"""The middleware: staff need a second factor under any path prefix, and signed-in pages
are sent with Cache-Control: no-store."""

from __future__ import annotations

import pytest
from django.urls import reverse

from embargo.services import notice_send
from embargo.tasks import delivery_send_task
from leaks.models import LeakReport
from leaks.services import leak_report_file
from tests.conftest import enable_totp
from tests.embargo.helpers import case_ready, notice_draft
from tests.factories import (
    MemberOrganizationFactory,
    StaffFactory,
    TeamMemberFactory,
    make_eligible,
)
from tests.prefix import PrefixedClient, served_under

pytestmark = pytest.mark.django_db


def _no_store(response) -> bool:
    directives = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    return {"no-store", "private"} <= directives


@pytest.fixture
def world(monkeypatch):
    monkeypatch.setattr(delivery_send_task, "apply_async", lambda *a, **k: None)
    acme = MemberOrganizationFactory(name="Acme Middleware", slug="acme-middleware")
    owner = make_eligible(TeamMemberFactory(organization=acme, is_admin=True)).user
    staff = StaffFactory()
    enable_totp(staff)
    case = case_ready(actor=staff, title="Use after free in the middleware parser")
    notice = notice_draft(case=case, actor=staff)
    notice_send(notice=notice, actor=staff)
    report = leak_report_file(
        actor=staff,
        organization=acme,
        vulnerability=case,
        notice=notice,
        source=LeakReport.Source.FOUND,
        what_leaked="The patch.",
        leaked_to="A forum.",
        how="Unknown.",
    )
    return {"owner": owner, "staff": staff, "case": case, "notice": notice, "report": report}


# ---------------------------------------------------------------- under a path prefix


@pytest.mark.parametrize(
    "url",
    [
        lambda w: reverse("distributors:review_queue"),
        lambda w: reverse("embargo:case_detail", kwargs={"pk": w["case"].pk}),
        lambda w: w["notice"].get_staff_url(),
        lambda w: reverse("admin:index"),
        lambda w: reverse("admin:core_auditevent_changelist"),
        lambda w: reverse("leaks:leak_list"),
        lambda w: w["report"].get_absolute_url(),
    ],
    ids=["review-queue", "case", "notice", "admin", "admin-audit", "leaks", "leak"],
)
def test_staff_without_two_factor_are_sent_to_set_it_up_under_a_path_prefix(
    world, staff_without_mfa, url
):
    client = PrefixedClient()
    client.force_login(staff_without_mfa)
    with served_under():
        address = url(world)
        assert address.startswith("/haulout/")
        for response in (client.get(address), client.post(address, {})):
            assert response.status_code == 302, address
            assert response["Location"] == reverse("mfa_activate_totp")
    assert response["Location"].startswith("/haulout/accounts/")
    assert world["case"].title.encode() not in response.content


def test_staff_with_two_factor_open_the_staff_pages_under_a_path_prefix(world, mfa_client):
    client = PrefixedClient()
    client.cookies = mfa_client(world["staff"]).cookies
    with served_under():
        response = client.get(reverse("embargo:case_detail", kwargs={"pk": world["case"].pk}))
    assert response.status_code == 200
    assert world["case"].title.encode() in response.content


# ---------------------------------------------------------------- no-store


@pytest.mark.parametrize(
    "who,url",
    [
        ("staff", lambda w: reverse("embargo:case_detail", kwargs={"pk": w["case"].pk})),
        ("staff", lambda w: w["notice"].get_staff_url()),
        ("staff", lambda w: w["report"].get_staff_url()),
        ("owner", lambda w: w["report"].get_absolute_url()),
        ("owner", lambda w: reverse("leaks:leak_list")),
        ("owner", lambda w: reverse("embargo:my_notices")),
        ("owner", lambda w: reverse("home")),
    ],
    ids=["case", "notice", "staff-leak", "member-leak", "member-leaks", "my-notices", "home"],
)
def test_pages_for_a_signed_in_person_are_sent_with_no_store(world, mfa_client, who, url):
    response = mfa_client(world[who]).get(url(world))
    assert response.status_code == 200
    assert _no_store(response), response.get("Cache-Control")


def test_redirects_and_refusals_for_a_signed_in_person_are_sent_with_no_store(
    world, mfa_client, staff_without_mfa, client
):
    client.force_login(staff_without_mfa)
    refused = client.get(reverse("embargo:case_detail", kwargs={"pk": world["case"].pk}))
    assert refused.status_code == 302 and _no_store(refused)
    missing = mfa_client(world["owner"]).get(reverse("leaks:leak_detail", kwargs={"pk": 987654}))
    assert missing.status_code == 404 and _no_store(missing)


def test_staff_pages_are_sent_with_no_store_even_to_someone_signed_out(world, client):
    response = client.get(reverse("embargo:case_detail", kwargs={"pk": world["case"].pk}))
    assert response.status_code == 302
    assert _no_store(response)


def test_a_public_page_for_someone_signed_out_may_be_cached(client):
    # Only what a signed-in person sees, or what sits under the private paths, is no-store.
    response = client.get(reverse("embargo:advisory_list"))
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
