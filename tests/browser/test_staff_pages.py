"""The security team's pages, as the demo reviewer signed in with password and TOTP."""

from __future__ import annotations

import pytest

from distributors.demo import REVIEWER
from tests.browser.checks import tab_new
from tests.browser.conftest import sign_in

JOURNEY = "staff"


@pytest.fixture(scope="module")
def tab(browser_context):
    tab = tab_new(browser_context)
    sign_in(tab, REVIEWER, journey=JOURNEY)
    return tab


def _follow_first(tab, selector: str, *, path_part: str) -> None:
    link = tab.page.locator(selector).first
    href = link.get_attribute("href")
    assert href and path_part in href, f"no link to {path_part} on {tab.page.url}"
    tab.open(href)


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("home", "/"),
        ("applications queue", "/staff/applications/"),
        ("cases", "/staff/cases/"),
        ("reports", "/staff/reports/"),
        ("organisations", "/staff/organizations/"),
        ("leak reports", "/staff/leaks/"),
        ("vouch graph", "/staff/vouches/"),
        ("policy versions", "/staff/policy/"),
    ],
)
def test_a_staff_list_works_at_both_widths(tab, name, path):
    tab.open(path)
    tab.check(journey=JOURNEY, name=name)


def test_an_application_review_works_at_both_widths(tab):
    tab.open("/staff/applications/")
    _follow_first(
        tab, "main table a[href*='/staff/applications/']", path_part="/staff/applications/"
    )
    tab.check(journey=JOURNEY, name="application review")


def test_a_case_and_its_notice_work_at_both_widths(tab):
    tab.open("/staff/cases/")
    _follow_first(tab, "main table a[href*='/staff/cases/']", path_part="/staff/cases/")
    tab.check(journey=JOURNEY, name="case")
    _follow_first(tab, "main a[href*='/staff/notices/']", path_part="/staff/notices/")
    tab.check(journey=JOURNEY, name="notice")


@pytest.fixture(scope="module")
def open_case_url(tab):
    tab.open("/staff/cases/")
    href = tab.page.locator("main table a[href*='/staff/cases/']").first.get_attribute("href")
    assert href, "the case list links no case"
    return href


@pytest.mark.parametrize(
    ("name", "suffix"),
    [
        ("case edit", "edit/"),
        ("case disclosure date", "disclosure-date/"),
        ("case feedback", "feedback/"),
        ("case advisory preview", "advisory/"),
        ("new notice", "notices/new/"),
    ],
)
def test_a_page_of_the_open_case_works_at_both_widths(tab, open_case_url, name, suffix):
    tab.open(open_case_url + suffix)
    tab.check(journey=JOURNEY, name=name)


def test_the_new_case_form_works_at_both_widths(tab):
    tab.open("/staff/cases/new/")
    tab.check(journey=JOURNEY, name="new case")


def test_a_new_draft_shows_its_preview_with_the_varying_words_marked(tab, open_case_url):
    tab.open(open_case_url + "notices/new/")
    tab.page.fill("#id_subject", "Embargoed: a second look at the unpacker")
    tab.page.fill(
        "#id_body",
        "## Summary\n\nThe attacker does not need an account, and it is {{easy|simple}} to "
        "reach. Please don't share this before the disclosure time.\n",
    )
    with tab.page.expect_navigation():
        tab.page.locator("main form button[type=submit]").first.click()
    assert "/preview/" in tab.page.url
    assert tab.page.locator("pre.copy mark.variation.author").count() == 1
    assert tab.page.locator("pre.copy mark.variation.catalogue").count() >= 2
    tab.check(journey=JOURNEY, name="notice preview")
