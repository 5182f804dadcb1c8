"""Fixtures of the browser tests: one real server and one Chromium for the whole run,
a fresh browser context (cookies) per journey, and signing in as a demo person with the
TOTP code an authenticator app would show."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import (
    format_hotp_value,
    hotp_value,
    yield_hotp_counters_from_time,
)
from playwright.sync_api import Page, sync_playwright

from distributors.demo import DEMO_TOTP_SECRET, DemoPerson
from tests.browser.checks import Tab, tab_new
from tests.browser.harness import chromium_or_skip, server_start

# Playwright must use the system's Chromium; it is never to fetch a browser of its own.
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
# Time a TOTP code has left when it is typed: enough for a slow request to reach the check.
TOTP_MARGIN_SECONDS = 10


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def haulout_server(tmp_path_factory):
    chromium_or_skip()  # before the slow start: no browser, nothing to start it for
    # The gpg homes get a short path of their own: under pytest's temporary folders (with
    # -n, one per xdist worker) gpg-agent's socket path would be too long, and the demo
    # notice's copies could not be encrypted.
    gpg_root = Path(tempfile.mkdtemp(prefix="hb", dir="/tmp"))
    server = server_start(tmp_path_factory.mktemp("browser-server"), gpg_root=gpg_root)
    yield server
    server.stop()
    shutil.rmtree(gpg_root, ignore_errors=True)


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    """A server of the module's own, for a journey that changes what it finds (approves
    an application, sends a notice): the shared server's demo data stays as the
    read-only journeys expect it, whatever order the modules run in."""
    chromium_or_skip()
    gpg_root = Path(tempfile.mkdtemp(prefix="hj", dir="/tmp"))
    server = server_start(tmp_path_factory.mktemp("journey-server"), gpg_root=gpg_root)
    yield server
    server.stop()
    shutil.rmtree(gpg_root, ignore_errors=True)


def context_new(chromium, server):
    """A fresh browser (its own cookies) pointed at `server`: one per person in a journey
    that has two people, such as an applicant and the reviewer."""
    return chromium.new_context(base_url=server.url)


@contextmanager
def person_tab(chromium, server, person: DemoPerson | None = None, *, journey: str):
    """A tab in a fresh browser of its own for one person of a journey, signed in through
    the real forms when `person` is given; the browser is closed afterwards."""
    context = context_new(chromium, server)
    try:
        tab = tab_new(context)
        if person is not None:
            sign_in(tab, person, journey=journey)
        yield tab
    finally:
        context.close()


@pytest.fixture(scope="session")
def chromium():
    executable = chromium_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def browser_context(chromium, haulout_server):
    context = chromium.new_context(base_url=haulout_server.url)
    yield context
    context.close()


def totp_now(secret: str = DEMO_TOTP_SECRET) -> str:
    """The current code, computed as allauth checks it (the `demo_totp` command's way)."""
    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))


def totp_fresh(page: Page, secret: str = DEMO_TOTP_SECRET) -> str:
    """The current code, once its period has TOTP_MARGIN_SECONDS left to run.

    allauth accepts only the current period's code (MFA_TOTP_TOLERANCE 0), so a code
    computed in a period's last second could be stale by the time the server checks it.
    The wait is for a condition, in the browser on this machine's clock: at most the
    margin, and none at all most of the time."""
    period = mfa_settings.TOTP_PERIOD
    page.wait_for_function(
        f"() => (Date.now() / 1000) % {period} < {period - TOTP_MARGIN_SECONDS}",
        polling=100,
        timeout=(TOTP_MARGIN_SECONDS + 5) * 1000,
    )
    return totp_now(secret)


def sign_in(tab: Tab, person: DemoPerson, *, journey: str, totp: bool = True) -> None:
    """Signs in through the real forms: password, then (for a person with two-factor
    authentication) the TOTP code; the code page is checked on the way like any other."""
    page = tab.page
    tab.open("/accounts/login/")
    page.fill("input[name=login]", person.email)
    page.fill("input[name=password]", person.password)
    page.locator("main form button[type=submit]").first.click()
    if totp:
        page.wait_for_url("**/accounts/2fa/authenticate/**")
        tab.check(journey=journey, name="two-factor code")
        for _ in range(2):
            page.fill("input[name=code]", totp_fresh(page))
            with page.expect_navigation():
                page.locator("main form button[type=submit]").first.click()
            if "/accounts/2fa/authenticate/" not in page.url:
                break
            # allauth accepts only the current 30-second window (MFA_TOTP_TOLERANCE 0); a
            # code is typed with time to spare, and should a very busy machine still miss
            # the window, the next code is typed once.
    page.wait_for_load_state()
    assert "/accounts/" not in page.url, f"still signing in at {page.url}"
