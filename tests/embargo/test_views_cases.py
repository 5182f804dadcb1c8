"""The security team's case pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from embargo.models import Delivery, Notice, Vulnerability
from embargo.services import vulnerability_next_states
from tests.embargo.views_world import CANARY_SUMMARY, CANARY_TITLE, world_build
from tests.factories import (
    MemberOrganizationFactory,
    NoticeFactory,
    TeamMemberFactory,
    VulnerabilityFactory,
    make_eligible,
)

pytestmark = pytest.mark.django_db

VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def case_pages(case) -> list[tuple[str, str]]:
    pk = {"pk": case.pk}
    return [
        ("get", reverse("embargo:case_list")),
        ("get", reverse("embargo:case_create")),
        ("get", reverse("embargo:case_detail", kwargs=pk)),
        ("get", reverse("embargo:case_edit", kwargs=pk)),
        ("get", reverse("embargo:advisory_preview", kwargs=pk)),
        ("post", reverse("embargo:case_transition", kwargs=pk)),
        ("post", reverse("embargo:case_reject", kwargs=pk)),
        ("post", reverse("embargo:case_disclosure_move", kwargs=pk)),
        ("post", reverse("embargo:case_disclose", kwargs=pk)),
    ]


def snapshot(case) -> tuple:
    case.refresh_from_db()
    return (
        case.state,
        case.title,
        case.disclosure_at,
        case.rejection_reason,
        AuditEvent.objects.count(),
        Vulnerability.objects.count(),
    )


def test_anonymous_visitors_are_sent_to_sign_in_and_change_nothing(client):
    world = world_build()
    before = snapshot(world.case)
    for method, url in case_pages(world.case):
        response = getattr(client, method)(url, {"state": "fixing", "reason": "x"})
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("account_login")), url
    assert snapshot(world.case) == before


@pytest.mark.parametrize("who", ["owner", "other"])
def test_distributors_get_404_on_every_case_page_and_see_no_case_text(who, mfa_client):
    world = world_build()
    before = snapshot(world.case)
    http = mfa_client(world.owner if who == "owner" else world.other)
    for method, url in case_pages(world.case):
        response = getattr(http, method)(url, {"state": "fixing", "reason": "x"})
        assert response.status_code == 404, url
        assert CANARY_TITLE not in response.content.decode()
    assert snapshot(world.case) == before


def test_staff_without_two_factor_are_sent_to_set_it_up(client, staff_without_mfa):
    world = world_build()
    client.force_login(staff_without_mfa)
    for method, url in case_pages(world.case):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"] == reverse("mfa_activate_totp"), url


def test_staff_see_every_case_page(mfa_client, staff_reviewer):
    world = world_build()
    http = mfa_client(staff_reviewer)
    for method, url in case_pages(world.case):
        if method == "get":
            assert http.get(url).status_code == 200, url
    detail = http.get(reverse("embargo:case_detail", kwargs={"pk": world.case.pk}))
    text = detail.content.decode()
    assert CANARY_TITLE in text
    assert CANARY_SUMMARY in text
    assert f"#{world.notice.pk}" in text


# --- The list -------------------------------------------------------------------------


def test_the_list_puts_open_cases_first_and_filters_by_state(mfa_client, staff_reviewer):
    closed = VulnerabilityFactory(title="Closed one", state=Vulnerability.State.DISCLOSED)
    later = VulnerabilityFactory(
        title="Open later", disclosure_at=timezone.now() + timedelta(days=20)
    )
    sooner = VulnerabilityFactory(
        title="Open sooner", disclosure_at=timezone.now() + timedelta(days=2)
    )
    http = mfa_client(staff_reviewer)
    text = http.get(reverse("embargo:case_list")).content.decode()
    assert text.index(sooner.title) < text.index(later.title) < text.index(closed.title)
    filtered = http.get(reverse("embargo:case_list"), {"state": "disclosed"}).content.decode()
    assert closed.title in filtered
    assert sooner.title not in filtered


def test_a_bad_filter_value_is_reported_not_an_error(mfa_client, staff_reviewer):
    VulnerabilityFactory(title="Still listed")
    response = mfa_client(staff_reviewer).get(reverse("embargo:case_list"), {"state": "nonsense"})
    assert response.status_code == 200
    assert "The filter was not applied" in response.content.decode()
    assert "Still listed" in response.content.decode()


def test_the_list_query_count_does_not_grow_with_cases(
    mfa_client, staff_reviewer, django_assert_max_num_queries
):
    for _ in range(3):
        NoticeFactory()
    http = mfa_client(staff_reviewer)
    with django_assert_max_num_queries(20) as few:
        http.get(reverse("embargo:case_list"))
    for _ in range(30):
        NoticeFactory()
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = http.get(reverse("embargo:case_list"))
    assert response.content.decode().count("/staff/cases/") >= 33


# --- Opening and editing ------------------------------------------------------------------


def case_post(**overrides) -> dict:
    data = {
        "title": "Path traversal in the mirror sync",
        "summary": "Reported by a researcher.",
        "cvss_vector": VECTOR,
        "cve_id": "cve-2026-4242",
        "disclosure_at": "2030-05-04T14:00",
        "mitigation": "Upgrade.",
    }
    data.update(overrides)
    return data


def test_opening_a_case_scores_the_vector_and_stores_the_time_as_utc(
    mfa_client, staff_reviewer, settings
):
    # Whatever zone the site runs in, the typed time is UTC, as the label says.
    settings.TIME_ZONE = "America/New_York"
    response = mfa_client(staff_reviewer).post(reverse("embargo:case_create"), case_post())
    case = Vulnerability.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("embargo:case_detail", kwargs={"pk": case.pk})
    assert case.cvss_score == Decimal("9.8")
    assert case.cvss_severity == "Critical"
    assert case.cve_id == "CVE-2026-4242"
    assert case.disclosure_at == datetime(2030, 5, 4, 14, 0, tzinfo=UTC)
    assert AuditEvent.objects.filter(action="vulnerability.created").count() == 1


def test_the_disclosure_time_is_shown_in_utc_with_the_zone(mfa_client, staff_reviewer):
    case = VulnerabilityFactory(disclosure_at=datetime(2030, 5, 4, 14, 0, tzinfo=UTC))
    text = (
        mfa_client(staff_reviewer)
        .get(reverse("embargo:case_detail", kwargs={"pk": case.pk}))
        .content.decode()
    )
    assert "2030-05-04 14:00 UTC" in text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cvss_vector", "CVSS:3.1/AV:X", "The CVSS vector is not valid"),
        ("cvss_vector", "AV:N/AC:L", "starts with CVSS:3.1/ or CVSS:4.0/"),
        ("cve_id", "CVE-12", "A CVE id looks like"),
        ("disclosure_at", "next tuesday", "Enter a valid date/time"),
        ("title", "", "This field is required"),
        ("title", "x" * 201, "at most 200 characters"),
    ],
)
def test_bad_case_input_is_shown_beside_the_field_and_saves_nothing(
    field, value, message, mfa_client, staff_reviewer
):
    events = AuditEvent.objects.count()
    response = mfa_client(staff_reviewer).post(
        reverse("embargo:case_create"), case_post(**{field: value})
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Vulnerability.objects.count() == 0
    assert AuditEvent.objects.count() == events


def test_editing_a_case_saves_the_changed_fields_and_audits_which(mfa_client, staff_reviewer):
    case = VulnerabilityFactory(title="Old title")
    data = {
        "title": "New title",
        "summary": case.summary,
        "cvss_vector": "",
        "cve_id": "",
        "mitigation": "",
    }
    response = mfa_client(staff_reviewer).post(
        reverse("embargo:case_edit", kwargs={"pk": case.pk}), data
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.title == "New title"
    event = AuditEvent.objects.get(action="vulnerability.updated")
    assert event.data == {"fields": ["title"]}
    assert "New title" not in str(event.data)


def test_a_disclosed_case_offers_only_the_corrections_an_advisory_may_need(
    mfa_client, staff_reviewer
):
    case = VulnerabilityFactory(state=Vulnerability.State.DISCLOSED, title="Kept title")
    http = mfa_client(staff_reviewer)
    url = reverse("embargo:case_edit", kwargs={"pk": case.pk})
    page = http.get(url).content.decode()
    assert 'name="mitigation"' in page and 'name="credit"' in page
    assert 'name="title"' not in page
    response = http.post(url, {"title": "Changed", "credit": "Rosa R.", "mitigation": "m"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.title == "Kept title"
    assert (case.credit, case.mitigation) == ("Rosa R.", "m")


def test_a_rejected_case_cannot_be_edited(mfa_client, staff_reviewer):
    case = VulnerabilityFactory(state=Vulnerability.State.REJECTED, title="Rejected title")
    response = mfa_client(staff_reviewer).post(
        reverse("embargo:case_edit", kwargs={"pk": case.pk}), case_post(), follow=True
    )
    assert "can no longer be edited" in response.content.decode()
    case.refresh_from_db()
    assert case.title == "Rejected title"


# --- State, rejection, disclosure ---------------------------------------------------------


def test_a_reported_case_moves_to_triaged(mfa_client, staff_reviewer):
    case = VulnerabilityFactory(state=Vulnerability.State.REPORTED)
    response = mfa_client(staff_reviewer).post(
        reverse("embargo:case_transition", kwargs={"pk": case.pk}), {"state": "triaged"}
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == Vulnerability.State.TRIAGED
    assert AuditEvent.objects.filter(action="vulnerability.state_changed").count() == 1


@pytest.mark.parametrize("state", Vulnerability.State.values)
def test_the_case_page_offers_one_button_per_move_the_service_allows(
    state, mfa_client, staff_reviewer
):
    case = VulnerabilityFactory(state=state)
    page = mfa_client(staff_reviewer).get(reverse("embargo:case_detail", kwargs={"pk": case.pk}))
    offered = re.findall(r'name="state" value="([a-z_]+)"', page.content.decode())
    assert offered == vulnerability_next_states(state)
    for target in offered:
        assert f"Mark as {Vulnerability.State(target).label.lower()}" in page.content.decode()


@pytest.mark.parametrize("state", ["fixing", "disclosed", "bogus", ""])
def test_a_move_the_case_cannot_make_is_refused_and_changes_nothing(
    state, mfa_client, staff_reviewer
):
    case = VulnerabilityFactory(state=Vulnerability.State.REPORTED)
    before = snapshot(case)
    response = mfa_client(staff_reviewer).post(
        reverse("embargo:case_transition", kwargs={"pk": case.pk}), {"state": state}, follow=True
    )
    assert response.status_code == 200
    assert 'class="message error"' in response.content.decode()
    assert snapshot(case) == before


def test_rejecting_needs_a_reason(mfa_client, staff_reviewer):
    case = VulnerabilityFactory()
    before = snapshot(case)
    http = mfa_client(staff_reviewer)
    url = reverse("embargo:case_reject", kwargs={"pk": case.pk})
    response = http.post(url, {"reason": "   "})
    assert response.status_code == 400
    assert snapshot(case) == before
    response = http.post(url, {"reason": "Not a vulnerability: documented behaviour."})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == Vulnerability.State.REJECTED
    assert case.rejection_reason == "Not a vulnerability: documented behaviour."


def test_moving_the_disclosure_time_into_the_past_is_refused(mfa_client, staff_reviewer):
    case = VulnerabilityFactory()
    before = snapshot(case)
    response = mfa_client(staff_reviewer).post(
        reverse("embargo:case_disclosure_move", kwargs={"pk": case.pk}),
        {"disclosure_at": "2001-01-01T00:00"},
    )
    assert response.status_code == 400
    assert "must be in the future" in response.content.decode()
    assert snapshot(case) == before


def test_moving_the_disclosure_time_is_audited_and_renotifies_everyone_told(
    mfa_client, staff_reviewer
):
    world = world_build()
    # A sent notice and someone still eligible, so the re-notification can go out.
    NoticeFactory(vulnerability=world.case, state=Notice.State.SENT, audience_all=True)
    make_eligible(TeamMemberFactory(organization=MemberOrganizationFactory()))
    notices = Notice.objects.filter(vulnerability=world.case).count()
    new_time = (
        (timezone.now() + timedelta(days=30)).astimezone(UTC).replace(second=0, microsecond=0)
    )
    response = mfa_client(staff_reviewer).post(
        reverse("embargo:case_disclosure_move", kwargs={"pk": world.case.pk}),
        {"disclosure_at": new_time.strftime("%Y-%m-%dT%H:%M"), "note": "Vendor asked."},
    )
    assert response.status_code == 302
    world.case.refresh_from_db()
    assert world.case.disclosure_at == new_time
    assert AuditEvent.objects.filter(action="vulnerability.disclosure_moved").count() == 1
    assert Notice.objects.filter(vulnerability=world.case).count() == notices + 1
    renotice = Notice.objects.filter(vulnerability=world.case).latest("created_at", "pk")
    assert renotice.state == Notice.State.SENDING
    assert renotice.deliveries.filter(state=Delivery.State.PENDING).exists()


def test_disclosing_now_needs_the_confirmation(mfa_client, staff_reviewer):
    case = VulnerabilityFactory(state=Vulnerability.State.FIXING)
    before = snapshot(case)
    http = mfa_client(staff_reviewer)
    url = reverse("embargo:case_disclose", kwargs={"pk": case.pk})
    assert http.post(url, {}).status_code == 400
    assert snapshot(case) == before
    assert http.post(url, {"confirm": "on"}).status_code == 302
    case.refresh_from_db()
    assert case.state == Vulnerability.State.DISCLOSED
    assert http.get(case.get_advisory_url()).status_code == 200


def test_the_history_lists_case_and_notice_events_in_words(mfa_client, staff_reviewer):
    http = mfa_client(staff_reviewer)
    http.post(reverse("embargo:case_create"), case_post())
    case = Vulnerability.objects.get()
    http.post(reverse("embargo:case_transition", kwargs={"pk": case.pk}), {"state": "triaged"})
    text = http.get(reverse("embargo:case_detail", kwargs={"pk": case.pk})).content.decode()
    assert "opened the case" in text
    assert "changed the state" in text
    assert "Reported → Triaged" in text


def test_the_staff_advisory_preview_works_before_disclosure(mfa_client, staff_reviewer, client):
    case = VulnerabilityFactory(title="Preview me", mitigation="Do **this**.")
    response = mfa_client(staff_reviewer).get(
        reverse("embargo:advisory_preview", kwargs={"pk": case.pk})
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "Preview me" in text
    assert "<strong>this</strong>" in text
    assert "not public until the case is disclosed" in text
    client.logout()
    assert client.get(case.get_advisory_url()).status_code == 404


def test_a_nonexistent_case_is_404_for_staff(mfa_client, staff_reviewer):
    http = mfa_client(staff_reviewer)
    assert http.get(reverse("embargo:case_detail", kwargs={"pk": 999999})).status_code == 404
