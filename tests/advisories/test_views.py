"""The export addresses: public once disclosed, and before that the same 404 as an id
that never existed, for everyone; absent from the index and the feed; the feed parses;
the lists cost the same number of queries however many advisories there are."""

from __future__ import annotations

import json
from datetime import timedelta

import feedparser
import pytest
from django.urls import reverse

from tests.advisories.helpers import (
    DISCLOSED_AT,
    PRIVATE_SUMMARY,
    REPORTER_EMAIL,
    consenting_statuses,
    disclose,
    minimal_case,
    rich_case,
)
from tests.embargo.views_world import CANARY_SUMMARY, CANARY_TITLE, world_build
from tests.factories import AdvisoryRevisionFactory

pytestmark = pytest.mark.django_db

VIEWERS = ["anonymous", "owner", "other", "staff"]
RECORD_ROUTES = ["advisories:osv", "advisories:csaf"]
LIST_ROUTES = ["advisories:osv_index", "advisories:osv_all", "advisories:feed"]


@pytest.fixture
def viewer_client(client, mfa_client, staff_reviewer):
    def get(viewer: str, world):
        if viewer == "anonymous":
            return client
        if viewer == "owner":
            return mfa_client(world.owner)
        if viewer == "other":
            return mfa_client(world.other)
        return mfa_client(staff_reviewer)

    return get


def _url(name: str, public_id: str) -> str:
    return reverse(name, kwargs={"public_id": public_id})


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("route", RECORD_ROUTES)
def test_an_undisclosed_case_has_no_export_for_anyone(viewer, route, viewer_client):
    world = world_build()
    http = viewer_client(viewer, world)
    hidden = http.get(_url(route, world.case.public_id))
    missing = http.get(_url(route, "HAUL-1999-0001"))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content
    assert CANARY_TITLE.encode() not in hidden.content


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("route", LIST_ROUTES)
def test_an_undisclosed_case_is_in_no_list_or_feed(viewer, route, viewer_client):
    world = world_build()
    shown = minimal_case()
    response = viewer_client(viewer, world).get(reverse(route))
    assert response.status_code == 200
    text = response.content.decode()
    assert shown.public_id in text
    assert world.case.public_id not in text
    for canary in (CANARY_TITLE, CANARY_SUMMARY):
        assert canary not in text


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("route", RECORD_ROUTES)
def test_a_disclosed_case_is_exported_to_everyone(viewer, route, viewer_client):
    world = world_build()
    disclose(world.case)
    response = viewer_client(viewer, world).get(_url(route, world.case.public_id))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert CANARY_SUMMARY not in response.content.decode()


@pytest.mark.parametrize("route", RECORD_ROUTES)
def test_exports_answer_get_only(route, client):
    case = minimal_case()
    assert client.post(_url(route, case.public_id)).status_code == 405


def test_the_feed_answers_get_only(client):
    assert client.post(reverse("advisories:feed")).status_code == 405


def test_the_json_is_sorted_and_indented_with_a_short_public_cache(client):
    case = rich_case()
    response = client.get(_url("advisories:osv", case.public_id))
    body = response.content.decode()
    assert body == json.dumps(json.loads(body), indent=2, sort_keys=True, ensure_ascii=False)
    assert "max-age=300" in response["Cache-Control"] and "public" in response["Cache-Control"]


def test_a_signed_in_person_still_gets_no_store(client, mfa_client, staff_reviewer):
    case = minimal_case()
    response = mfa_client(staff_reviewer).get(_url("advisories:csaf", case.public_id))
    assert "no-store" in response["Cache-Control"]


def test_the_feed_parses_and_has_the_published_advisories(client, settings):
    settings.SITE_URL = "https://haulout.example.org"
    rich = rich_case()
    plain = minimal_case(public_description="Plain <script>alert(1)</script> & friends.")
    AdvisoryRevisionFactory(
        vulnerability=plain, number=1, published_at=DISCLOSED_AT + timedelta(days=5)
    )
    response = client.get(reverse("advisories:feed"))
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    entries = {entry.title: entry for entry in feed.entries}
    assert list(entries) == [
        f"{plain.public_id}: Minimal walrus issue",  # its revision is the newest change
        f"{rich.public_id}: Heap overflow in the walrus parser",
    ]
    entry = entries[f"{rich.public_id}: Heap overflow in the walrus parser"]
    assert entry.link == f"https://haulout.example.org/advisories/{rich.public_id}/"
    assert entry.published == "2026-03-02T16:00:00+00:00"
    assert entry.updated == "2026-03-05T16:00:00+00:00"
    assert "overflows a heap buffer" in entry.summary
    # Sanitised as on the advisory page: text kept, markup that could run dropped.
    plain_summary = entries[f"{plain.public_id}: Minimal walrus issue"].summary
    assert "friends" in plain_summary and "<script" not in plain_summary
    assert PRIVATE_SUMMARY not in response.content.decode()


def test_the_osv_index_lists_ids_and_modified_times_newest_first(client):
    older = minimal_case()
    newer = rich_case()
    data = client.get(reverse("advisories:osv_index")).json()
    assert data["advisories"] == [
        {"id": newer.public_id, "modified": "2026-03-05T16:00:00Z"},
        {"id": older.public_id, "modified": "2026-03-02T16:00:00Z"},
    ]
    assert data["record"].endswith("/advisories/{id}/osv.json")
    assert data["next"] is None


def test_all_records_are_the_same_as_each_record(client):
    case = rich_case()
    data = client.get(reverse("advisories:osv_all")).json()
    single = client.get(_url("advisories:osv", case.public_id)).json()
    assert data["records"] == [single]


@pytest.mark.parametrize("route", ["advisories:osv", "advisories:csaf"])
def test_no_export_carries_private_text(route, client):
    case = rich_case()
    consenting_statuses(case)
    text = client.get(_url(route, case.public_id)).content.decode()
    assert PRIVATE_SUMMARY not in text and REPORTER_EMAIL not in text


def _many(count: int) -> None:
    for number in range(count):
        consenting_statuses(rich_case(), tag=f" {number}")


@pytest.mark.parametrize("count", [1, 6])
def test_the_osv_index_costs_two_queries_however_many(count, client, django_assert_max_num_queries):
    _many(count)
    with django_assert_max_num_queries(2):
        response = client.get(reverse("advisories:osv_index"))
    assert len(response.json()["advisories"]) == count


@pytest.mark.parametrize("count", [1, 6])
def test_the_feed_costs_the_same_queries_however_many(count, client, django_assert_max_num_queries):
    _many(count)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("advisories:feed"))
    assert len(feedparser.parse(response.content).entries) == count


@pytest.mark.parametrize("count", [1, 6])
def test_all_records_cost_the_same_queries_however_many(
    count, client, django_assert_max_num_queries
):
    _many(count)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("advisories:osv_all"))
    assert len(response.json()["records"]) == count


def test_the_advisory_pages_link_to_the_exports_and_the_feed(client):
    case = minimal_case()
    detail = client.get(case.get_advisory_url()).content.decode()
    feed = reverse("advisories:feed")
    alternate = '<link rel="alternate" type="application/atom+xml" title="Security advisories"'
    assert f'{alternate} href="{feed}">' in detail
    assert f'href="{_url("advisories:osv", case.public_id)}"' in detail
    assert f'href="{_url("advisories:csaf", case.public_id)}"' in detail
    listing = client.get(reverse("embargo:advisory_list")).content.decode()
    assert f'type="application/atom+xml" title="Security advisories" href="{feed}"' in listing
    assert f'href="{reverse("advisories:osv_index")}"' in listing
