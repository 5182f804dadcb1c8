"""Issue 20's journey "invitation and key proof", end to end in a real browser.

The demo's Walrus Linux admin invites a new need-to-know person by email. The invitee
opens the mailed link, signs up with the invited address (filled in, and confirmed by the
link itself), sets up an authenticator app, keeps the recovery codes, accepts the embargo
policy, uploads a fresh PGP key and proves they hold it by decrypting the challenge. Their
checklist then shows them eligible for notices, and so does the admin's team page.

Two people, two browser contexts, one server of the module's own (the journey adds a
person to the demo's team), and a Celery worker for that server, which sends the mail.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import gnupg
import pytest
from playwright.sync_api import expect

from distributors.demo import FOUNDER
from tests.browser.conftest import person_tab, totp_fresh
from tests.browser.harness import worker_start
from tests.browser.mail_links import mail_link_wait, mails_to

JOURNEY = "invitation"
TEAM = "/organizations/walrus-linux/team/"
INVITEE = "kit.responder@walrus-linux.example.org"
INVITEE_PASSWORD = "a-long-passphrase-for-kit-42"
# The code line of a possession challenge (distributors/services/keys.py).
CHALLENGE_CODE = re.compile(r"^\s+([a-z0-9-]{10,})\s*$", re.MULTILINE)


@pytest.fixture(scope="module")
def worker(own_server):
    # The invitation is mailed by a Celery task: the journey runs the real worker.
    worker = worker_start(own_server)
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def gpg_home():
    """The invitee's own gpg, as on their laptop. A short path: gpg-agent's socket lives
    in the home, and a socket path has a length limit."""
    home = Path(tempfile.mkdtemp(prefix="gk", dir="/tmp"))
    yield gnupg.GPG(gnupghome=str(home))
    subprocess.call(
        ["gpgconf", "--homedir", str(home), "--kill", "all"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    shutil.rmtree(home, ignore_errors=True)


def key_pair_new(gpg: gnupg.GPG) -> tuple[str, str]:
    """A new ed25519/cv25519 key pair for the invitee, without a passphrase: the
    fingerprint and the ASCII-armored public key."""
    result = gpg.gen_key(
        "Key-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\n"
        "Subkey-Type: ecdh\nSubkey-Curve: cv25519\nSubkey-Usage: encrypt\n"
        f"Name-Real: Kit Responder\nName-Email: {INVITEE}\nExpire-Date: 2y\n"
        "%no-protection\n%commit\n"
    )
    fingerprint = (result.fingerprint or "").upper()
    assert fingerprint, f"gpg made no key: {result.stderr}"
    public = gpg.export_keys(fingerprint, minimal=True)
    assert "PUBLIC KEY BLOCK" in public
    return fingerprint, public


@pytest.fixture(scope="module")
def admin(chromium, own_server):
    with person_tab(chromium, own_server, FOUNDER, journey=JOURNEY) as tab:
        tab.check(journey=JOURNEY, name="home, signed in")  # where signing in lands
        yield tab


@pytest.fixture(scope="module")
def invitee(chromium, own_server):
    with person_tab(chromium, own_server, journey=JOURNEY) as tab:
        yield tab


def team_row(tab, email: str):
    return tab.page.locator("main table tbody tr").filter(has_text=email)


def test_an_invited_person_signs_up_proves_their_key_and_becomes_eligible(
    admin, invitee, own_server, worker, gpg_home
):
    # 1. The admin invites a need-to-know person from the team page.
    page = admin.page
    admin.open(TEAM)
    admin.check(journey=JOURNEY, name="team")
    expect(team_row(admin, INVITEE)).to_have_count(0)
    invite = page.get_by_role("form", name="Invite a person")
    invite.get_by_label("Email address").fill(INVITEE)
    expect(invite.get_by_label("Need-to-know")).to_be_checked()
    expect(invite.get_by_label("Admin")).not_to_be_checked()
    invite.get_by_role("button", name="Send invitation").click()
    expect(page.locator("main .message.success")).to_contain_text(f"Invitation sent to {INVITEE}")
    pending = page.get_by_role("region", name="Invitations not yet used")
    expect(pending.locator("tr", has_text=INVITEE)).to_contain_text("Need-to-know")
    admin.check(journey=JOURNEY, name="team, invitation sent")

    # 2. The invitee opens the link from the mail and signs up from it.
    link = mail_link_wait(own_server.var_dir, INVITEE, "/invitations/", worker=worker)
    page = invitee.page
    invitee.open(link)
    expect(page.locator("main dl.facts")).to_contain_text(INVITEE)
    invitee.check(journey=JOURNEY, name="invitation")
    page.locator("main").get_by_role("link", name="Create an account").click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/"))
    expect(page.get_by_role("status")).to_contain_text("to join the team of Walrus Linux")
    expect(page.get_by_label("Email")).to_have_value(INVITEE)
    invitee.check(journey=JOURNEY, name="sign up")
    page.get_by_label(re.compile(r"^Password:?$")).fill(INVITEE_PASSWORD)
    page.get_by_label(re.compile(r"^Password \(again\):?$")).fill(INVITEE_PASSWORD)
    page.locator("main form button[type=submit]").click()
    # The link proved the address: straight back to the invitation, signed in.
    expect(page).to_have_url(link)
    expect(page.get_by_role("button", name="Accept and join the team")).to_be_visible()
    invitee.check(journey=JOURNEY, name="invitation, signed in")
    page.get_by_role("button", name="Accept and join the team").click()
    expect(page).to_have_url(re.compile(r"/me/$"))
    expect(page.locator("main .message.success")).to_contain_text("You joined the team")
    invitee.check(journey=JOURNEY, name="checklist, new")

    # 3. Two-factor authentication, with a secret that survives a reload.
    page.get_by_role("link", name="Set up an authenticator app").click()
    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/"))
    secret = page.locator("#authenticator_secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    page.reload()
    expect(page.locator("#authenticator_secret")).to_have_value(secret)
    invitee.check(journey=JOURNEY, name="authenticator app")
    page.get_by_label("Authenticator code").fill(totp_fresh(page, secret))
    page.get_by_role("button", name="Activate").click()
    expect(page).to_have_url(re.compile(r"/accounts/2fa/recovery-codes/"))
    codes = page.locator("#recovery_codes").input_value().split()
    assert len(codes) >= 5, codes
    next_steps = page.get_by_role("navigation", name="Next steps")
    expect(next_steps).to_be_visible()
    invitee.check(journey=JOURNEY, name="recovery codes")
    next_steps.get_by_role("link", name="Continue to your checklist").click()
    expect(page).to_have_url(re.compile(r"/me/$"))
    checklist = page.get_by_role("region", name="Your personal requirements")
    expect(checklist.locator("tr", has_text="Two-factor authentication")).to_contain_text("Done")
    invitee.check(journey=JOURNEY, name="checklist, two-factor done")

    # 4. The embargo policy, accepted personally.
    page.get_by_role("link", name="Read and accept the policy").click()
    expect(page).to_have_url(re.compile(r"/policy/\?next=/me/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Embargo policy")
    invitee.check(journey=JOURNEY, name="embargo policy")
    page.get_by_role("button", name=re.compile("I accept version")).click()
    # Back where the checklist sent them (?next=), the item done.
    expect(page).to_have_url(re.compile(r"/me/$"))
    expect(page.locator("main .message.success")).to_contain_text("You accepted version")
    expect(checklist.locator("tr", has_text="embargo policy")).to_contain_text("Done")
    invitee.check(journey=JOURNEY, name="checklist, policy accepted")

    # 5. A fresh PGP key, uploaded and proved by decrypting the challenge.
    fingerprint, public = key_pair_new(gpg_home)
    page.get_by_role("link", name="Upload your public key").click()
    expect(page).to_have_url(re.compile(r"/me/keys/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your PGP keys")
    invitee.check(journey=JOURNEY, name="keys")
    page.get_by_label("Paste your ASCII-armored public key").fill(public)
    page.get_by_role("button", name="Upload key").click()
    expect(page).to_have_url(re.compile(r"/me/keys/\d+/prove/$"))
    expect(page.locator("main dl.facts")).to_contain_text(fingerprint)
    invitee.check(journey=JOURNEY, name="prove key")
    challenge = page.locator("main pre").inner_text()
    decrypted = gpg_home.decrypt(challenge)
    assert decrypted.ok, decrypted.status
    code = CHALLENGE_CODE.search(str(decrypted))
    assert code, "the challenge holds no code"
    page.get_by_label("Code from the decrypted message").fill(code.group(1))
    page.get_by_role("button", name="Verify key").click()

    # 6. Back on the checklist: every item done, eligible, and no second confirmation
    # mail was ever sent.
    expect(page).to_have_url(re.compile(r"/me/$"))
    expect(page.locator("main .message.success")).to_contain_text("Key verified")
    expect(checklist.locator("tr", has_text="Verified PGP key")).to_contain_text("Done")
    team = page.locator("main section.card", has_text="Walrus Linux")
    expect(team.locator("h3")).to_contain_text("Eligible")
    expect(team).not_to_contain_text("Not eligible")
    invitee.check(journey=JOURNEY, name="checklist, eligible")
    # allauth mails a confirmation from within the sign-up request (no task), so one
    # would be in the folder by now: there is only the invitation.
    subjects = [str(message["Subject"]) for message in mails_to(own_server.var_dir, INVITEE)]
    assert len(subjects) == 1, subjects
    assert subjects[0].startswith("Walrus Linux invites you to its team"), subjects
    invitee.open("/accounts/email/")
    expect(page.locator("main")).to_contain_text(INVITEE)
    expect(page.locator("main")).to_contain_text("Verified")
    expect(page.locator("main")).not_to_contain_text("Unverified")
    invitee.check(journey=JOURNEY, name="email addresses")

    # 7. The admin's team page shows the new person as eligible.
    admin.open(TEAM)
    row = team_row(admin, INVITEE)
    expect(row).to_contain_text("Need-to-know")
    expect(row.locator(".badge.eligible")).to_have_text("Eligible")
    # The row's buttons say whom they are for, to a screen reader too.
    expect(row.get_by_role("button", name=f"Remove {INVITEE}")).to_be_visible()
    expect(row.get_by_role("button", name=f"Save roles of {INVITEE}")).to_be_visible()
    expect(admin.page.get_by_role("region", name="Invitations not yet used")).not_to_contain_text(
        INVITEE
    )
    admin.check(journey=JOURNEY, name="team, new person eligible")
