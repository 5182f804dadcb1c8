"""The security team's report queue and report page (issue 17): outsiders get 404, the
most urgent report comes first, decisions follow the state table, and files download."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from embargo.models import Vulnerability
from intake.models import ReportAttachment, attachment_storage
from tests.factories import (
    ReportFactory,
    TeamMemberFactory,
    VulnerabilityFactory,
    make_eligible,
)

pytestmark = pytest.mark.django_db

SECRET = "Walrus canary private detail"


def attachment_of(report) -> ReportAttachment:
    name = attachment_storage.save(f"{report.pk}/abc", ContentFile(b"<script>alert(1)</script>"))
    return ReportAttachment.objects.create(
        report=report, name="poc.html", file=name, size=25, sha256="0" * 64
    )


def staff_pages(report, attachment) -> list[str]:
    return [
        reverse("intake:staff_queue"),
        reverse("intake:staff_report", args=[report.pk]),
        reverse("intake:staff_attachment", args=[report.pk, attachment.pk]),
    ]


def state_of(report) -> tuple:
    report.refresh_from_db()
    return (report.state, report.messages.count(), AuditEvent.objects.count())


def test_anonymous_visitors_are_sent_to_sign_in_and_change_nothing(client):
    report = ReportFactory(reproduce=SECRET)
    before = state_of(report)
    for url in staff_pages(report, attachment_of(report)):
        assert client.get(url)["Location"].startswith(reverse("account_login"))
    response = client.post(reverse("intake:staff_decide", args=[report.pk]), {"decision": "valid"})
    assert response["Location"].startswith(reverse("account_login"))
    assert state_of(report) == before


@pytest.mark.parametrize("kind", ["member", "other organisation"])
def test_distributors_get_404_and_change_nothing(kind, mfa_client):
    report = ReportFactory(reproduce=SECRET)
    person = make_eligible(TeamMemberFactory()).user
    if kind == "other organisation":
        person = TeamMemberFactory(is_admin=True).user
    http = mfa_client(person)
    before = state_of(report)
    for url in staff_pages(report, attachment_of(report)):
        response = http.get(url)
        assert response.status_code == 404 and SECRET.encode() not in response.content
    for action in ("staff_decide", "staff_reply"):
        response = http.post(
            reverse(f"intake:{action}", args=[report.pk]), {"decision": "valid", "body": "x"}
        )
        assert response.status_code == 404
    assert state_of(report) == before


def test_staff_without_two_factor_are_sent_to_set_it_up(client, staff_without_mfa):
    report = ReportFactory()
    client.force_login(staff_without_mfa)
    response = client.get(reverse("intake:staff_report", args=[report.pk]))
    assert response["Location"] == reverse("mfa_activate_totp")


def test_staff_read_the_whole_report(mfa_client, staff_reviewer):
    report = ReportFactory(reproduce=SECRET, credit_wanted=True, credit_as="Rosa R.")
    response = mfa_client(staff_reviewer).get(reverse("intake:staff_report", args=[report.pk]))
    text = response.content.decode()
    assert response.status_code == 200 and SECRET in text and "Rosa R." in text
    assert "no-store" in response["Cache-Control"]


def test_a_file_is_served_to_staff_only_as_a_download(mfa_client, staff_reviewer):
    report = ReportFactory()
    attachment = attachment_of(report)
    response = mfa_client(staff_reviewer).get(
        reverse("intake:staff_attachment", args=[report.pk, attachment.pk])
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith('attachment; filename="poc.html"')
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == b"<script>alert(1)</script>"


def test_a_file_of_another_report_is_404(mfa_client, staff_reviewer):
    report, other = ReportFactory(), ReportFactory()
    attachment = attachment_of(other)
    url = reverse("intake:staff_attachment", args=[report.pk, attachment.pk])
    assert mfa_client(staff_reviewer).get(url).status_code == 404


def test_the_queue_puts_overdue_first_then_due_soon_then_by_deadline(mfa_client, staff_reviewer):
    now = timezone.now()
    fresh = ReportFactory(received_at=now)
    answered = ReportFactory(received_at=now - timedelta(days=10), first_response_at=now)
    overdue = ReportFactory(received_at=now - timedelta(days=10))
    soon = ReportFactory(
        received_at=now - timedelta(days=1),
        first_response_warn_at=now - timedelta(hours=1),
        first_response_due_at=now + timedelta(hours=5),
    )

    response = mfa_client(staff_reviewer).get(reverse("intake:staff_queue"))

    order = [report.pk for report in response.context["page"]]
    assert order == [overdue.pk, soon.pk, fresh.pk, answered.pk]
    text = response.content.decode()
    assert "Overdue" in text and "Due soon" in text and "Answered" in text


def test_the_queue_costs_the_same_queries_for_many_reports(
    mfa_client, staff_reviewer, django_assert_max_num_queries
):
    http = mfa_client(staff_reviewer)
    ReportFactory(vulnerability=VulnerabilityFactory(), state="accepted")
    with django_assert_max_num_queries(12) as few:
        http.get(reverse("intake:staff_queue"))
    for _ in range(30):
        ReportFactory(vulnerability=VulnerabilityFactory(), state="accepted")
    with django_assert_max_num_queries(len(few.captured_queries)):
        http.get(reverse("intake:staff_queue"))


def test_the_staff_home_counts_reports_by_deadline(mfa_client, staff_reviewer):
    now = timezone.now()
    ReportFactory()
    ReportFactory(received_at=now - timedelta(days=10))
    response = mfa_client(staff_reviewer).get(reverse("home"))
    text = response.content.decode()
    assert "2 awaiting triage" in text and "1 overdue" in text


def decide(http, report, **data):
    return http.post(
        reverse("intake:staff_decide", args=[report.pk]), {"reason": "", "case": "", **data}
    )


def test_marking_a_report_valid_records_the_first_response(mfa_client, staff_reviewer):
    report = ReportFactory()
    response = decide(mfa_client(staff_reviewer), report, decision="valid")
    report.refresh_from_db()
    assert response.status_code == 302
    assert report.state == "valid" and report.first_response_at is not None
    assert AuditEvent.objects.filter(action="report.valid", target_id=str(report.pk)).exists()


def test_invalid_needs_a_reason_which_reaches_the_reporter(
    mfa_client, staff_reviewer, django_capture_on_commit_callbacks
):
    report = ReportFactory()
    http = mfa_client(staff_reviewer)
    before = state_of(report)

    refused = decide(http, report, decision="invalid")
    assert refused.status_code == 400 and "detailed reason" in refused.content.decode()
    assert state_of(report) == before

    with django_capture_on_commit_callbacks(execute=True):
        decide(http, report, decision="invalid", reason="This is documented behaviour.")
    report.refresh_from_db()
    assert report.state == "invalid"
    assert "This is documented behaviour." in report.messages.get().body
    [news] = mail.outbox
    assert news.to == [report.reporter_email] and "documented" not in news.body


def test_accepting_opens_a_case_with_the_reports_text_and_reporter(mfa_client, staff_reviewer):
    report = ReportFactory(reproduce=SECRET, state="valid", reporter_name="Rosa")
    response = decide(mfa_client(staff_reviewer), report, decision="accept")
    report.refresh_from_db()
    case = report.vulnerability
    assert response.status_code == 302 and report.state == "accepted"
    assert case.title == report.subject and SECRET in case.summary
    assert report.reference in case.summary
    assert (case.reporter_name, case.reporter_email) == ("Rosa", report.reporter_email)
    assert case.reported_at == report.received_at


def test_accepting_into_an_existing_case_links_it(mfa_client, staff_reviewer):
    case = VulnerabilityFactory()
    report = ReportFactory(state="valid")
    decide(mfa_client(staff_reviewer), report, decision="accept", case=case.public_id.lower())
    report.refresh_from_db()
    assert report.vulnerability == case and Vulnerability.objects.count() == 1


def test_merging_into_a_case_closes_the_report_with_the_link(mfa_client, staff_reviewer):
    case = VulnerabilityFactory()
    report = ReportFactory()
    decide(mfa_client(staff_reviewer), report, decision="close", case=case.public_id)
    report.refresh_from_db()
    assert (report.state, report.merged, report.vulnerability) == ("closed", True, case)


@pytest.mark.parametrize(
    "state, data, message",
    [
        ("received", {"decision": "accept"}, "cannot become accepted"),
        ("closed", {"decision": "valid"}, "cannot become valid"),
        (
            "valid",
            {"decision": "accept", "case": "HAUL-1999-0001"},
            "There is no case HAUL-1999-0001",
        ),
    ],
)
def test_a_decision_the_state_table_forbids_is_refused_and_changes_nothing(
    mfa_client, staff_reviewer, state, data, message
):
    report = ReportFactory(state=state)
    before = state_of(report)
    response = decide(mfa_client(staff_reviewer), report, **data)
    assert response.status_code == 400 and message in response.content.decode()
    assert state_of(report) == before and Vulnerability.objects.count() == 0


def test_a_team_reply_to_a_reporter_without_a_key_says_only_there_is_news(
    mfa_client, staff_reviewer, django_capture_on_commit_callbacks
):
    report = ReportFactory()
    with django_capture_on_commit_callbacks(execute=True):
        mfa_client(staff_reviewer).post(
            reverse("intake:staff_reply", args=[report.pk]), {"body": SECRET}
        )
    [news] = mail.outbox
    assert SECRET not in news.body and SECRET not in news.subject
    assert report.reference in news.body
    report.refresh_from_db()
    assert report.first_response_at is not None
    assert report.messages.get().mailed_at is not None
