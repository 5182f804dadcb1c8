"""Cases, a notice's copies and "my notices": pages, search, filters, flat query counts;
and a notice's copies as CSV (staff only, never the notice's text)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from core import lists
from devsupport.list_rows import cases_add, deliveries_add, my_notices_add, team_add
from embargo.models import Delivery, Notice
from tests.conftest import enable_totp
from tests.factories import (
    MemberOrganizationFactory,
    NoticeFactory,
    StaffFactory,
    TeamMemberFactory,
    VulnerabilityFactory,
)

pytestmark = pytest.mark.django_db
CASE_ID = re.compile(rb"ROWS-\d+-\d{4}")
REFERENCE = re.compile(rb"<code>(R\d{9})</code>")
MINE = re.compile(rb"<code>(M\d{9})</code>")


@pytest.fixture
def staff(mfa_client, staff_reviewer):
    return mfa_client(staff_reviewer)


def _ids(pattern, response) -> set[bytes]:
    assert response.status_code == 200
    return set(pattern.findall(response.content))


# --- cases -------------------------------------------------------------------------------


def test_the_case_list_is_paginated_searched_by_id_and_filtered(staff, staff_reviewer, monkeypatch):
    monkeypatch.setattr(lists, "PAGE_SIZE", 2)
    cases = cases_add(n=3, created_by=staff_reviewer)
    cases_add(n=1, created_by=staff_reviewer, state="fixing")
    url = reverse("embargo:case_list")
    assert len(_ids(CASE_ID, staff.get(url))) == 2
    assert len(_ids(CASE_ID, staff.get(url, {"page": "2"}))) == 2
    wanted = cases[1].public_id
    assert _ids(CASE_ID, staff.get(url, {"q": wanted.lower()})) == {wanted.encode()}
    assert len(_ids(CASE_ID, staff.get(url, {"state": "fixing"}))) == 1
    assert b"?state=fixing&amp;page=" not in staff.get(url, {"state": "fixing"}).content


def test_the_case_search_does_not_look_at_the_embargoed_title(staff, staff_reviewer):
    VulnerabilityFactory(title="Secret heap overflow", public_id="HAUL-2026-7777")
    response = staff.get(reverse("embargo:case_list"), {"q": "heap overflow"})
    assert b"HAUL-2026-7777" not in response.content
    assert b"No case matches." in response.content


def test_the_case_list_query_count_is_flat_from_10_to_100(
    staff, staff_reviewer, django_assert_max_num_queries
):
    url = reverse("embargo:case_list")
    cases_add(n=10, created_by=staff_reviewer)
    with django_assert_max_num_queries(20) as ten:
        staff.get(url)
    cases_add(n=90, created_by=staff_reviewer)
    with django_assert_max_num_queries(len(ten.captured_queries)):
        assert len(_ids(CASE_ID, staff.get(url))) == lists.PAGE_SIZE


# --- a notice's copies -------------------------------------------------------------------


@pytest.fixture
def sent_notice():
    notice = NoticeFactory(state=Notice.State.SENT, subject="SUBJECT-CANARY", body="BODY-CANARY")
    organization = MemberOrganizationFactory(name="Acme Copies")
    return notice, organization


def test_the_copies_are_paginated_searched_and_filtered_by_status(staff, sent_notice, monkeypatch):
    monkeypatch.setattr(lists, "PAGE_SIZE", 2)
    notice, organization = sent_notice
    people = team_add(organization=organization, n=5)
    copies = deliveries_add(notice=notice, members=people[:3])
    deliveries_add(notice=notice, members=people[3:4], acknowledged_at=timezone.now())
    deliveries_add(notice=notice, members=people[4:], state=Delivery.State.FAILED)
    url = reverse("embargo:notice_detail", kwargs={"pk": notice.pk})
    pages = [_ids(REFERENCE, staff.get(url, {"page": n})) for n in (1, 2, 3)]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert len(set().union(*pages)) == 5
    monkeypatch.setattr(lists, "PAGE_SIZE", 10)
    assert len(_ids(REFERENCE, staff.get(url, {"status": "sent"}))) == 3
    assert len(_ids(REFERENCE, staff.get(url, {"status": "acknowledged"}))) == 1
    assert len(_ids(REFERENCE, staff.get(url, {"status": "failed"}))) == 1
    assert len(_ids(REFERENCE, staff.get(url, {"status": "nonsense"}))) == 5
    wanted = copies[1]
    assert _ids(REFERENCE, staff.get(url, {"q": wanted.email})) == {wanted.reference_code.encode()}
    # The totals count every copy, not only the page's.
    monkeypatch.setattr(lists, "PAGE_SIZE", 2)
    assert re.search(rb"<td[^>]*>3</td>", staff.get(url, {"page": "3"}).content)


def test_the_copies_query_count_is_flat_from_10_to_100(
    staff, sent_notice, django_assert_max_num_queries
):
    notice, organization = sent_notice
    url = reverse("embargo:notice_detail", kwargs={"pk": notice.pk})
    deliveries_add(notice=notice, members=team_add(organization=organization, n=10))
    with django_assert_max_num_queries(25) as ten:
        staff.get(url)
    deliveries_add(notice=notice, members=team_add(organization=organization, n=90))
    with django_assert_max_num_queries(len(ten.captured_queries)):
        assert len(_ids(REFERENCE, staff.get(url))) == lists.PAGE_SIZE


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_copies_csv_is_for_staff_only(client, sent_notice, outsider):
    notice, organization = sent_notice
    member = TeamMemberFactory(organization=organization, is_admin=True)
    deliveries_add(notice=notice, members=[member])
    url = reverse("embargo:notice_deliveries_csv", kwargs={"pk": notice.pk})
    assert reverse("account_login") in client.get(url)["Location"]
    for user in (member.user, outsider):
        enable_totp(user)
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 404
        assert not hasattr(response, "streaming_content")
    client.force_login(StaffFactory())  # staff without a second factor: set one up first
    assert client.get(url).status_code == 302


def test_the_copies_csv_has_every_copy_and_never_the_notice_text(staff, sent_notice):
    notice, organization = sent_notice
    people = team_add(organization=organization, n=3)
    deliveries_add(notice=notice, members=people[:1], acknowledged_at=timezone.now())
    deliveries_add(
        notice=notice,
        members=people[1:2],
        state=Delivery.State.FAILED,
        failure_reason='=HYPERLINK("http://evil.example")',
    )
    deliveries_add(
        notice=notice, members=people[2:], state=Delivery.State.WITHHELD, reasons=["no_mfa"]
    )
    response = staff.get(reverse("embargo:notice_deliveries_csv", kwargs={"pk": notice.pk}))
    assert response.status_code == 200
    assert (
        response["Content-Disposition"] == f'attachment; filename="notice-{notice.pk}-copies.csv"'
    )
    assert "no-store" in response["Cache-Control"]
    rows = _csv(response)
    text = "\n".join(",".join(row) for row in rows)
    assert "SUBJECT-CANARY" not in text and "BODY-CANARY" not in text
    assert notice.vulnerability.title not in text
    assert rows[0][:4] == ["organisation", "email", "reference_code", "state"]
    by_email = {row[1]: row for row in rows[1:]}
    assert len(by_email) == 3
    acknowledged = by_email[people[0].user.email]
    assert acknowledged[3] == "sent" and acknowledged[5].endswith(" UTC")
    assert by_email[people[1].user.email][7] == '\'=HYPERLINK("http://evil.example")'
    assert by_email[people[2].user.email][7] == "Two-factor authentication is not set up."


# --- my notices --------------------------------------------------------------------------


@pytest.fixture
def recipient(mfa_client):
    member = TeamMemberFactory(organization=MemberOrganizationFactory(), is_need_to_know=True)
    enable_totp(member.user)
    return member, mfa_client(member.user)


def test_my_notices_are_paginated_and_filtered_by_acknowledgement(recipient, monkeypatch):
    monkeypatch.setattr(lists, "PAGE_SIZE", 2)
    member, http = recipient
    case = VulnerabilityFactory()
    copies = my_notices_add(member=member, case=case, n=3, author=case.created_by)
    Delivery.objects.filter(pk=copies[0].pk).update(acknowledged_at=timezone.now())
    url = reverse("embargo:my_notices")
    assert len(_ids(MINE, http.get(url))) == 2
    assert len(_ids(MINE, http.get(url, {"page": "2"}))) == 1
    assert _ids(MINE, http.get(url, {"acknowledged": "yes"})) == {copies[0].reference_code.encode()}
    waiting = http.get(url, {"acknowledged": "no"})
    assert len(_ids(MINE, waiting)) == 2
    assert b"You have 2 notices to acknowledge" in waiting.content
    assert len(_ids(MINE, http.get(url, {"acknowledged": "maybe"}))) == 2


def test_my_notices_show_only_my_own_copies(recipient, mfa_client):
    member, _ = recipient
    case = VulnerabilityFactory()
    my_notices_add(member=member, case=case, n=2, author=case.created_by)
    other = TeamMemberFactory(organization=member.organization, is_need_to_know=True)
    enable_totp(other.user)
    response = mfa_client(other.user).get(reverse("embargo:my_notices"))
    assert _ids(MINE, response) == set()


def test_my_notices_query_count_is_flat_from_10_to_100(recipient, django_assert_max_num_queries):
    member, http = recipient
    case = VulnerabilityFactory()
    url = reverse("embargo:my_notices")
    my_notices_add(member=member, case=case, n=10, author=case.created_by)
    with django_assert_max_num_queries(25) as ten:
        http.get(url)
    my_notices_add(member=member, case=case, n=90, author=case.created_by)
    with django_assert_max_num_queries(len(ten.captured_queries)):
        assert len(_ids(MINE, http.get(url))) == lists.PAGE_SIZE
