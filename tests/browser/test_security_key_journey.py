"""A person with no second factor adds a security key, renames it, signs in again with
their password and the key (no authenticator app at all), and removes the key. The key
is Chromium's virtual authenticator, driven through the DevTools protocol: it answers
every WebAuthn request as a real USB key would, with no touch needed.

WebAuthn runs only in a secure context, and its relying-party id is a domain, never an
IP address; python-fido2 (allauth's check of the key's answer) takes plain http only
from localhost. So this journey opens the server by name, http://localhost:<port>, and
needs no "insecure origin" setting anywhere."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest
from playwright.sync_api import CDPSession, expect

from distributors.demo import DRAFT_ADMIN
from tests.browser.checks import Tab, tab_new
from tests.browser.conftest import context_new, sign_in

JOURNEY = "security key"
VIRTUAL_KEY = {
    "protocol": "ctap2",
    "transport": "usb",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


@dataclass
class VirtualKey:
    """Chromium's virtual authenticator on one page, like a USB key that is always
    plugged in and always touched."""

    cdp: CDPSession
    authenticator_id: str

    def credentials(self) -> list[dict]:
        found = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.authenticator_id})
        return found["credentials"]


@pytest.fixture(scope="module")
def by_name(own_server):
    return dataclasses.replace(own_server, url=own_server.url.replace("127.0.0.1", "localhost"))


@pytest.fixture
def context(chromium, by_name):
    context = context_new(chromium, by_name)
    yield context
    context.close()


def key_plugged_in(context, tab: Tab) -> VirtualKey:
    cdp = context.new_cdp_session(tab.page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_KEY})
    return VirtualKey(cdp=cdp, authenticator_id=added["authenticatorId"])


def test_a_person_adds_a_security_key_signs_in_with_it_and_removes_it(context):
    tab = tab_new(context)
    key = key_plugged_in(context, tab)
    page = tab.page
    sign_in(tab, DRAFT_ADMIN, journey=JOURNEY, totp=False)
    tab.check(journey=JOURNEY, name="home before")

    tab.open("/accounts/2fa/")
    tab.check(journey=JOURNEY, name="two-factor without a key")
    page.locator("main a", has_text="Add a security key").click()
    page.wait_for_url("**/accounts/2fa/webauthn/add/")
    tab.check(journey=JOURNEY, name="add a security key")
    # A refused or cancelled request is said on the page (our webauthn-errors.js), not
    # only logged to the console: the event allauth's script sends when the key fails.
    page.evaluate(
        """() => document.dispatchEvent(new CustomEvent('allauth.error', {
             detail: {exception: new DOMException('cancelled', 'NotAllowedError')},
             cancelable: true}))"""
    )
    expect(page.get_by_role("alert")).to_contain_text("did not answer")
    tab.check(journey=JOURNEY, name="add a security key, refused")
    page.fill("main input[name=name]", "Desk key")
    page.locator("#mfa_webauthn_add").click()
    # The first second factor comes with recovery codes, shown once they exist.
    page.wait_for_url("**/accounts/2fa/recovery-codes/")
    tab.check(journey=JOURNEY, name="recovery codes")
    assert len(key.credentials()) == 1

    tab.open("/accounts/2fa/")
    expect(page.locator("main table")).to_contain_text("Desk key")
    tab.check(journey=JOURNEY, name="two-factor with a key")
    # Renamed from the overview; allauth's own list of keys only sends people back there.
    page.locator("main table a", has_text="Rename").click()
    page.wait_for_url("**/accounts/2fa/webauthn/keys/*/edit/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Rename the security key “Desk key”")
    tab.check(journey=JOURNEY, name="rename the key")
    page.fill("main input[name=name]", "Desk key, blue")
    page.locator("main form button[type=submit]", has_text="Save the name").click()
    page.wait_for_url("**/accounts/2fa/")
    expect(page.locator("main table")).to_contain_text("Desk key, blue")
    tab.open("/accounts/2fa/webauthn/")
    page.wait_for_url("**/accounts/2fa/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-factor authentication")
    # The checklist counts the key as two-factor authentication.
    tab.open("/me/")
    row = page.locator("main tr", has_text="Two-factor authentication")
    expect(row.locator(".badge")).to_have_text("Done")
    tab.check(journey=JOURNEY, name="checklist")

    page.locator("header button", has_text="Sign out").click()
    expect(page.locator("header a", has_text="Sign in")).to_be_visible()

    tab.open("/accounts/login/")
    page.fill("input[name=login]", DRAFT_ADMIN.email)
    page.fill("input[name=password]", DRAFT_ADMIN.password)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url("**/accounts/2fa/authenticate/**")
    tab.check(journey=JOURNEY, name="second factor")
    page.locator("#mfa_webauthn_authenticate").click()
    page.wait_for_url(lambda url: "/accounts/" not in url)
    expect(page.locator("header button", has_text="Sign out")).to_be_visible()
    tab.check(journey=JOURNEY, name="home after")
    # The key answered the sign-in: its counter moved past the registration's.
    assert key.credentials()[0]["signCount"] >= 1

    tab.open("/accounts/2fa/")
    page.locator("main table a", has_text="Remove").click()
    page.wait_for_url("**/accounts/2fa/webauthn/keys/*/remove/")
    tab.check(journey=JOURNEY, name="remove the key")
    page.locator("main form button[type=submit]", has_text="Remove the key").click()
    page.wait_for_url("**/accounts/2fa/")
    expect(page.locator("main")).to_contain_text("No security key is added")
    tab.check(journey=JOURNEY, name="two-factor after removing the key")
