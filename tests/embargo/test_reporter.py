"""The reporter of a case: recorded with an optional pinned key, told (encrypted, or by a
mail without details) when the case is rejected or its disclosure date moves; the first
response and the staff reminder when it is overdue; the public description."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from embargo.models import Vulnerability
from embargo.services import cases as cases_services
from embargo.services import (
    vulnerability_create,
    vulnerability_disclose,
    vulnerability_disclosure_move,
    vulnerability_reject,
    vulnerability_update,
)
from embargo.services.reporter import (
    REPORTER_OUTER_SUBJECT,
    first_response_due_for_alert,
    first_response_overdue_alert,
    vulnerability_first_response_record,
)
from pgpmail import crypto
from pgpmail import keys as pgp
from tests.embargo.views_world import world_build
from tests.factories import StaffFactory, VulnerabilityFactory
from tests.keys import gpg_decrypt, load

pytestmark = pytest.mark.django_db

TITLE = "Walrus reporter canary: integer overflow in the chunk parser"
SUMMARY = "Private: the walrus reporter canary found it with a fuzzer."
REASON = "Walrus reporter canary reason: the parser is never reachable from input."
REPORTER = "finder@research.example.org"


@pytest.fixture
def reporter_key():
    report = pgp.key_inspect(armored=load("good-cv25519"))
    return report.armored, report.fingerprint


@pytest.fixture
def signing_team(team_key):
    crypto.worker_home_close()
    yield team_key
    crypto.worker_home_close()


def case_with_reporter(*, key: str = "", email_address: str = REPORTER, **extra) -> Vulnerability:
    case = vulnerability_create(
        actor=StaffFactory(),
        title=TITLE,
        summary=SUMMARY,
        disclosure_at=timezone.now() + timedelta(days=10),
        reporter_name="Fran Finder",
        reporter_email=email_address,
        reporter_public_key=key,
        **extra,
    )
    case.state = Vulnerability.State.TRIAGED
    case.save(update_fields=["state"])
    return case


def raw_of(message) -> bytes:
    return message.message().as_bytes()


def assert_nothing_sensitive(raw: bytes, case: Vulnerability) -> None:
    for secret in (TITLE, SUMMARY, REASON, case.public_id, "overflow", "chunk parser"):
        assert secret.encode() not in raw, secret


# ---------------------------------------------------------------- recording the reporter


def test_a_case_records_its_reporter_and_pins_the_reporters_key(reporter_key):
    armored, fingerprint = reporter_key
    before = timezone.now()
    case = case_with_reporter(key=armored)

    case.refresh_from_db()
    assert case.reporter_name == "Fran Finder" and case.reporter_email == REPORTER
    assert case.reporter_key_fingerprint == fingerprint
    assert "PUBLIC KEY BLOCK" in case.reporter_public_key
    assert before <= case.reported_at <= timezone.now()
    assert case.first_response_at is None


@pytest.mark.parametrize("name", ["expired", "revoked", "garbage", "good-cv25519.secret"])
def test_an_unusable_reporter_key_is_refused_and_nothing_is_stored(name):
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as error:
        case_with_reporter(key=load(name))
    assert "reporter_public_key" in error.value.error_dict
    assert Vulnerability.objects.count() == 0
    assert AuditEvent.objects.count() == events


def test_a_report_cannot_have_arrived_in_the_future():
    with pytest.raises(ValidationError) as error:
        case_with_reporter(reported_at=timezone.now() + timedelta(days=1))
    assert "reported_at" in error.value.error_dict
    assert Vulnerability.objects.count() == 0


def test_an_unchanged_reporter_key_is_not_inspected_again_on_edit(reporter_key, monkeypatch):
    armored, fingerprint = reporter_key
    case = case_with_reporter(key=armored)

    def refuse(**kwargs):
        raise AssertionError("the unchanged key was inspected again")

    # Where the service looks the name up: patching pgpmail.keys would not reach it.
    monkeypatch.setattr(cases_services, "key_inspect", refuse)
    # A browser sends the textarea back with CRLF line ends.
    vulnerability_update(
        vulnerability=case,
        actor=case.created_by,
        title="A new title",
        reporter_public_key=case.reporter_public_key.replace("\n", "\r\n"),
    )

    case.refresh_from_db()
    assert case.reporter_key_fingerprint == fingerprint
    event = AuditEvent.objects.filter(action="vulnerability.updated").latest("pk")
    assert event.data == {"fields": ["title"]}


def test_removing_the_reporter_key_unpins_it(reporter_key):
    case = case_with_reporter(key=reporter_key[0])
    vulnerability_update(vulnerability=case, actor=case.created_by, reporter_public_key="")
    case.refresh_from_db()
    assert case.reporter_public_key == "" and case.reporter_key_fingerprint == ""


# ---------------------------------------------------------------- telling the reporter


def decrypt_only_message(case, reporter_key_secret: str) -> tuple[email.message.Message, str]:
    assert len(mail.outbox) == 1
    raw = raw_of(mail.outbox[0])
    assert_nothing_sensitive(raw, case)
    outer = email.message_from_bytes(raw, policy=email.policy.default)
    assert outer.get_content_type() == "multipart/encrypted"
    assert outer["Subject"] == REPORTER_OUTER_SUBJECT
    assert outer["To"] == REPORTER
    body = outer.get_payload()[1].get_payload()
    code, plaintext, status = gpg_decrypt(
        body, secret=reporter_key_secret, signer_public=crypto.team_public_key_armored()
    )
    assert code == 0, status
    inner = email.message_from_bytes(plaintext, policy=email.policy.default)
    return inner, status


def test_a_rejection_reaches_the_reporter_encrypted_to_their_key_and_signed(
    reporter_key, signing_team, django_capture_on_commit_callbacks
):
    case = case_with_reporter(key=reporter_key[0])
    with django_capture_on_commit_callbacks(execute=True):
        vulnerability_reject(vulnerability=case, actor=case.created_by, reason=REASON)

    inner, status = decrypt_only_message(case, load("good-cv25519.secret"))
    assert f"[GNUPG:] VALIDSIG {signing_team} " in status
    assert TITLE in inner["Subject"]
    text = inner.get_content()
    assert REASON in text and case.public_id in text
    told = AuditEvent.objects.get(action="vulnerability.reporter_told")
    assert told.data["encrypted"] is True


def test_a_moved_disclosure_date_reaches_the_reporter_encrypted(
    reporter_key, signing_team, django_capture_on_commit_callbacks
):
    case = case_with_reporter(key=reporter_key[0])
    earlier = (timezone.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    with django_capture_on_commit_callbacks(execute=True):
        vulnerability_disclosure_move(
            vulnerability=case, actor=case.created_by, disclosure_at=earlier
        )

    inner, _ = decrypt_only_message(case, load("good-cv25519.secret"))
    assert earlier.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") in inner.get_content()


def test_the_encrypted_update_goes_over_smtp_as_the_bytes_that_were_encrypted(
    reporter_key, signing_team, settings, django_capture_on_commit_callbacks
):
    # The reporter's mail takes the delivery path's SMTP sender (delivery_mail.smtp_send):
    # through a real SMTP server it arrives whole, CRLF, and decrypts for the reporter.
    from embargo.delivery.mail import connection_drop
    from tests.embargo.realservices import smtp_start

    sink, controller = smtp_start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        case = case_with_reporter(key=reporter_key[0])
        with django_capture_on_commit_callbacks(execute=True):
            vulnerability_reject(vulnerability=case, actor=case.created_by, reason=REASON)
    finally:
        connection_drop()
        controller.stop()

    assert [message.rcpt_tos for message in sink.messages] == [[REPORTER]]
    raw = sink.messages[0].data
    assert_nothing_sensitive(raw, case)
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    outer = email.message_from_bytes(raw, policy=email.policy.default)
    assert outer.get_content_type() == "multipart/encrypted"
    assert outer["Subject"] == REPORTER_OUTER_SUBJECT
    code, plaintext, status = gpg_decrypt(
        outer.get_payload()[1].get_payload(),
        secret=load("good-cv25519.secret"),
        signer_public=crypto.team_public_key_armored(),
    )
    assert code == 0, status
    assert f"[GNUPG:] VALIDSIG {signing_team} " in status
    assert REASON in email.message_from_bytes(plaintext, policy=email.policy.default).get_content()
    assert AuditEvent.objects.get(action="vulnerability.reporter_told").data["encrypted"] is True


def assert_only_the_content_free_mail(case) -> None:
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [REPORTER]
    raw = raw_of(message)
    assert_nothing_sensitive(raw, case)
    assert b"PGP MESSAGE" not in raw
    assert "status of the security report" in message.body
    assert case.disclosure_at.strftime("%Y-%m-%d") not in message.body
    told = AuditEvent.objects.get(action="vulnerability.reporter_told")
    assert told.data["encrypted"] is False


def test_without_a_reporter_key_the_rejection_mail_says_nothing_about_the_case(
    django_capture_on_commit_callbacks,
):
    case = case_with_reporter()
    with django_capture_on_commit_callbacks(execute=True):
        vulnerability_reject(vulnerability=case, actor=case.created_by, reason=REASON)
    assert_only_the_content_free_mail(case)


def test_without_a_reporter_key_a_date_move_mail_says_nothing_about_the_case(
    django_capture_on_commit_callbacks,
):
    case = case_with_reporter()
    with django_capture_on_commit_callbacks(execute=True):
        vulnerability_disclosure_move(
            vulnerability=case,
            actor=case.created_by,
            disclosure_at=timezone.now() + timedelta(days=4),
        )
    assert_only_the_content_free_mail(case)


def test_when_encryption_fails_the_reporter_gets_only_the_mail_without_details(
    reporter_key, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.HAULOUT_TEAM_KEY_FILE = tmp_path / "missing-team-key.asc"
    crypto.worker_home_close()
    case = case_with_reporter(key=reporter_key[0])
    with django_capture_on_commit_callbacks(execute=True):
        vulnerability_reject(vulnerability=case, actor=case.created_by, reason=REASON)
    assert_only_the_content_free_mail(case)


def test_without_a_reporter_address_nobody_is_mailed(django_capture_on_commit_callbacks):
    case = case_with_reporter(email_address="")
    with django_capture_on_commit_callbacks(execute=True):
        vulnerability_reject(vulnerability=case, actor=case.created_by, reason=REASON)
    assert mail.outbox == []
    assert not AuditEvent.objects.filter(action="vulnerability.reporter_told").exists()


def test_the_reporter_task_is_queued_with_ids_only(monkeypatch, django_capture_on_commit_callbacks):
    from embargo.tasks import reporter_update_task

    queued = []
    monkeypatch.setattr(
        reporter_update_task, "apply_async", lambda args=(), **kwargs: queued.append(args)
    )
    case = case_with_reporter()
    with django_capture_on_commit_callbacks(execute=True):
        vulnerability_reject(vulnerability=case, actor=case.created_by, reason=REASON)
    event = AuditEvent.objects.get(action="vulnerability.rejected")
    assert queued == [(case.pk, event.pk)]


def test_a_refused_rejection_queues_nothing_for_the_reporter(django_capture_on_commit_callbacks):
    case = case_with_reporter()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError):
        vulnerability_reject(vulnerability=case, actor=case.created_by, reason="   ")
    assert mail.outbox == []


# ---------------------------------------------------------------- first response


def test_recording_the_first_response_is_audited_once():
    case = case_with_reporter()
    vulnerability_first_response_record(vulnerability=case, actor=case.created_by)
    case.refresh_from_db()
    recorded = case.first_response_at
    assert recorded is not None
    events = AuditEvent.objects.count()

    with pytest.raises(ValidationError):
        vulnerability_first_response_record(vulnerability=case, actor=case.created_by)

    case.refresh_from_db()
    assert case.first_response_at == recorded
    assert AuditEvent.objects.count() == events
    assert AuditEvent.objects.filter(action="vulnerability.first_response_recorded").count() == 1


def test_the_case_alert_counts_business_days_by_the_team_calendar(settings):
    settings.HAULOUT_TEAM_TIME_ZONE = "UTC"
    settings.HAULOUT_HOLIDAYS_COUNTRY = "US"
    friday = VulnerabilityFactory(reported_at=datetime(2026, 11, 27, 10, 0, tzinfo=UTC))
    assert first_response_due_for_alert(friday) == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    # Thanksgiving, Thursday 26 November, is not a business day.
    wednesday = VulnerabilityFactory(reported_at=datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    assert first_response_due_for_alert(wednesday) == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def test_staff_are_told_once_about_a_report_without_first_response_after_two_business_days(
    staff_reviewer, django_capture_on_commit_callbacks
):
    friday = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    waiting = VulnerabilityFactory(title=TITLE, reported_at=friday)
    answered = VulnerabilityFactory(reported_at=friday, first_response_at=friday)
    closed = VulnerabilityFactory(reported_at=friday, state=Vulnerability.State.REJECTED)

    def alert(now):
        with django_capture_on_commit_callbacks(execute=True):
            return first_response_overdue_alert(now=now)

    assert alert(datetime(2026, 11, 30, 23, 0, tzinfo=UTC)) == 0
    assert mail.outbox == []

    assert alert(datetime(2026, 12, 1, 10, 1, tzinfo=UTC)) == 1
    # One message per staff member (the factories' case authors are staff too).
    assert staff_reviewer.email in {message.to[0] for message in mail.outbox}
    for message in mail.outbox:
        assert waiting.public_id in message.body
        assert answered.public_id not in message.body and closed.public_id not in message.body
        assert TITLE not in message.body and TITLE not in message.subject
    waiting.refresh_from_db()
    assert waiting.first_response_alerted_at is not None
    sent = len(mail.outbox)

    assert alert(datetime(2026, 12, 2, 10, 0, tzinfo=UTC)) == 0
    assert len(mail.outbox) == sent


def test_the_overdue_check_runs_from_beat_and_its_task_is_registered(settings):
    from config.celery import app

    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "embargo.tasks.first_response_overdue_task" in scheduled
    assert "embargo.tasks.first_response_overdue_task" in app.tasks
    assert "embargo.tasks.reporter_update_task" in app.tasks


# ---------------------------------------------------------------- pages


def first_response_url(case) -> str:
    return reverse("embargo:case_first_response", kwargs={"pk": case.pk})


def test_anonymous_visitors_cannot_record_a_first_response(client):
    world = world_build()
    response = client.post(first_response_url(world.case))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    world.case.refresh_from_db()
    assert world.case.first_response_at is None


@pytest.mark.parametrize("who", ["owner", "other"])
def test_distributors_get_404_when_recording_a_first_response(who, mfa_client):
    world = world_build()
    events = AuditEvent.objects.count()
    http = mfa_client(world.owner if who == "owner" else world.other)
    assert http.post(first_response_url(world.case)).status_code == 404
    world.case.refresh_from_db()
    assert world.case.first_response_at is None
    assert AuditEvent.objects.count() == events


def test_staff_record_the_first_response_from_the_case_page(mfa_client, staff_reviewer):
    world = world_build()
    http = mfa_client(staff_reviewer)
    page = http.get(reverse("embargo:case_detail", kwargs={"pk": world.case.pk})).content.decode()
    assert "First response sent" in page

    response = http.post(first_response_url(world.case))

    assert response.status_code == 302
    world.case.refresh_from_db()
    assert world.case.first_response_at is not None
    page = http.get(reverse("embargo:case_detail", kwargs={"pk": world.case.pk})).content.decode()
    assert "First response sent" not in page
    assert http.get(first_response_url(world.case)).status_code == 405


def test_staff_see_a_warning_when_the_reporter_has_no_key(mfa_client, staff_reviewer, reporter_key):
    http = mfa_client(staff_reviewer)
    without = case_with_reporter()
    page = http.get(reverse("embargo:case_detail", kwargs={"pk": without.pk})).content.decode()
    assert "No PGP key for the reporter" in page and REPORTER in page

    with_key = VulnerabilityFactory(
        reporter_email=REPORTER,
        reporter_public_key=reporter_key[0],
        reporter_key_fingerprint=reporter_key[1],
    )
    page = http.get(reverse("embargo:case_detail", kwargs={"pk": with_key.pk})).content.decode()
    assert "No PGP key for the reporter" not in page and reporter_key[1] in page


def test_staff_open_a_case_with_its_reporter_through_the_form(
    mfa_client, staff_reviewer, reporter_key
):
    http = mfa_client(staff_reviewer)
    response = http.post(
        reverse("embargo:case_create"),
        {
            "title": "Reported through the form",
            "summary": "Private.",
            "reporter_name": "Fran Finder",
            "reporter_email": REPORTER,
            "reporter_public_key": reporter_key[0],
            "reported_at": "2026-11-20T09:30",
            "public_description": "A *crafted* file crashes the parser.",
        },
    )
    assert response.status_code == 302
    case = Vulnerability.objects.get(title="Reported through the form")
    assert case.reporter_key_fingerprint == reporter_key[1]
    assert case.reported_at == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    assert case.public_description == "A *crafted* file crashes the parser."


def test_a_bad_reporter_key_in_the_form_is_shown_beside_the_field(mfa_client, staff_reviewer):
    http = mfa_client(staff_reviewer)
    response = http.post(
        reverse("embargo:case_create"),
        {"title": "T", "summary": "S", "reporter_public_key": load("expired")},
    )
    assert response.status_code == 400
    assert Vulnerability.objects.count() == 0
    assert "errorlist" in response.content.decode()


def test_the_public_advisory_shows_the_public_description_never_the_summary(client):
    case = VulnerabilityFactory(
        summary="Private summary naming the reporter",
        public_description="Public words about the *parser*.",
        state=Vulnerability.State.FIXING,
    )
    url = reverse("embargo:advisory_detail", kwargs={"public_id": case.public_id})
    assert client.get(url).status_code == 404

    vulnerability_disclose(vulnerability=case)
    page = client.get(url).content.decode()

    assert "Public words about the <em>parser</em>." in page
    assert "Private summary naming the reporter" not in page
