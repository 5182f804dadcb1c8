"""A case's timeline from report to disclosure: the pure builder and the staff page."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from embargo.pictures import CaseTimelineFacts, NoticeSent, case_timeline_items, case_timeline_svg
from embargo.selectors import case_timeline_facts
from tests.embargo.views_world import CANARY_TITLE, world_build
from tests.factories import DeliveryFactory, NoticeFactory, VulnerabilityFactory

REPORTED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _facts(**extra) -> CaseTimelineFacts:
    fields = {
        "reported_at": REPORTED,
        "now": REPORTED + timedelta(days=20),
        "first_response_at": REPORTED + timedelta(days=1),
        "notices": [NoticeSent(number=7, at=REPORTED + timedelta(days=3), copies=4)],
        "acknowledgements_by_day": [(date(2026, 3, 5), 2), (date(2026, 3, 7), 1)],
        "disclosure_at": REPORTED + timedelta(days=14),
    }
    fields.update(extra)
    return CaseTimelineFacts(**fields)


def test_the_timeline_is_an_image_with_a_title_and_a_description():
    svg = str(case_timeline_svg(_facts()))
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" role="img"')
    assert '<title id="case-timeline-title">' in svg and '<desc id="case-timeline-desc">' in svg
    assert "1 notices sent, 3 copies acknowledged" in svg
    assert "style=" not in svg and "<script" not in svg


def test_the_timeline_marks_each_event_and_the_planned_disclosure():
    svg = str(case_timeline_svg(_facts()))
    for words in ("Report", "First response", "Notice #7 · 4", "Disclosure (planned)"):
        assert f">{words}</text>" in svg
    assert 'class="event-planned"' in svg
    assert "Acknowledged: 3 of 4 copies sent" in svg


def test_a_disclosed_case_shows_the_actual_disclosure_not_the_plan():
    facts = _facts(disclosed_at=REPORTED + timedelta(days=13))
    svg = str(case_timeline_svg(facts))
    assert ">Disclosed</text>" in svg and "planned" not in svg
    assert case_timeline_items(facts)[-1][1] == "Disclosed"


def test_the_list_gives_acknowledgements_as_a_running_total_in_time_order():
    words = [words for _at, words in case_timeline_items(_facts())]
    assert words == [
        "Report received",
        "First response to the reporter",
        "Notice #7 sent: 4 copies",
        "2 acknowledged on 2026-03-05 (2 in all)",
        "1 acknowledged on 2026-03-07 (3 in all)",
        "Disclosure planned",
    ]


def test_a_fresh_case_draws_only_the_report_without_failing():
    facts = CaseTimelineFacts(reported_at=REPORTED, now=REPORTED)
    svg = str(case_timeline_svg(facts))
    assert ">Report</text>" in svg and "acks" not in svg
    assert case_timeline_items(facts) == [(REPORTED, "Report received")]


@pytest.mark.django_db
def test_the_selector_counts_sent_copies_and_acknowledgements_by_day():
    case = VulnerabilityFactory()
    notice = NoticeFactory(vulnerability=case, state="sent", send_started_at=timezone.now())
    day = datetime(2026, 3, 5, 10, tzinfo=UTC)
    DeliveryFactory.create_batch(2, notice=notice, acknowledged_at=day)
    DeliveryFactory(notice=notice, acknowledged_at=day + timedelta(days=1))
    DeliveryFactory(notice=notice, state="withheld", sent_at=None)
    NoticeFactory(vulnerability=case)  # a draft is not on the timeline
    facts = case_timeline_facts(vulnerability=case, now=timezone.now())
    assert [(n.number, n.copies) for n in facts.notices] == [(notice.pk, 3)]
    assert facts.acknowledgements_by_day == [(date(2026, 3, 5), 2), (date(2026, 3, 6), 1)]


@pytest.mark.django_db
def test_staff_see_the_timeline_on_the_case_page(mfa_client, staff_reviewer):
    case = VulnerabilityFactory()
    content = mfa_client(staff_reviewer).get(reverse("embargo:case_detail", args=[case.pk]))
    page = content.content.decode()
    assert content.status_code == 200
    assert '<svg xmlns="http://www.w3.org/2000/svg" role="img"' in page
    assert "Report received" in page


@pytest.mark.django_db
def test_anonymous_visitors_and_members_never_get_the_timeline(client, mfa_client):
    world = world_build()
    url = reverse("embargo:case_detail", args=[world.case.pk])
    assert client.get(url).status_code == 302
    response = mfa_client(world.owner).get(url)
    assert response.status_code == 404
    assert "<svg" not in response.content.decode() and CANARY_TITLE not in response.content.decode()


@pytest.mark.django_db
def test_the_case_page_query_count_does_not_grow_with_acknowledgements(
    mfa_client, staff_reviewer, django_assert_max_num_queries
):
    http = mfa_client(staff_reviewer)
    case = VulnerabilityFactory()
    notice = NoticeFactory(vulnerability=case, state="sent", send_started_at=timezone.now())
    start = timezone.now() - timedelta(days=30)
    DeliveryFactory(notice=notice, acknowledged_at=start)
    url = reverse("embargo:case_detail", args=[case.pk])
    with django_assert_max_num_queries(60) as few:
        assert http.get(url).status_code == 200
    for offset in range(1, 25):
        DeliveryFactory(notice=notice, acknowledged_at=start + timedelta(days=offset))
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = http.get(url).content.decode()
    assert "25 in all" in page


def test_without_acknowledgements_the_timeline_is_shorter():
    assert 'viewBox="0 0 960 340"' in str(case_timeline_svg(_facts()))
    short = str(case_timeline_svg(_facts(acknowledgements_by_day=[])))
    assert 'viewBox="0 0 960 190"' in short
