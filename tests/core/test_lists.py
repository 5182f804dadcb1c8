"""core.lists and core.exports: the search, filters and pages every list uses, and the
CSV cells staff download."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db.models import Q
from django.test import RequestFactory

from core import lists
from core.exports import csv_cell, csv_response
from core.lists import Choice, ListFilter, choices_from, listing_build
from devsupport.list_rows import organizations_add
from distributors.models import Organization

pytestmark = pytest.mark.django_db

STATUS = ListFilter(
    name="status", label="Status", choices=choices_from("status", Organization.Status.choices)
)


def _listing(query: dict, **kwargs):
    request = RequestFactory().get("/", query)
    rows = Organization.objects.order_by("name")
    return listing_build(request, rows, search_fields=("name",), filters=(STATUS,), **kwargs)


def test_a_listing_takes_one_page_and_counts_every_row(monkeypatch):
    monkeypatch.setattr(lists, "PAGE_SIZE", 2)
    organizations_add(n=5)
    first, last = _listing({}), _listing({"page": "3"})
    assert len(first.page) == 2 and first.page.paginator.count == 5
    assert len(last.page) == 1 and last.page.number == 3


@pytest.mark.parametrize("page", ["abc", "-1", "0", "99999999999999999999999", "1.5", ""])
def test_a_bad_page_number_shows_a_page_instead_of_failing(monkeypatch, page):
    monkeypatch.setattr(lists, "PAGE_SIZE", 2)
    organizations_add(n=5)
    assert len(_listing({"page": page}).page) in (1, 2)


def test_the_search_and_a_whitelisted_filter_narrow_the_rows():
    members = organizations_add(n=3)
    organizations_add(n=2, status=Organization.Status.SUSPENDED)
    assert _listing({"q": members[1].name.upper()}).page.paginator.count == 1
    assert _listing({"status": "suspended"}).page.paginator.count == 2
    both = _listing({"status": "member", "q": members[1].name})
    assert [row.pk for row in both] == [members[1].pk]
    assert both.query_prefix == f"q={members[1].name.replace(' ', '+')}&status=member&"
    assert both.is_filtered


@pytest.mark.parametrize("value", ["bogus", "member' OR 1=1", "MEMBER", "status"])
def test_a_filter_value_outside_the_whitelist_is_ignored(value):
    organizations_add(n=2)
    organizations_add(n=1, status=Organization.Status.REMOVED)
    listing = _listing({"status": value})
    assert listing.page.paginator.count == 3
    assert listing.query_prefix == "" and not listing.is_filtered
    assert all(not option["selected"] for option in listing.fields[0].options)


def test_a_long_search_is_cut_and_a_list_without_search_fields_ignores_q():
    organizations_add(n=2)
    assert len(_listing({"q": "x" * 500}).q) == lists.SEARCH_MAX_LENGTH
    request = RequestFactory().get("/", {"q": "nothing matches this"})
    listing = listing_build(request, Organization.objects.order_by("name"))
    assert listing.page.paginator.count == 2 and listing.q == ""


def test_a_choice_can_be_any_condition():
    organizations_add(n=2)
    odd = ListFilter(
        name="odd",
        label="Odd",
        choices=(Choice(value="yes", label="Yes", condition=Q(name__endswith="1")),),
    )
    request = RequestFactory().get("/", {"odd": "yes"})
    listing = listing_build(request, Organization.objects.order_by("name"), filters=(odd,))
    assert listing.page.paginator.count == 1


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("plain@example.org", "plain@example.org"),
        (None, ""),
        (7, 7),
        (True, "yes"),
        (datetime(2026, 12, 4, 18, 0, tzinfo=UTC), "2026-12-04 18:00:00 UTC"),
    ],
)
def test_a_csv_cell_that_a_spreadsheet_would_run_is_quoted(value, cell):
    assert csv_cell(value) == cell


def test_a_csv_response_is_an_uncached_attachment():
    response = csv_response(filename="x.csv", header=("a", "b"), rows=[("=1", 2)])
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'
    assert response["Cache-Control"] == "no-store, private"
    assert response["Content-Type"].startswith("text/csv")
    assert b"".join(response.streaming_content).decode() == "a,b\r\n'=1,2\r\n"
