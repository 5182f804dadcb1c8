"""Sending one copy (real gpg, Django's test outbox): claims, checks, failing closed."""

from __future__ import annotations

import smtplib
from datetime import date, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from core.models import AuditEvent
from devsupport.keyring import gpg_run
from distributors.eligibility import Reason
from distributors.models import Organization, PgpKey
from embargo.delivery.mail import connection_drop
from embargo.delivery.outcomes import retry_delay
from embargo.delivery.pipeline import Wiring
from embargo.models import Delivery, Notice, Vulnerability
from embargo.services import DeliveryDeferred, deliveries_sweep, delivery_send, notice_send
from embargo.tasks import delivery_send_task
from pgpmail import crypto
from tests.embargo.gpgcheck import (
    decrypt,
    encrypted_part,
    inner_text,
    pubkey_packets,
    signed_by,
)
from tests.embargo.helpers import CANARY, bulk_people, case_ready, notice_draft

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(person_keys, team_key, monkeypatch, settings):
    """Three eligible people with real keys and a notice pressed "send" (tasks held back)."""
    settings.HAULOUT_SITE_URL = "https://haulout.example.org"
    settings.SITE_URL = "https://haulout.example.org"
    monkeypatch.setattr(delivery_send_task, "apply_async", lambda *a, **k: None)
    keys = person_keys(3)
    people = bulk_people(keys)
    case = case_ready()
    notice = notice_draft(case=case)
    notice_send(notice=notice, actor=case.created_by)
    yield {"keys": {k.email: k for k in keys}, "people": people, "case": case, "notice": notice}
    crypto.worker_home_close()


def _row(world, index=0) -> Delivery:
    return Delivery.objects.get(notice=world["notice"], user=world["people"][index].user)


def test_a_copy_is_pgp_mime_for_the_pinned_key_signed_by_the_team(world, team_key):
    row = _row(world)
    key = world["keys"][row.email]
    assert delivery_send(delivery_id=row.pk) == Delivery.State.SENT
    assert len(mail.outbox) == 1
    raw = mail.outbox[0].message().as_bytes()
    message, ciphertext = encrypted_part(raw)
    assert message["Subject"] == "Embargoed notice from the security team"
    assert message["Message-ID"] == row.message_id
    assert mail.outbox[0].to == [row.email]
    assert CANARY.encode() not in raw and row.reference_code.encode() not in raw
    gpg_run(key.home, "--import", stdin=crypto.team_public_key_armored().encode())
    ok, plaintext, status = decrypt(key.home, ciphertext)
    assert ok, status
    assert signed_by(status) == team_key
    subject, text = inner_text(plaintext)
    assert subject == "Patch available: Heap overflow in the tarball unpacker"
    assert CANARY in text
    assert f"Your reference: {row.reference_code}" in text
    assert f"https://haulout.example.org/notices/ack/{row.reference_code}/" in text
    disclosure = world["case"].disclosure_at.strftime("%Y-%m-%d %H:%M UTC")
    assert f"Disclosure: {disclosure}" in text
    assert len(pubkey_packets(key.home, ciphertext)) == 1
    row.refresh_from_db()
    assert row.state == Delivery.State.SENT and row.sent_at is not None
    assert AuditEvent.objects.filter(action="delivery.sent", target_id=str(row.pk)).count() == 1


def test_the_copy_says_where_the_fix_stands_as_sending_finds_it(world, team_key):
    row = _row(world)
    key = world["keys"][row.email]
    Vulnerability.objects.filter(pk=world["case"].pk).update(
        fix_state="released", fix_version="2.4.1", fix_released_on=date(2026, 12, 1)
    )
    assert delivery_send(delivery_id=row.pk) == Delivery.State.SENT
    _message, ciphertext = encrypted_part(mail.outbox[0].message().as_bytes())
    gpg_run(key.home, "--import", stdin=crypto.team_public_key_armored().encode())
    ok, plaintext, status = decrypt(key.home, ciphertext)
    assert ok, status
    _subject, text = inner_text(plaintext)
    assert "Fix: Released in 2.4.1 on 2026-12-01" in text
    assert b"2.4.1" not in mail.outbox[0].message().as_bytes()


def test_a_claimed_copy_is_not_sent_a_second_time(world):
    row = _row(world)
    assert delivery_send(delivery_id=row.pk) == Delivery.State.SENT
    assert delivery_send(delivery_id=row.pk) == "skipped"
    Delivery.objects.filter(pk=row.pk).update(state=Delivery.State.SENDING)
    assert delivery_send(delivery_id=row.pk) == "skipped"
    assert len(mail.outbox) == 1


def test_the_notice_is_sent_when_every_copy_is_final(world):
    rows = list(Delivery.objects.filter(notice=world["notice"]))
    for row in rows[:-1]:
        delivery_send(delivery_id=row.pk)
        world["notice"].refresh_from_db()
        assert world["notice"].state == Notice.State.SENDING
    delivery_send(delivery_id=rows[-1].pk)
    world["notice"].refresh_from_db()
    assert world["notice"].state == Notice.State.SENT
    assert AuditEvent.objects.filter(action="notice.sent").count() == 1


def test_a_person_whose_organisation_was_suspended_is_cancelled_unsent(world):
    row = _row(world)
    Organization.objects.filter(pk=row.organization_id).update(status=Organization.Status.SUSPENDED)
    assert delivery_send(delivery_id=row.pk) == Delivery.State.CANCELLED
    row.refresh_from_db()
    assert row.reasons == [Reason.ORG_SUSPENDED]
    assert mail.outbox == []


def test_a_key_replaced_after_send_cancels_the_copy(world):
    row = _row(world)
    PgpKey.objects.filter(user_id=row.user_id).update(fingerprint="A" * 40)
    assert delivery_send(delivery_id=row.pk) == Delivery.State.CANCELLED
    row.refresh_from_db()
    assert row.reasons == ["key_changed"]
    assert mail.outbox == []


def test_a_key_that_expired_before_disclosure_cancels_the_copy(world):
    row = _row(world)
    PgpKey.objects.filter(user_id=row.user_id).update(expires_at=timezone.now() + timedelta(days=1))
    assert delivery_send(delivery_id=row.pk) == Delivery.State.CANCELLED
    row.refresh_from_db()
    assert row.reasons == [Reason.KEY_EXPIRES_BEFORE_DISCLOSURE]
    assert mail.outbox == []


def test_a_gpg_failure_fails_the_copy_and_sends_nothing(world):
    row = _row(world)
    # Armor that is not the pinned key: gpg refuses, and nothing falls back to clear text.
    other = world["keys"][_row(world, 1).email].armored
    PgpKey.objects.filter(user_id=row.user_id).update(armored=other)
    assert delivery_send(delivery_id=row.pk) == Delivery.State.FAILED
    row.refresh_from_db()
    assert row.failure_reason.startswith("Encryption failed")
    assert mail.outbox == []


def test_a_missing_team_key_sends_nothing_and_the_copy_waits_for_it(world, settings, tmp_path):
    # Not the recipient's fault: the copy waits (no plaintext, no failure) and the worker
    # says it cannot encrypt; once the key is back, the copy goes.
    from embargo.delivery.health import gpg_faults

    key_file = settings.HAULOUT_TEAM_KEY_FILE
    settings.HAULOUT_TEAM_KEY_FILE = tmp_path / "missing.asc"
    row = _row(world)
    with pytest.raises(DeliveryDeferred, match="cannot be read"):
        delivery_send(delivery_id=row.pk)
    assert mail.outbox == []
    row.refresh_from_db()
    assert row.state == Delivery.State.PENDING and row.temporary_failures == 1
    assert any("cannot be read" in fault["reason"] for fault in gpg_faults().values())
    settings.HAULOUT_TEAM_KEY_FILE = key_file
    assert delivery_send(delivery_id=row.pk) == Delivery.State.SENT
    assert gpg_faults() == {}


@pytest.mark.parametrize(
    "error",
    [
        smtplib.SMTPRecipientsRefused({"x@example.org": (451, b"4.3.0 try again later")}),
        smtplib.SMTPServerDisconnected("gone"),
        ConnectionRefusedError(111, "refused"),
        smtplib.SMTPDataError(421, b"4.4.2 timeout"),
    ],
)
def test_a_temporary_smtp_failure_puts_the_copy_back_for_a_retry(world, monkeypatch, error):
    def fail(*args, **kwargs):
        raise error

    wiring = Wiring(hand_off=fail)
    row = _row(world)
    with pytest.raises(DeliveryDeferred):
        delivery_send(delivery_id=row.pk, wiring=wiring)
    row.refresh_from_db()
    assert row.state == Delivery.State.PENDING
    assert row.attempts == 1
    assert delivery_send(delivery_id=row.pk) == Delivery.State.SENT
    row.refresh_from_db()
    assert row.attempts == 2


def test_a_permanent_smtp_refusal_fails_the_copy_with_the_reason(world, monkeypatch):
    def refuse(*args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({"x@example.org": (550, b"5.1.1 no such user")})

    wiring = Wiring(hand_off=refuse)
    row = _row(world)
    assert delivery_send(delivery_id=row.pk, wiring=wiring) == Delivery.State.FAILED
    row.refresh_from_db()
    assert "550" in row.failure_reason and "no such user" in row.failure_reason


def test_temporary_failures_keep_the_copy_waiting_until_its_give_up_time(
    world, monkeypatch, settings, django_capture_on_commit_callbacks
):
    # Celery's retry(max_retries=None) stopped after 3; a count of tries must not end a
    # copy: only its give-up time, hours after the first failure, does.
    settings.HAULOUT_DELIVERY_GIVE_UP_HOURS = 6

    def fail(*args, **kwargs):
        raise smtplib.SMTPServerDisconnected("gone")

    wiring = Wiring(hand_off=fail)
    row = _row(world)
    for _ in range(25):
        with pytest.raises(DeliveryDeferred):
            delivery_send(delivery_id=row.pk, wiring=wiring)
    row.refresh_from_db()
    assert row.state == Delivery.State.PENDING
    assert row.temporary_failures == 25
    assert row.give_up_at - row.created_at >= timedelta(hours=5, minutes=59)
    # One audit event for the run of failures, not one per retry.
    assert AuditEvent.objects.filter(action="delivery.deferred", target_id=str(row.pk)).count() == 1
    Delivery.objects.filter(pk=row.pk).update(give_up_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery_send(delivery_id=row.pk, wiring=wiring) == Delivery.State.FAILED
    row.refresh_from_db()
    assert "Gave up after 26 temporary failures over 6 hours" in row.failure_reason
    # Staff hear of it, in a mail with no content but the count and the link.
    alerts = [m for m in mail.outbox if "need attention" in m.subject]
    assert len(alerts) == 1 and "1 copy of notice" in alerts[0].body


def test_the_backoff_doubles_up_to_its_cap(settings):
    settings.HAULOUT_DELIVERY_RETRY_MAX_SECONDS = 30
    delays = [retry_delay(n) for n in range(1, 9)]
    assert [int(delay) for delay in delays] == [1, 2, 4, 8, 16, 30, 30, 30]


def test_the_sweeper_requeues_due_rows_and_rows_whose_lease_ran_out(world, monkeypatch):
    queued = []
    # Each task carries a list of ids (a batch); the sweeper's rows share one here.
    monkeypatch.setattr(
        delivery_send_task, "apply_async", lambda args=None, **k: queued.extend(args[0])
    )
    rows = list(Delivery.objects.filter(notice=world["notice"]).order_by("pk"))
    now = timezone.now()
    Delivery.objects.filter(pk=rows[0].pk).update(due_at=now - timedelta(seconds=1))
    Delivery.objects.filter(pk=rows[1].pk).update(
        state=Delivery.State.SENDING,
        claimed_at=now - timedelta(minutes=1),
        lease_until=now - timedelta(seconds=1),
        attempts=1,
    )
    # rows[2]: queued just now, due later: still in the queue, left alone.
    Delivery.objects.filter(pk=rows[2].pk).update(due_at=now + timedelta(seconds=30))
    assert deliveries_sweep() == 2
    assert sorted(queued) == [rows[0].pk, rows[1].pk]
    assert Delivery.objects.get(pk=rows[1].pk).state == Delivery.State.PENDING
    assert AuditEvent.objects.filter(action="delivery.lease_expired").count() == 1
    # The re-queued copy keeps its Message-ID.
    assert Delivery.objects.get(pk=rows[1].pk).message_id == rows[1].message_id
    queued.clear()
    assert deliveries_sweep() == 0
    assert queued == []


def test_the_sweeper_leaves_a_row_whose_lease_still_runs(world, monkeypatch):
    monkeypatch.setattr(delivery_send_task, "apply_async", lambda *a, **k: None)
    row = Delivery.objects.filter(notice=world["notice"]).order_by("pk").first()
    now = timezone.now()
    Delivery.objects.filter(pk=row.pk).update(
        state=Delivery.State.SENDING,
        claimed_at=now - timedelta(hours=1),  # long ago, but renewed since
        lease_until=now + timedelta(seconds=20),
        attempts=1,
    )
    deliveries_sweep()
    assert Delivery.objects.get(pk=row.pk).state == Delivery.State.SENDING


def test_a_copy_goes_over_real_smtp_with_crlf_and_one_reused_connection(world, settings):
    from tests.embargo.realservices import smtp_start

    sink, controller = smtp_start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
        rows = list(Delivery.objects.filter(notice=world["notice"]))
        for row in rows:
            assert delivery_send(delivery_id=row.pk) == Delivery.State.SENT
        assert sink.count() == 3
        assert {m.rcpt_tos[0] for m in sink.messages} == {row.email for row in rows}
        encrypted_part(sink.messages[0].data)
        # One connection for all three: the handshake is not paid per message.
        assert len({message.peer for message in sink.messages}) == 1
    finally:
        connection_drop()
        controller.stop()
