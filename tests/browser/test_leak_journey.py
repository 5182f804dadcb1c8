"""Issue 20's journey "leak report and trace", in a real browser: a member organisation's
admin (the demo's Walrus Linux, a recipient of the demo notice) reports that their copy
leaked and pastes it as it was posted; the security team opens the report, traces the
text, sees the true recipient named (and nobody else), confirms the report with the
copy it was traced to, and the sanction ladder's first step (a warning with a
retrospective) follows. A decoy text, prose that is nobody's copy, names nobody, and the
trace says why."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest
from playwright.sync_api import expect

from distributors.demo import FOUNDER, MEMBER_ADMIN, REVIEWER
from embargo.demo import DEMO_CASE_TITLE
from tests.browser.conftest import person_tab
from tests.browser.harness import BASE_DIR

JOURNEY = "leak"
LEAKER = FOUNDER  # security@walrus-linux: the copy that leaks is theirs
BYSTANDER = MEMBER_ADMIN  # Selkie BSD's admin got a copy too, and must not be named
DECOY = (
    "Heads up: somebody on a forum says there is a problem with how pkg checks package "
    "signatures, and that a new release is coming soon. No details yet, no version "
    "numbers, nothing official from the project. We will keep an eye on it and update "
    "our packages when the maintainers publish something."
)
# The lines of a copy a careful leaker takes out: they name the copy outright.
GIVEAWAYS = re.compile(r"^(Your reference: |.*/notices/ack/).*$", re.MULTILINE)


def _decrypted_copy(server, person) -> str:
    """The body of the person's copy of the demo notice, decrypted with their demo secret
    key in the server's own environment (`manage.py demo_decrypt`, as a person running
    the demo does)."""
    out = subprocess.run(
        [sys.executable, "manage.py", "demo_decrypt", "--to", person.email],
        cwd=BASE_DIR,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, f"demo_decrypt failed:\n{out.stderr}\n{out.stdout}"
    assert "Good signature from the security team's key" in out.stdout
    message = out.stdout.split("---- decrypted message ----\n", 1)[1]
    headers, body = message.split("\n\n", 1)
    assert f"To: {person.email}" in headers
    return body


def _as_posted(copy: str) -> str:
    """The copy as a leaker pastes it on a forum: the reference lines gone and every
    paragraph re-wrapped to another width."""
    paragraphs = GIVEAWAYS.sub("", copy).split("\n\n")
    return "\n\n".join(
        textwrap.fill(" ".join(p.split()), width=58) for p in paragraphs if p.strip()
    )


@pytest.fixture(scope="module")
def leaked_text(own_server):
    copy = _decrypted_copy(own_server, LEAKER)
    # What the leaker pastes still carries the notice, but not the copy's reference code.
    assert "pkg verify" in copy and "Your reference: " in copy
    text = _as_posted(copy)
    assert "Your reference" not in text and "/notices/ack/" not in text
    return text


@pytest.fixture(scope="module")
def member(chromium, own_server):
    with person_tab(chromium, own_server, LEAKER, journey=JOURNEY) as tab:
        yield tab


@pytest.fixture(scope="module")
def staff(chromium, own_server):
    with person_tab(chromium, own_server, REVIEWER, journey=JOURNEY) as tab:
        yield tab


def test_a_leak_is_reported_traced_to_its_recipient_and_confirmed(member, staff, leaked_text):
    # The member reports the leak of their own copy, pasting what was posted.
    page = member.page
    member.open("/leaks/")
    member.check(journey=JOURNEY, name="member leak reports")
    page.locator("main").get_by_role("link", name="Report a leak").click()
    expect(page).to_have_url(re.compile(r"/leaks/new/$"))
    member.check(journey=JOURNEY, name="leak form")
    expect(page.locator("#id_organization option:checked")).to_have_text("Walrus Linux")
    page.select_option("#id_notice", index=1)
    page.fill("#id_what_leaked", "The whole demo notice, as our packager received it.")
    page.fill("#id_leaked_to", "A public distribution-packaging forum.")
    page.fill("#id_how", "A packager without need-to-know forwarded it to the forum.")
    page.fill("#id_prevention", "Notices now go only to the need-to-know people's mailbox.")
    page.fill("#id_evidence_text", leaked_text)
    page.get_by_role("button", name="File the leak report").click()
    expect(page).to_have_url(re.compile(r"/leaks/\d+/$"))
    expect(page.locator("main")).to_contain_text("The security team has been alerted")
    expect(page.locator("main")).to_contain_text("Waiting for the security team")
    # The paste is for the security team only, even on the reporter's own page.
    expect(page.locator("main")).not_to_contain_text("pkg verify")
    report_path = re.search(r"/leaks/\d+/$", page.url).group(0)
    member.check(journey=JOURNEY, name="leak report filed")

    # The security team opens the urgent report, the paste is there, ready to trace.
    page = staff.page
    staff.open("/staff/leaks/")
    staff.check(journey=JOURNEY, name="leak dashboard")
    page.locator(f"main a[href='/staff{report_path}']").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Urgent")
    staff.check(journey=JOURNEY, name="leak report")
    trace = page.locator("main form", has=page.get_by_role("heading", name="Trace a leaked copy"))
    expect(trace.locator("textarea")).to_have_value(leaked_text)
    trace.get_by_role("button", name="Trace").click()
    expect(page).to_have_url(re.compile(r"/staff/cases/\d+/trace/$"))

    # The trace names the true recipient, and nobody else.
    result = page.locator("main section.card", has=page.get_by_role("heading", name="Result"))
    expect(result).to_contain_text("Identified:")
    expect(result.locator("p.identified")).to_contain_text(LEAKER.email)
    expect(result).not_to_contain_text(BYSTANDER.email)
    badges = page.locator("main table tbody tr", has=page.locator(".badge"))
    expect(badges).to_have_count(1)
    expect(badges).to_contain_text(LEAKER.email)
    expect(page.locator("main table")).not_to_contain_text(BYSTANDER.email)
    staff.check(journey=JOURNEY, name="trace identifies the recipient")

    # The next step: confirm the report as traced to that copy; the ladder's first step.
    reference = re.search(r"reference ([A-Z2-7]{10})", result.inner_text()).group(1)
    confirm = page.locator("main form", has=page.get_by_role("heading", name="Confirm leak"))
    confirm.get_by_label("Reason").fill("The posted text is Walrus Linux's copy, traced.")
    confirm.get_by_role("button", name="Confirm the leak").click()
    expect(page).to_have_url(re.compile(rf"/staff{report_path}$"))
    main = page.locator("main")
    expect(main).to_contain_text("Leak confirmed; the sanction ladder was applied.")
    expect(main.locator("dl.facts")).to_contain_text("Confirmed")
    expect(main).to_contain_text(f"Traced to copy {reference} ({LEAKER.email})")
    expect(main).to_contain_text("Warning")
    expect(main).to_contain_text("a retrospective is due")
    expect(main.get_by_role("heading", name="Break the embargo")).to_be_visible()
    staff.check(journey=JOURNEY, name="leak confirmed")
    # The organisation's leak history now holds the report and the warning.
    staff.open("/staff/organizations/walrus-linux/leaks/")
    history = staff.page.get_by_role("region", name="Leak history (1 confirmed)")
    expect(history.get_by_role("cell", name="Confirmed")).to_be_visible()
    expect(staff.page.get_by_role("region", name="Sanctions")).to_contain_text("Warning")
    staff.check(journey=JOURNEY, name="organisation leak history")

    # The organisation sees the decision and the retrospective it owes.
    member.open("/leaks/")
    expect(member.page.locator("main")).to_contain_text("answer the retrospective")
    member.check(journey=JOURNEY, name="member sees the warning")
    member.open(report_path)
    expect(member.page.locator("main")).to_contain_text("Confirmed")
    expect(member.page.locator("main")).to_contain_text("a retrospective is due")
    member.check(journey=JOURNEY, name="member leak report decided")

    # The admin answers the warning's retrospective; it is recorded as answered.
    member.open("/leaks/")
    member.page.get_by_role("link", name="answer the retrospective").click()
    expect(member.page).to_have_url(re.compile(r"/leaks/sanctions/\d+/retrospective/$"))
    member.check(journey=JOURNEY, name="retrospective form")
    member.page.get_by_label("Your retrospective").fill(
        "A packager forwarded the notice to a forum. Notices now reach only the "
        "need-to-know mailbox, and every packager has read the embargo policy again."
    )
    member.page.get_by_role("button", name="Send the retrospective").click()
    expect(member.page).to_have_url(re.compile(r"/leaks/$"))
    expect(member.page.locator("main")).to_contain_text("Your retrospective is recorded.")
    expect(member.page.locator("main")).not_to_contain_text("answer the retrospective")
    expect(member.page.locator("main table").last).to_contain_text("answered")
    member.check(journey=JOURNEY, name="retrospective answered")


def test_a_decoy_text_names_nobody_and_the_trace_says_why(staff):
    page = staff.page
    staff.open("/staff/cases/")
    page.locator("main table tr", has_text=DEMO_CASE_TITLE).get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/staff/cases/\d+/$"))
    page.get_by_role("link", name="Trace a leaked copy").click()
    expect(page).to_have_url(re.compile(r"/staff/cases/\d+/trace/$"))
    staff.check(journey=JOURNEY, name="trace form")
    page.get_by_label("The leaked text").fill(DECOY)
    page.get_by_role("button", name="Trace").click()
    result = page.locator("main section.card", has=page.get_by_role("heading", name="Result"))
    expect(result).to_contain_text("The text shows none of the variation points")
    expect(result.locator("p.identified")).to_have_count(0)
    # Nothing was read, so there is no probability to show, only the reason.
    expect(result.locator("dl.facts")).to_contain_text("no evidence to weigh")
    expect(page.locator("main .badge")).to_have_count(0)
    for person in (LEAKER, BYSTANDER):
        expect(page.locator("main")).not_to_contain_text(person.email)
    staff.check(journey=JOURNEY, name="trace of a decoy")


def test_the_sent_demo_notice_tells_every_recipients_whole_copy_apart(staff):
    page = staff.page
    staff.open("/staff/cases/")
    page.locator("main table tr", has_text=DEMO_CASE_TITLE).get_by_role("link").click()
    page.locator("main a[href*='/staff/notices/']").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sent")
    page.get_by_role("link", name="Tracing capacity of this notice").click()
    expect(page).to_have_url(re.compile(r"/staff/notices/\d+/tracing/$"))
    capacity = page.locator("main section.card")
    expect(capacity).to_contain_text(
        "A leaked whole copy can be told apart for everyone in the audience."
    )
    # The demo notice carries enough variation that no warning is needed (issue 20).
    expect(capacity.locator(".message.warning")).to_have_count(0)
    staff.check(journey=JOURNEY, name="tracing capacity of the sent notice")


def test_two_sections_of_the_other_recipients_copy_name_that_recipient_only(own_server, staff):
    copy = _decrypted_copy(own_server, BYSTANDER)
    sections = copy.split("\n## ")
    assert len(sections) == 5, "the demo notice has four sections"
    excerpt = _as_posted("## " + "\n## ".join(sections[1:3]))
    page = staff.page
    staff.open("/staff/cases/")
    page.locator("main table tr", has_text=DEMO_CASE_TITLE).get_by_role("link").click()
    page.get_by_role("link", name="Trace a leaked copy").click()
    page.get_by_label("The leaked text").fill(excerpt)
    page.get_by_role("button", name="Trace").click()
    result = page.locator("main section.card", has=page.get_by_role("heading", name="Result"))
    expect(result).to_contain_text("Identified:")
    expect(result.locator("p.identified")).to_contain_text(BYSTANDER.email)
    expect(page.locator("main")).not_to_contain_text(LEAKER.email)
    # Started from the case, not from a report: there is no report to confirm.
    expect(page.get_by_role("heading", name="Confirm leak")).to_have_count(0)
    staff.check(journey=JOURNEY, name="trace of two sections")
