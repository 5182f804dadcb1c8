"""The public report form and the reporter's page (issue 17): no account, a receipt at
once with a tracking link, the conversation, and every bad input a clear message that
changes nothing."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.models import AuditEvent
from devsupport.keyring import gpg_run
from intake.models import Report, ReportAttachment, ReportMessage
from intake.tokens import report_token
from tests.factories import ReportFactory

pytestmark = pytest.mark.django_db

FORM = reverse("intake:report_new")
SECRET_DETAIL = "Walrus canary: the TIFF decoder overflows on tag 0x0111"


def report_data(**overrides) -> dict:
    data = {
        "reporter_name": "Rosa Reporter",
        "reporter_affiliation": "Independent",
        "reporter_email": "rosa@example.net",
        "subject": "Heap overflow in the TIFF decoder",
        "reproduce": SECRET_DETAIL,
        "effects": "Crash, maybe code execution. Default build.",
        "impact": "Anyone opening an image.",
        "others_involved": "",
        "exposure": Report.Exposure.NOT_PUBLIC,
        "disclosure_plans": "A talk in March.",
        "credit_wanted": "on",
        "credit_as": "Rosa R.",
        "encrypted_message": "",
        "reporter_public_key": "",
        "website": "",
    }
    return {**data, **overrides}


def track_url(report) -> str:
    return reverse(
        "intake:report_track", kwargs={"reference": report.reference, "token": report_token(report)}
    )


def nothing_changed() -> tuple:
    return (Report.objects.count(), ReportAttachment.objects.count(), AuditEvent.objects.count())


def test_anyone_can_open_the_form_without_an_account(client):
    response = client.get(FORM)
    assert response.status_code == 200
    assert b"Steps to reproduce" in response.content


def test_a_report_is_stored_with_its_answers_and_the_reporter_is_sent_to_their_page(client):
    upload = SimpleUploadedFile("poc.tiff", b"II*\x00crash", content_type="image/tiff")
    response = client.post(FORM, {**report_data(), "attachments": [upload]})

    report = Report.objects.get()
    assert response.status_code == 302 and response["Location"] == track_url(report)
    assert (report.channel, report.state, report.reproduce) == ("web", "received", SECRET_DETAIL)
    assert (report.exposure, report.credit_wanted, report.credit_as) == (
        "not_public",
        True,
        "Rosa R.",
    )
    assert report.first_response_due_at > report.first_response_warn_at > report.received_at
    attachment = report.attachments.get()
    assert (attachment.name, attachment.size) == ("poc.tiff", 9)
    assert attachment.file.read() == b"II*\x00crash"
    assert AuditEvent.objects.filter(action="report.received", target_id=str(report.pk)).exists()


def test_the_receipt_goes_at_once_with_the_link_and_none_of_the_report(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(FORM, report_data())
    report = Report.objects.get()

    [receipt] = mail.outbox
    assert receipt.to == ["rosa@example.net"]
    assert report.reference in receipt.subject
    assert track_url(report) in receipt.body
    assert SECRET_DETAIL not in receipt.body and report.subject not in receipt.body
    assert receipt.extra_headers["Message-ID"].startswith(f"<intake-receipt-{report.pk}@")
    report.refresh_from_db()
    assert report.receipt_sent_at is not None


def test_the_reporter_page_shows_state_deadline_and_conversation(client):
    report = ReportFactory(subject="Heap overflow")
    ReportMessage.objects.create(report=report, author="team", body="We can reproduce it.")

    response = client.get(track_url(report))

    text = response.content.decode()
    assert response.status_code == 200
    assert "Heap overflow" in text and "Received" in text and "We can reproduce it." in text
    assert f"{report.first_response_due_at:%Y-%m-%d %H:%M}" in text
    assert "no-store" in response["Cache-Control"]


def test_a_link_with_another_reports_token_is_404_and_shows_nothing(client):
    mine, theirs = ReportFactory(subject="Mine"), ReportFactory(subject="Theirs, private")
    url = reverse(
        "intake:report_track", kwargs={"reference": theirs.reference, "token": report_token(mine)}
    )

    for response in (client.get(url), client.post(url, {"body": "Hello"})):
        assert response.status_code == 404
        assert b"Theirs, private" not in response.content
    assert ReportMessage.objects.count() == 0


def test_the_reporter_replies_with_a_file_and_staff_hear_of_it_without_the_text(
    client, staff_reviewer, django_capture_on_commit_callbacks
):
    report = ReportFactory()
    upload = SimpleUploadedFile("log.txt", b"stack trace")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(track_url(report), {"body": SECRET_DETAIL, "attachments": [upload]})

    assert response.status_code == 302
    message = report.messages.get()
    assert (message.author, message.body) == ("reporter", SECRET_DETAIL)
    assert message.attachments.get().name == "log.txt"
    [note] = mail.outbox
    assert note.to == [staff_reviewer.email] and SECRET_DETAIL not in note.body


@pytest.mark.parametrize(
    "change, field",
    [
        ({"subject": ""}, "subject"),
        ({"reporter_email": "not an address"}, "reporter_email"),
        ({"reproduce": "", "effects": "", "impact": ""}, "reproduce"),
        ({"website": "http://spam.example"}, "website"),
        (
            {"reporter_public_key": "-----BEGIN PGP PUBLIC KEY BLOCK-----\nnope"},
            "reporter_public_key",
        ),
        ({"encrypted_message": "just text"}, "encrypted_message"),
    ],
)
def test_bad_input_is_a_message_beside_the_field_and_stores_nothing(client, change, field):
    before = nothing_changed()
    response = client.post(FORM, report_data(**change))
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert nothing_changed() == before and mail.outbox == []


def test_an_oversized_attachment_is_refused_by_name_and_stores_nothing(client, settings):
    settings.HAULOUT_REPORT_ATTACHMENT_MAX_BYTES = 1024 * 1024
    big = SimpleUploadedFile("core.dump", b"x" * (1024 * 1024 + 1))
    before = nothing_changed()

    response = client.post(FORM, {**report_data(), "attachments": [big]})

    assert response.status_code == 400
    assert "core.dump is larger than 1 MiB" in " ".join(
        response.context["form"].errors["attachments"]
    )
    assert nothing_changed() == before
    assert not (settings.HAULOUT_REPORT_FILES_DIR).exists() or not any(
        settings.HAULOUT_REPORT_FILES_DIR.rglob("*.*")
    )


def test_too_many_files_are_refused_with_the_limit_and_store_nothing(client, settings):
    settings.HAULOUT_REPORT_ATTACHMENTS_MAX = 2
    files = [SimpleUploadedFile(f"f{n}.txt", b"x") for n in range(3)]
    before = nothing_changed()

    response = client.post(FORM, {**report_data(), "attachments": files})

    assert response.status_code == 400
    assert "At most 2 files" in " ".join(response.context["form"].errors["attachments"])
    assert nothing_changed() == before


def test_a_request_larger_than_every_limit_together_is_refused_unread(client, settings):
    settings.HAULOUT_REPORT_ATTACHMENTS_MAX = 1
    settings.HAULOUT_REPORT_ATTACHMENT_MAX_BYTES = 1024
    before = nothing_changed()

    response = client.post(FORM, {**report_data(), "reproduce": "y" * (3 * 1024 * 1024)})

    assert response.status_code == 413
    assert "too much to send at once" in response.content.decode()
    assert nothing_changed() == before


def test_an_address_sending_too_many_reports_in_an_hour_is_told_to_wait(client, settings):
    settings.HAULOUT_REPORTS_PER_HOUR = 2
    for _ in range(2):
        assert client.post(FORM, report_data()).status_code == 302
    before = nothing_changed()

    response = client.post(FORM, report_data())

    assert response.status_code == 400
    assert "Too many reports from you" in response.content.decode()
    assert nothing_changed() == before


def test_one_client_sending_as_many_addresses_is_limited_too(client, settings):
    settings.HAULOUT_REPORTS_PER_HOUR = 2
    for n in range(2):
        client.post(FORM, report_data(reporter_email=f"r{n}@example.net"))
    response = client.post(FORM, report_data(reporter_email="r9@example.net"))
    assert response.status_code == 400 and Report.objects.count() == 2


def test_a_reporter_key_is_pinned_and_team_news_reaches_them_encrypted(
    client, staff_reviewer, team_key, person_keys, mfa_client, django_capture_on_commit_callbacks
):
    [person] = person_keys(1)
    client.post(FORM, report_data(reporter_email=person.email, reporter_public_key=person.armored))
    report = Report.objects.get()
    assert report.reporter_key_fingerprint == person.fingerprint
    mail.outbox.clear()

    http = mfa_client(staff_reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        http.post(reverse("intake:staff_reply", args=[report.pk]), {"body": "We can reproduce it."})

    [news] = mail.outbox
    wire = news.message().as_bytes()
    assert b"We can reproduce it." not in wire and b"BEGIN PGP MESSAGE" in wire
    opened = gpg_run(person.home, "--decrypt", stdin=_armored(wire).encode(), check=False).stdout
    assert b"We can reproduce it." in opened


def _armored(wire: bytes) -> str:
    found = re.search(rb"-----BEGIN PGP MESSAGE-----.*?-----END PGP MESSAGE-----", wire, re.S)
    return found.group(0).decode()
