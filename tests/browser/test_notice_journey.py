"""The journey "send and acknowledge", end to end with a real Celery worker: the reviewer
writes a notice on the demo's open case, previews it (the varying words marked, how many
people it tells apart) and sends it; the notice page follows the copies on its own until
every one is settled; each copy is in the mail folder, PGP/MIME encrypted, with none of
the notice in clear; the founder finds it under her notices, reads her copy (decrypted
with her demo key: the portal never shows a notice's text) and acknowledges it; the
reviewer's page counts the acknowledgement.

The copies go out through the worker the Procfile starts (`dev.py run`), on the server's
own filesystem broker. It is started only once the notice is sent, so the page is seen
with copies still waiting, and the settling that follows is the page's own doing."""

from __future__ import annotations

import re
import subprocess
import sys
from email.message import EmailMessage

import pytest
from playwright.sync_api import expect

from distributors.demo import FOUNDER, REVIEWER
from embargo.demo import DEMO_CASE_TITLE, DEMO_RECIPIENTS, mail_messages
from tests.browser.conftest import person_tab
from tests.browser.harness import BASE_DIR, worker_start

JOURNEY = "notice"
# Generous: the machine is shared, and each copy takes several gpg runs.
SETTLE_MS = 90_000
# Words no catalogue varies, one per paragraph, to look for the body in every mail file.
MARKERS = ("quokka-lantern-4417", "quokka-harbour-5823", "quokka-meadow-6931")
UNACKNOWLEDGED = "Sent, not acknowledged yet"  # the heading of sent copies' count
OUTER_SUBJECT = "Embargoed notice from the security team (journey)"
SUBJECT = f"Embargoed: heap overflow in the delta decoder ({MARKERS[0]})"
BODY = f"""\
## Summary

The delta decoder in `pkg fetch` trusts the length field of a patch, and it is
{{{{easy|simple}}}} to overflow its buffer with a crafted mirror ({MARKERS[0]}).

## Affected versions

Every release from 2.5.0 up to 2.7.0 is affected; the attacker does not need an account
on the mirror ({MARKERS[1]}).

## What to do

Please don't ship the fix before the disclosure time, and {{{{build|prepare}}}} your
packages now so they are ready ({MARKERS[2]}).
"""


@pytest.fixture(scope="module")
def own_worker(own_server):
    worker = worker_start(own_server)
    yield worker
    left = worker.stop()
    assert left == [], f"gpg-agents left behind by the stopped worker: {left}"


@pytest.fixture(scope="module")
def reviewer(chromium, own_server):
    with person_tab(chromium, own_server, REVIEWER, journey=JOURNEY) as tab:
        yield tab


@pytest.fixture(scope="module")
def founder(chromium, own_server):
    with person_tab(chromium, own_server, FOUNDER, journey=JOURNEY) as tab:
        yield tab


def _totals(page) -> dict[str, int]:
    """The "Copies by status" table as {heading: count}."""
    table = page.locator("table", has=page.locator("caption", has_text="Copies by status"))
    heads = table.locator("thead th").all_inner_texts()
    counts = table.locator("tbody td").all_inner_texts()
    return {head.strip(): int(count) for head, count in zip(heads, counts, strict=True)}


def _copies(page) -> dict[str, tuple[str, str]]:
    """The table of copies as {address: (reference code, status shown)}."""
    rows = page.locator("table", has=page.locator("caption", has_text="Copies, one per person"))
    found = {}
    for row in rows.locator("tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        found[cells[1].strip()] = (cells[2].strip(), cells[3].strip())
    return found


def _clear_parts(message: EmailMessage):
    """Every header value and every part's decoded payload: what anyone on the way reads
    without a key (the encrypted part's payload is its ASCII armour)."""
    for name, value in message.items():
        yield f"{name}: {value}"
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        yield payload.decode("utf-8", "replace")


def _is_pgp_mime(message: EmailMessage) -> bool:
    parts = message.get_payload()
    return (
        message.get_content_type() == "multipart/encrypted"
        and message.get_param("protocol") == "application/pgp-encrypted"
        and isinstance(parts, list)
        and len(parts) == 2
        and parts[0].get_content_type() == "application/pgp-encrypted"
        and "-----BEGIN PGP MESSAGE-----" in parts[1].get_payload(decode=True).decode("ascii")
    )


def _write_and_preview(tab) -> None:
    page = tab.page
    tab.open("/staff/cases/")
    tab.check(journey=JOURNEY, name="cases")
    row = page.locator("main table tbody tr", has_text=DEMO_CASE_TITLE)
    row.get_by_role("link").first.click()
    page.wait_for_url("**/staff/cases/*/")
    tab.check(journey=JOURNEY, name="case")
    page.get_by_role("link", name="Write a notice").click()
    page.wait_for_url("**/notices/new/")
    tab.check(journey=JOURNEY, name="new notice")
    page.fill("#id_outer_subject", OUTER_SUBJECT)
    page.fill("#id_subject", SUBJECT)
    page.fill("#id_body", BODY)
    with page.expect_navigation():
        page.get_by_role("button", name="Save the draft and preview").click()
    assert "/preview/" in page.url, f"the draft was not saved: {page.url}"
    tab.check(journey=JOURNEY, name="notice preview")


def test_a_notice_is_sent_settles_on_its_own_and_is_acknowledged(
    request, reviewer, founder, own_server
):
    page = reviewer.page
    _write_and_preview(reviewer)

    # The preview: the author's two marked wordings and the ones Haulout found (it is,
    # does not, don't), and how many people the wording must tell apart.
    people = len(DEMO_RECIPIENTS)
    assert page.locator("pre.copy mark.variation.author").count() == 2
    assert page.locator("pre.copy mark.variation.catalogue").count() >= 2
    expect(page.get_by_role("heading", name=f"Recipients ({people})")).to_be_visible()
    expect(page.locator("main")).to_contain_text(f"Naming one of {people} people needs")
    for person in DEMO_RECIPIENTS:
        expect(page.locator("main table").first).to_contain_text(person.email)

    with page.expect_navigation():
        page.get_by_role("button", name=f"Send to {people} recipients").click()
    notice_url = page.url
    assert re.search(r"/staff/notices/\d+/$", notice_url), notice_url
    notice_number = notice_url.rstrip("/").rsplit("/", 1)[1]
    progress = page.locator("#delivery-progress")
    # No worker yet: every copy waits, and the page says it follows them.
    expect(progress).to_contain_text(f"{people} of {people} copies still going out")
    reviewer.check(journey=JOURNEY, name="notice sending")

    request.getfixturevalue("own_worker")
    expect(progress).to_contain_text(
        f"Every copy is settled: {people} copies in all.", timeout=SETTLE_MS
    )
    assert page.url == notice_url
    assert _totals(page)[UNACKNOWLEDGED] == people
    reviewer.check(journey=JOURNEY, name="notice settled")
    copies = _copies(page)
    assert {person.email for person in DEMO_RECIPIENTS} <= set(copies)
    codes = [code for code, _ in copies.values()]

    # In the mail folder: one PGP/MIME copy per person, and nowhere a word of the notice,
    # its real subject or a reference code in clear.
    outs = [found.message for _, found in mail_messages(own_server.var_dir / "mail")]
    ours = [message for message in outs if message["Subject"] == OUTER_SUBJECT]
    assert sorted(message["To"] for message in ours) == sorted(p.email for p in DEMO_RECIPIENTS)
    assert all(_is_pgp_mime(message) for message in ours)
    secrets = (*MARKERS, SUBJECT, *codes)
    raw = b"".join(path.read_bytes() for path in (own_server.var_dir / "mail").glob("*.log"))
    clear = "\n".join(text for message in outs for text in _clear_parts(message))
    assert [secret for secret in secrets if secret.encode() in raw or secret in clear] == []

    # The founder: her notices, the new one among them, its page, and her copy read.
    tab = founder
    tab.open("/")
    tab.page.get_by_role("navigation", name="Your account").get_by_role(
        "link", name="Notices"
    ).click()
    tab.page.wait_for_url("**/notices/")
    tab.check(journey=JOURNEY, name="my notices")
    code, status = copies[FOUNDER.email]
    assert status == "Sent"
    row = tab.page.locator("main table tbody tr", has_text=f"#{notice_number}")
    expect(row).to_contain_text(code)
    row.get_by_role("link", name=code).click()
    tab.page.wait_for_url(f"**/notices/ack/{code}/")
    expect(tab.page.locator("main")).not_to_contain_text(MARKERS[0])
    tab.check(journey=JOURNEY, name="acknowledge")

    decrypted = subprocess.run(
        [sys.executable, "manage.py", "demo_decrypt", "--to", FOUNDER.email],
        cwd=BASE_DIR,
        env=own_server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert decrypted.returncode == 0, decrypted.stderr
    text = decrypted.stdout
    assert "Good signature from the security team's key" in text
    assert f"Outer Subject (in clear): {OUTER_SUBJECT}" in text
    assert f"Subject: {SUBJECT}" in text
    assert f"Your reference: {code}" in text
    assert all(marker in text for marker in MARKERS)

    tab.page.get_by_role("button", name=f"I have read notice {code}").click()
    expect(tab.page.locator("main")).to_contain_text("your acknowledgement is recorded")
    expect(tab.page.get_by_role("button", name=f"I have read notice {code}")).to_have_count(0)
    expect(tab.page.get_by_role("heading", level=1)).to_have_text(f"Notice {code}")
    tab.check(journey=JOURNEY, name="acknowledged")

    # The reviewer's page counts it.
    reviewer.open(notice_url)
    totals = _totals(page)
    assert (totals["Acknowledged"], totals[UNACKNOWLEDGED]) == (1, people - 1)
    assert _copies(page)[FOUNDER.email] == (code, "Sent, acknowledged")
    reviewer.check(journey=JOURNEY, name="notice acknowledged")
