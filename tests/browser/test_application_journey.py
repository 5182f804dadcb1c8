"""From a stranger to a member, through the real pages and three people's browsers:
a new person signs up and confirms their address from the mail, applies for a new
organisation (seven criteria, the embargo policy, a vouch asked of an organisation on the
"willing to vouch" list) and submits; Selkie BSD's admin (MEMBER_ADMIN, TOTP) vouches from
their vouch requests; the reviewer (TOTP) records the seven verdicts in the one form,
sees what blocks approval go away, and approves; the applicant's home then says they are
a member. Every page on the way is checked at both widths."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from distributors.demo import MEMBER_ADMIN, REVIEWER
from tests.browser.checks import Tab, tab_new
from tests.browser.conftest import context_new, sign_in
from tests.browser.mail_links import mail_link

JOURNEY = "application"
APPLICANT_EMAIL = "security@otter-os.example.org"
APPLICANT_PASSWORD = "otter-os-ships-signed-builds-64"
ORGANISATION = "Otter OS"
EVIDENCE = {
    1: "We publish signed builds of the project in our stable channel every week.",
    2: "Several thousand installations outside our organisation, and two hosting providers.",
    3: "Every security fix gets a public advisory with the upstream reference.",
    4: "We build from upstream sources on our own infrastructure.",
    5: "Our maintainers review upstream changes and report packaging bugs upstream.",
}
EVIDENCE_CRITERIA = sorted(EVIDENCE)
POLICY_CRITERION, VOUCH_CRITERION, TOTAL = 6, 7, 7


@pytest.fixture(scope="module")
def people(chromium, own_server):
    contexts = {name: context_new(chromium, own_server) for name in ("applicant", "voucher")}
    contexts["reviewer"] = context_new(chromium, own_server)
    yield {name: tab_new(context) for name, context in contexts.items()}
    for context in contexts.values():
        context.close()


def _progress(tab: Tab, answered: int) -> None:
    expect(tab.page.locator("#answer-progress")).to_contain_text(f"{answered} of {TOTAL} answered")


def sign_up_and_confirm(tab: Tab, server) -> None:
    page = tab.page
    tab.open("/")
    tab.check(journey=JOURNEY, name="home signed out")
    page.locator("main").get_by_role("link", name="Create an account to apply").click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    tab.check(journey=JOURNEY, name="sign up")
    page.fill("input[name=email]", APPLICANT_EMAIL)
    page.fill("input[name=password1]", APPLICANT_PASSWORD)
    page.fill("input[name=password2]", APPLICANT_PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your mail")
    tab.check(journey=JOURNEY, name="confirmation sent")
    # The link the person would click in the mail, exactly as it was written.
    tab.open(mail_link(server.var_dir, APPLICANT_EMAIL, "/accounts/confirm-email/"))
    expect(page.locator("main")).to_contain_text(f"Confirm that {APPLICANT_EMAIL} is your address")
    tab.check(journey=JOURNEY, name="confirm address")
    page.get_by_role("button", name="Confirm my address").click()
    # ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION: confirmed and signed in, at home.
    expect(page.locator("main")).to_contain_text("You have not applied yet.")
    tab.check(journey=JOURNEY, name="home not applied")


def apply_and_answer_the_evidence(tab: Tab) -> None:
    page = tab.page
    page.locator("main").get_by_role("link", name="Start an application").click()
    expect(page).to_have_url(re.compile(r"/apply/$"))
    tab.check(journey=JOURNEY, name="apply")
    page.get_by_label("Organisation name").fill(ORGANISATION)
    page.get_by_label("Website").fill("https://otter-os.example.org")
    page.get_by_role("button", name="Register and start the application").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(ORGANISATION)
    _progress(tab, 0)
    tab.check(journey=JOURNEY, name="application draft")
    page.get_by_role("link", name="Answer criterion 1", exact=True).click()
    for number in EVIDENCE_CRITERIA:
        expect(page.get_by_role("heading", level=1)).to_contain_text(f"Criterion {number}:")
        expect(page.locator("#answer-progress")).to_contain_text(f"Criterion {number} of {TOTAL}")
        _progress(tab, number - 1)
        tab.check(journey=JOURNEY, name=f"criterion {number}")
        page.get_by_label("Your evidence").fill(EVIDENCE[number])
        page.get_by_label("Links").fill(f"https://otter-os.example.org/evidence/{number}")
        page.get_by_role("button", name="Save and go to the next criterion").click()
        expect(page.locator("main")).to_contain_text(f"Your answer to criterion {number} is saved.")


def accept_the_policy(tab: Tab) -> None:
    page = tab.page
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Criterion {POLICY_CRITERION}:")
    _progress(tab, len(EVIDENCE_CRITERIA))
    tab.check(journey=JOURNEY, name="criterion 6 policy")
    page.get_by_role("link", name="Read and accept the embargo policy").click()
    expect(page).to_have_url(re.compile(r"/policy/\?next="))
    tab.check(journey=JOURNEY, name="embargo policy")
    page.get_by_role("button", name=re.compile(r"^I accept version \d+")).click()
    # Back where the person came from, with criterion 6 now met.
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Criterion {POLICY_CRITERION}:")
    expect(page.locator("main")).to_contain_text("You accepted version")
    _progress(tab, POLICY_CRITERION)
    tab.check(journey=JOURNEY, name="criterion 6 accepted")
    page.get_by_role("link", name=f"Next: criterion {VOUCH_CRITERION}").click()


def ask_a_willing_organisation(tab: Tab) -> None:
    page = tab.page
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Criterion {VOUCH_CRITERION}:")
    _progress(tab, POLICY_CRITERION)
    tab.check(journey=JOURNEY, name="criterion 7 vouch")
    willing = page.get_by_role("region", name="Member organisations willing to vouch")
    row = willing.get_by_role("row").filter(has_text="Selkie BSD")
    row.get_by_role("button", name=f"Ask {MEMBER_ADMIN.email}").click()
    expect(page.locator("main")).to_contain_text("We have asked them to vouch for you")
    _progress(tab, TOTAL)
    # The contact now shows as asked instead of being offered a second time.
    expect(row).to_contain_text("Asked")
    expect(row.get_by_role("button")).to_have_count(0)
    tab.check(journey=JOURNEY, name="criterion 7 asked")
    page.get_by_role("link", name="Next: check and submit").click()


def submit(tab: Tab) -> None:
    page = tab.page
    expect(page.get_by_role("heading", name="Submit")).to_be_visible()
    _progress(tab, TOTAL)
    expect(page.locator("#submit")).to_contain_text("Every criterion is answered.")
    tab.check(journey=JOURNEY, name="application complete")
    page.get_by_role("button", name="Submit the application").click()
    expect(page.locator("main")).to_contain_text("Submitted. The security team will review")
    expect(page.locator("main dl.facts")).to_contain_text("Submitted")
    tab.check(journey=JOURNEY, name="application submitted")
    tab.open("/")
    expect(page.locator("main")).to_contain_text(f"{TOTAL} of {TOTAL} answered")
    expect(page.locator("main")).to_contain_text(f"{MEMBER_ADMIN.email} (Selkie BSD)")
    tab.check(journey=JOURNEY, name="home submitted")


def vouch(tab: Tab) -> None:
    page = tab.page
    sign_in(tab, MEMBER_ADMIN, journey=JOURNEY)
    home_link = page.locator("main").get_by_role("link", name=f"{ORGANISATION} asked you")
    expect(home_link).to_be_visible()
    answer_url = home_link.get_attribute("href")
    tab.check(journey=JOURNEY, name="voucher home")
    page.get_by_role("navigation").get_by_role("link", name="Vouch requests").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Vouch requests")
    tab.check(journey=JOURNEY, name="vouch requests")
    request = page.locator("main").get_by_role("link", name=ORGANISATION, exact=True)
    expect(request).to_have_attribute("href", answer_url)
    request.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Vouch for {ORGANISATION}?")
    tab.check(journey=JOURNEY, name="vouch request")
    page.get_by_label("Your statement").fill(
        "I have worked with their security team on several fixes."
    )
    page.get_by_role("button", name="I vouch for them").click()
    expect(page.locator("main")).to_contain_text("Thank you: you confirmed this request.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"You vouch for {ORGANISATION}")
    tab.check(journey=JOURNEY, name="vouch confirmed")


def review_and_approve(tab: Tab) -> None:
    page = tab.page
    sign_in(tab, REVIEWER, journey=JOURNEY)
    tab.check(journey=JOURNEY, name="reviewer home")
    page.locator("main").get_by_role("link", name="Open the review queue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review queue")
    tab.check(journey=JOURNEY, name="review queue")
    row = page.get_by_role("row").filter(has_text=ORGANISATION)
    expect(row).to_contain_text("Submitted")
    row.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(ORGANISATION)
    expect(page.locator("#review-progress")).to_contain_text(f"0/{TOTAL} reviewed")
    blockers = page.locator("ul.blockers li")
    expect(blockers.first).to_have_text(
        "The review has not started yet: recording a verdict starts it."
    )
    expect(blockers.filter(has_text="is not reviewed yet")).to_have_count(TOTAL)
    expect(page.locator(f"#criterion-{VOUCH_CRITERION}")).to_contain_text(
        "Confirmed by a voucher in good standing"
    )
    tab.check(journey=JOURNEY, name="application review")
    for number in range(1, TOTAL + 1):
        page.locator(f"#criterion-{number}").get_by_label("Met", exact=True).check()
    page.get_by_role("button", name="Record the verdicts").click()
    expect(page.locator("main")).to_contain_text("Verdicts recorded on criteria 1, 2, 3")
    expect(page.locator("#review-progress")).to_contain_text(
        f"{TOTAL}/{TOTAL} reviewed, {TOTAL} met"
    )
    expect(page.locator("ul.blockers")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("Nothing blocks approval")
    tab.check(journey=JOURNEY, name="verdicts recorded")
    page.get_by_label("Approve: the organisation becomes a member").check()
    page.get_by_label("Reason").fill("Every criterion is met and Selkie BSD vouches for them.")
    page.get_by_role("button", name="Record the decision").click()
    expect(page.locator("main")).to_contain_text("Application approved.")
    expect(page.locator("main dl.facts")).to_contain_text("Member")
    tab.check(journey=JOURNEY, name="application approved")


def test_a_new_distributor_signs_up_applies_is_vouched_for_and_approved(people, own_server):
    applicant = people["applicant"]
    sign_up_and_confirm(applicant, own_server)
    apply_and_answer_the_evidence(applicant)
    accept_the_policy(applicant)
    ask_a_willing_organisation(applicant)
    submit(applicant)
    vouch(people["voucher"])
    review_and_approve(people["reviewer"])
    applicant.open("/")
    expect(applicant.page.locator("#home-standing")).to_contain_text(
        f"{ORGANISATION} is a member of the list since"
    )
    applicant.check(journey=JOURNEY, name="home member")
