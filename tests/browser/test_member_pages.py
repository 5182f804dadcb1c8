"""A member organisation's need-to-know person (the demo's Walrus Linux admin, with TOTP,
the policy accepted and a verified key), who was sent the demo notice: their checklist,
notices, acknowledging one, their team and their keys."""

from __future__ import annotations

import pytest

from distributors.demo import FOUNDER
from tests.browser.checks import tab_new
from tests.browser.conftest import sign_in

JOURNEY = "member"


@pytest.fixture(scope="module")
def tab(browser_context):
    tab = tab_new(browser_context)
    sign_in(tab, FOUNDER, journey=JOURNEY)
    return tab


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("home", "/"),
        ("checklist", "/me/"),
        ("notices", "/notices/"),
        ("team", "/organizations/walrus-linux/team/"),
        ("keys", "/me/keys/"),
        ("vouch requests", "/vouches/"),
        ("embargo policy", "/policy/"),
        ("feedback", "/notices/feedback/"),
        ("leak reports", "/leaks/"),
        ("leak form", "/leaks/new/"),
        ("disclosure dates", "/notices/dates/"),
    ],
)
def test_a_member_page_works_at_both_widths(tab, name, path):
    tab.open(path)
    tab.check(journey=JOURNEY, name=name)


def test_a_person_acknowledges_their_notice(tab):
    tab.open("/notices/")
    tab.page.locator("main a.button", has_text="Acknowledge").first.click()
    tab.page.wait_for_load_state()
    assert "/notices/ack/" in tab.page.url
    tab.check(journey=JOURNEY, name="acknowledge")
    tab.page.locator("main form button[type=submit]").click()
    tab.page.wait_for_load_state()
    assert tab.page.locator("main dl.facts").inner_text().count("Not yet") == 0
    tab.check(journey=JOURNEY, name="acknowledged")


def test_the_feedback_page_of_a_case_works_at_both_widths(tab):
    tab.open("/notices/feedback/")
    href = tab.page.locator("main a[href*='/notices/feedback/']").first.get_attribute("href")
    assert href, "the feedback list links no case"
    tab.open(href)
    tab.check(journey=JOURNEY, name="case feedback")
