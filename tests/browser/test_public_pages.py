"""Public pages as anyone sees them, without an account."""

from __future__ import annotations

import pytest

from tests.browser.checks import tab_new

JOURNEY = "public"


@pytest.fixture(scope="module")
def tab(browser_context):
    return tab_new(browser_context)


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("home", "/"),
        ("advisories", "/advisories/"),
        ("report form", "/report/"),
        ("sign in", "/accounts/login/"),
        ("sign up", "/accounts/signup/"),
    ],
)
def test_a_public_page_works_at_both_widths(tab, name, path):
    tab.open(path)
    tab.check(journey=JOURNEY, name=name)


def test_a_published_advisory_works_at_both_widths(tab):
    tab.open("/advisories/")
    tab.page.locator("main table a").first.click()
    tab.page.wait_for_load_state()
    assert "/advisories/HAUL-" in tab.page.url
    tab.check(journey=JOURNEY, name="advisory")


def test_a_missing_page_is_a_styled_404_with_the_site_header(tab):
    tab.open("/no-such-page/", expect_status=404)
    assert tab.page.locator("header.site-header").count() == 1
    tab.check(journey=JOURNEY, name="not found")
