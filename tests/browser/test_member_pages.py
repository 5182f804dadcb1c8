"""A member organisation's need-to-know person (the demo's Walrus Linux admin, with TOTP,
the policy accepted and a verified key), who was sent the demo notice: their checklist,
notices, acknowledging one, their team and their keys."""

from __future__ import annotations

import pytest

from distributors.demo import FOUNDER
from tests.browser.checks import HEIGHT, WIDTHS, tab_new
from tests.browser.conftest import sign_in

JOURNEY = "member"
TEAM_TABLE = "People in this team and whether they can receive notices"


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


def test_the_team_is_one_card_per_person_on_a_phone(tab):
    """At phone width the Actions cell (role boxes, Save roles) sits inside the window
    under its label instead of in a column scrolled off to the right; at desktop width
    it is still a table with its column headers."""
    page = tab.page
    tab.open("/organizations/walrus-linux/team/")
    team = page.get_by_role("region", name=TEAM_TABLE)
    assert team.get_by_role("columnheader", name="Actions").is_visible()
    page.set_viewport_size({"width": WIDTHS["phone"], "height": HEIGHT})
    try:
        save = team.get_by_role("button", name=f"Save roles of {FOUNDER.email}")
        box = save.bounding_box()
        assert box is not None, "no Save roles button"
        assert box["x"] + box["width"] <= WIDTHS["phone"], f"Save roles ends at {box}"
        actions = team.locator("td[data-label=Actions]")
        label = actions.evaluate("cell => getComputedStyle(cell, '::before').content")
        assert label == '"Actions"', f"the Actions cell shows {label} as its label"
    finally:
        page.set_viewport_size({"width": WIDTHS["desktop"], "height": HEIGHT})
