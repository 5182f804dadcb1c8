"""The front half of the process through the real views (issue 17, "it must show" 1): a
report through the form, its receipt and the reporter's page; staff mark it valid and
accept it within the deadline; the case is scored with CVSS 3.1 and 4.0 through the
calculator; the team proposes a date, the reporter counters, a member accepts; the team
sets the date and everyone already told hears it, encrypted."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from urllib.parse import urlparse

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from devsupport.keyring import gpg_run
from embargo.models import CvssRating, Delivery, DisclosureProposal, Notice
from embargo.views.scoring import calculator_url
from intake.models import Report
from tests.conftest import sign_in_with_mfa
from tests.embargo.helpers import bulk_people, notice_draft
from tests.intake.test_views_report_form import report_data

pytestmark = pytest.mark.django_db

V31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
V40 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"


def choices_of(vector: str) -> dict[str, str]:
    return dict(part.split(":") for part in vector.split("/")[1:])


def utc_field(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def day_at_four(days: int) -> datetime:
    day = timezone.now().astimezone(UTC) + timedelta(days=days)
    return day.replace(hour=16, minute=0, second=0, microsecond=0)


def test_a_report_runs_from_the_form_to_an_agreed_date_through_the_real_views(
    staff_reviewer, team_key, person_keys, django_capture_on_commit_callbacks
):
    member_key, reporter_key = person_keys(2)
    [member] = bulk_people([member_key])
    reporter, staff, distributor = Client(), Client(), Client()
    sign_in_with_mfa(staff, staff_reviewer)
    sign_in_with_mfa(distributor, member.user)

    def committed():
        return django_capture_on_commit_callbacks(execute=True)

    # The report, its receipt and the reporter's page.
    with committed():
        response = reporter.post(
            reverse("intake:report_new"),
            report_data(
                reporter_email=reporter_key.email, reporter_public_key=reporter_key.armored
            ),
        )
    report = Report.objects.get()
    [receipt] = mail.outbox
    assert receipt.to == [reporter_key.email]
    page = urlparse(re.search(r"http\S+/report/\S+/", receipt.body).group(0)).path
    assert response["Location"] == page
    assert reporter.get(page).status_code == 200

    # Triage within the deadline.
    decide = reverse("intake:staff_decide", args=[report.pk])
    for decision in ("valid", "accept"):
        reply = staff.post(decide, {"decision": decision, "reason": "", "case": ""})
        assert reply.status_code == 302
    report.refresh_from_db()
    case = report.vulnerability
    assert report.state == "accepted" and report.first_response_at <= report.first_response_due_at
    assert case.state == "triaged" and case.reporter_key_fingerprint == reporter_key.fingerprint

    # Both scores through the calculator.
    for version, vector in (("3.1", V31), ("4.0", V40)):
        scored = staff.post(
            calculator_url(case.pk, version), {**choices_of(vector), "action": "save"}
        )
        assert scored.status_code == 302
    assert set(CvssRating.objects.filter(vulnerability=case).values_list("vector", flat=True)) == {
        V31,
        V40,
    }

    # A first date (the team's own), then the member is told under embargo (the real send
    # path, encrypted to their key).
    first = staff.post(
        reverse("embargo:case_disclosure_date_set", args=[case.pk]),
        {"proposal": "", "disclosure_at": utc_field(day_at_four(12)), "note": ""},
    )
    assert first.status_code == 302
    with committed():
        notice = notice_draft(case=case, actor=staff_reviewer)
        staff.post(reverse("embargo:notice_send", args=[notice.pk]))
    assert Delivery.objects.get(notice=notice, user=member.user).state == Delivery.State.SENT

    # The team proposes; the reporter counters on their page; the member accepts.
    with committed():
        staff.post(
            reverse("embargo:case_proposal_make", args=[case.pk]),
            {
                "proposed_at": utc_field(day_at_four(16)),
                "reply_by": utc_field(day_at_four(5)),
                "reason": "Fourteen business days for a critical issue.",
            },
        )
    proposal = DisclosureProposal.objects.get()
    counter_at = day_at_four(21)
    with committed():
        countered = reporter.post(
            page + "dates/",
            {
                "action": "answer",
                "proposal": proposal.pk,
                f"p{proposal.pk}-answer": "counter",
                f"p{proposal.pk}-reason": "My talk is a week later; this gives vendors time.",
                f"p{proposal.pk}-counter_at": utc_field(counter_at),
                f"p{proposal.pk}-counter_reply_by": utc_field(day_at_four(6)),
            },
        )
    assert countered.status_code == 302
    counter = DisclosureProposal.objects.get(counter_to=proposal)
    assert counter.proposed_by == DisclosureProposal.Party.REPORTER
    with committed():
        accepted = distributor.post(
            reverse("embargo:member_proposal_answer"),
            {
                "proposal": counter.pk,
                "organization": member.organization_id,
                f"p{counter.pk}-answer": "accept",
            },
        )
    assert accepted.status_code == 302
    assert counter.answers.get().organization == member.organization

    # The team's final say; everyone told hears it.
    mail.outbox.clear()
    with committed():
        chosen = staff.post(
            reverse("embargo:case_disclosure_date_set", args=[case.pk]),
            {"proposal": counter.pk, "disclosure_at": "", "note": ""},
        )
    assert chosen.status_code == 302
    case.refresh_from_db()
    assert case.disclosure_at == counter_at
    update = Notice.objects.get(revises=notice)
    assert Delivery.objects.get(notice=update, user=member.user).state == Delivery.State.SENT
    told = {message.to[0]: message for message in mail.outbox}
    assert set(told) >= {member.user.email, reporter_key.email}
    for person in (member_key, reporter_key):
        wire = told[person.email].message().as_bytes()
        assert case.title.encode() not in wire and b"BEGIN PGP MESSAGE" in wire
        armored = re.search(rb"-----BEGIN PGP MESSAGE-----.*?-----END PGP MESSAGE-----", wire, re.S)
        opened = gpg_run(person.home, "--decrypt", stdin=armored.group(0), check=False).stdout
        assert f"{counter_at:%Y-%m-%d %H:%M}" in plain_text(opened)


def plain_text(entity: bytes) -> str:
    """The text/plain parts of a decrypted MIME entity, decoded."""
    message = message_from_bytes(entity, policy=policy.default)
    return "".join(
        part.get_content() for part in message.walk() if part.get_content_type() == "text/plain"
    )
