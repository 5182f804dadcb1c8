"""An applicant organisation's admin (the demo's Harbour Linux, application submitted and
waiting for a vouch), who has no second factor yet."""

from __future__ import annotations

import pytest

from distributors.demo import SUBMITTED_ADMIN
from tests.browser.checks import tab_new
from tests.browser.conftest import sign_in

JOURNEY = "applicant"


@pytest.fixture(scope="module")
def tab(browser_context):
    tab = tab_new(browser_context)
    sign_in(tab, SUBMITTED_ADMIN, journey=JOURNEY, totp=False)
    return tab


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("home", "/"),
        ("checklist", "/me/"),
        ("embargo policy", "/policy/"),
        ("two-factor", "/accounts/2fa/"),
    ],
)
def test_an_applicant_page_works_at_both_widths(tab, name, path):
    tab.open(path)
    tab.check(journey=JOURNEY, name=name)


def test_the_applicants_application_works_at_both_widths(tab):
    tab.open("/")
    link = tab.page.locator("main a[href*='/applications/']").first
    href = link.get_attribute("href")
    assert href, "the applicant's home links no application"
    tab.open(href)
    tab.check(journey=JOURNEY, name="application")
    # Issue 20: the demo's Selkie BSD offers to vouch, and the applicant sees it where they ask.
    assert tab.page.get_by_role("region", name="Member organisations willing to vouch").count() == 1
