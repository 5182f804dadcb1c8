"""Delivery under faults, one process (issue 15): leases, ambiguous hand-offs, a mail
server or gpg that is down, a task's time budget, the sweeper's own queue. The same
faults with real worker processes, Redis, PostgreSQL and SMTP: test_real_faults*.py."""

from __future__ import annotations

import hashlib
import smtplib
import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from core.models import AuditEvent
from embargo.delivery import health as worker_health
from embargo.delivery import mail as delivery_mail
from embargo.delivery import pipeline as pipeline_module
from embargo.delivery import rows as delivery_rows
from embargo.delivery.mail import smtp_send
from embargo.delivery.outcomes import DEFERRED, RELEASED, SKIPPED
from embargo.delivery.pipeline import Wiring
from embargo.delivery.send import deliveries_send, deliveries_send_batch
from embargo.models import Delivery
from embargo.services import deliveries_sweep, notice_send
from embargo.tasks import delivery_send_task
from pgpmail import crypto
from pgpmail import smtp as smtpio
from tests.embargo.helpers import bulk_people, case_ready, notice_draft
from tests.embargo.realservices import smtp_start


@pytest.fixture
def rows(person_keys, team_key, monkeypatch, settings, db):
    settings.SITE_URL = "https://haulout.example.org"
    monkeypatch.setattr(delivery_send_task, "apply_async", lambda *a, **k: None)
    bulk_people(person_keys(4))
    case = case_ready()
    notice = notice_draft(case=case)
    notice_send(notice=notice, actor=case.created_by)
    yield list(Delivery.objects.filter(notice=notice).order_by("pk"))
    crypto.worker_home_close()


@pytest.fixture
def smtp(settings):
    sink, controller = smtp_start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    yield sink, controller
    delivery_mail.connection_drop()
    controller.stop()


class Clock:
    """A stand-in for time.monotonic: a worker frozen (SIGSTOP) sees time jump."""

    def __init__(self, real):
        self.real, self.offset = real, 0.0

    def __call__(self) -> float:
        return self.real() + self.offset


def _ids(rows) -> list[int]:
    return [row.pk for row in rows]


# ---------------------------------------------------------------- leases


def test_a_claim_is_a_lease_and_renewing_extends_only_our_rows(rows, settings):
    settings.HAULOUT_DELIVERY_LEASE_SECONDS = 30
    before = timezone.now()
    claimed = dict(
        (row.pk, attempt)
        for row, attempt in delivery_rows.deliveries_claim(delivery_ids=_ids(rows))
    )
    leases = dict(Delivery.objects.values_list("pk", "lease_until"))
    assert all(before + timedelta(seconds=29) < lease for lease in leases.values())
    # Another worker has since taken the first row (the sweeper handed it on).
    Delivery.objects.filter(pk=rows[0].pk).update(attempts=claimed[rows[0].pk] + 1)
    renewed = delivery_rows.deliveries_lease_renew(claimed=claimed)
    assert renewed == set(_ids(rows[1:]))


def test_a_worker_frozen_past_its_lease_sends_none_of_the_copies_it_lost(
    rows, monkeypatch, settings, smtp
):
    # The issue: a worker stopped for 7 minutes woke and sent its whole remaining batch
    # after the sweeper had handed the rows on (60 duplicates). Now it checks its lease
    # before every hand-off and sends only what is still its own.
    sink, _ = smtp
    settings.HAULOUT_DELIVERY_LEASE_SECONDS = 30
    clock = Clock(time.monotonic)

    real_send = smtp_send
    handed_off = []

    def send_then_freeze(wire, **kwargs):
        real_send(wire, **kwargs)
        handed_off.append(kwargs["to"])
        if len(handed_off) == 1:
            # Frozen for seven minutes; meanwhile the sweeper takes back the batch.
            clock.offset += 7 * 60
            later = timezone.now() + timedelta(minutes=7)
            assert len(deliveries_sweep_at(later)) == len(rows)

    wiring = Wiring(clock=clock, hand_off=send_then_freeze)
    outcomes = deliveries_send(delivery_ids=_ids(rows), wiring=wiring)
    # Only the copy in hand when it froze went out; it may go again (once, with the
    # same Message-ID), as its row was handed on before this worker could mark it.
    assert len(handed_off) == 1 and sink.count() == 1
    assert set(outcomes.values()) == {SKIPPED}
    # Theirs now: pending for another worker, not sent, not failed.
    states = Delivery.objects.filter(pk__in=_ids(rows)).values_list("state", flat=True)
    assert set(states) == {Delivery.State.PENDING}


def deliveries_sweep_at(moment) -> list[int]:
    """The sweeper's first step as if it ran at `moment`, on its own."""
    return delivery_rows.deliveries_lease_expired_take(now=moment)


def test_a_slow_batch_renews_its_lease_and_keeps_its_rows(rows, monkeypatch, settings, smtp):
    sink, _ = smtp
    settings.HAULOUT_DELIVERY_LEASE_SECONDS = 30
    clock = Clock(time.monotonic)

    real_send = smtp_send

    def slow(wire, **kwargs):
        clock.offset += 10  # each hand-off takes a third of the lease
        real_send(wire, **kwargs)

    wiring = Wiring(clock=clock, hand_off=slow)
    outcomes = deliveries_send(delivery_ids=_ids(rows), wiring=wiring)
    assert set(outcomes.values()) == {Delivery.State.SENT}
    assert sink.count() == len(rows)


def test_a_hand_off_is_given_the_time_left_on_the_lease(rows, monkeypatch, settings):
    settings.HAULOUT_DELIVERY_LEASE_SECONDS = 30
    deadlines = []
    wiring = Wiring(hand_off=lambda wire, **kwargs: deadlines.append(kwargs["deadline"]))
    began = time.monotonic()
    deliveries_send(delivery_ids=_ids(rows[:1]), wiring=wiring)
    ended = time.monotonic()
    # Within the lease, less a margin for the sweeper's clock.
    assert began + 30 - 5 <= deadlines[0] <= ended + 30 - 5


# ---------------------------------------------------------------- ambiguous hand-offs


def test_a_message_whose_answer_never_comes_raises_handoff_uncertain(smtp):
    sink, controller = smtp
    sink.drop_after_data = True
    connection = smtplib.SMTP("127.0.0.1", controller.port, timeout=10)
    with pytest.raises(smtpio.HandoffUncertain):
        smtpio.message_send(
            connection, from_addr="a@example.org", to_addr="b@example.org", message=b"x\r\n"
        )
    assert sink.count() == 1  # the server does have it


def test_a_refusal_before_the_message_is_not_uncertain(smtp):
    sink, controller = smtp
    sink.rcpt_reply = lambda address, attempt: "451 4.3.0 later"
    connection = smtplib.SMTP("127.0.0.1", controller.port, timeout=10)
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        smtpio.message_send(
            connection, from_addr="a@example.org", to_addr="b@example.org", message=b"x\r\n"
        )


def test_a_lost_answer_gets_one_more_try_with_the_same_message_id_then_uncertain(
    rows, smtp, django_capture_on_commit_callbacks
):
    # The issue: a server dropping the connection after DATA gave people 11-12 copies.
    sink, _ = smtp
    sink.drop_after_data = True
    row = rows[0]
    assert deliveries_send(delivery_ids=[row.pk])[row.pk] == DEFERRED
    row.refresh_from_db()
    assert row.state == Delivery.State.PENDING and row.uncertain_at is not None
    with django_capture_on_commit_callbacks() as after_commit:
        outcome = deliveries_send(delivery_ids=[row.pk])[row.pk]
    assert outcome == Delivery.State.UNCERTAIN
    row.refresh_from_db()
    assert row.state == Delivery.State.UNCERTAIN
    assert "may have this copy" in row.failure_reason
    copies = sink.by_recipient()[row.email]
    assert len(copies) == 2
    assert all(f"Message-ID: {row.message_id}".encode() in copy.data for copy in copies)
    # Final: nothing sends it a third time, and staff were told.
    assert deliveries_send(delivery_ids=[row.pk])[row.pk] == SKIPPED
    sink.drop_after_data = False
    for callback in after_commit:
        callback()
    alerts = [m for m in sink.messages if b"need attention" in m.data]
    assert len(alerts) == 1 and b'1 is "delivery uncertain"' in alerts[0].data


def test_a_lost_answer_is_not_retried_on_a_fresh_connection_at_once(smtp, monkeypatch):
    # smtp_send retries once when a reused connection turns out closed, but never after
    # the message went out.
    sink, _ = smtp
    delivery_mail.smtp_send(
        b"Subject: warm up\r\n\r\nx\r\n", from_email="a@example.org", to="b@example.org"
    )
    sink.drop_after_data = True
    with pytest.raises(smtpio.HandoffUncertain):
        delivery_mail.smtp_send(
            b"Subject: x\r\n\r\nx\r\n", from_email="a@example.org", to="c@example.org"
        )
    assert len(sink.by_recipient()["c@example.org"]) == 1


# ---------------------------------------------------------------- the server or gpg down


def test_a_mail_server_that_is_down_defers_the_whole_batch_after_one_try(
    rows, monkeypatch, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens: refused
    started = []
    real_start = pipeline_module.notice_wire_start

    def counting(**kwargs):
        started.append(kwargs["delivery"].pk)
        return real_start(**kwargs)

    monkeypatch.setattr(pipeline_module, "notice_wire_start", counting)
    outcomes = deliveries_send(delivery_ids=_ids(rows))
    delivery_mail.connection_drop()
    assert set(outcomes.values()) == {DEFERRED}
    # One copy tried (encrypted, then refused); the others not even encrypted.
    assert len(started) == 1
    states = Delivery.objects.filter(pk__in=_ids(rows)).values_list("state", "failure_reason")
    assert {state for state, _ in states} == {Delivery.State.PENDING}
    assert all("SMTP connection problem" in reason for _, reason in states)


def test_gpg_missing_defers_every_copy_and_the_worker_says_it_is_unhealthy(rows, settings, smtp):
    # The issue: a 3-second gpg outage failed 199 of 300 copies for good.
    sink, _ = smtp
    crypto.worker_home_close()
    real_gpg = settings.GPG_BINARY
    settings.GPG_BINARY = "/nonexistent/gpg"
    outcomes = deliveries_send(delivery_ids=_ids(rows))
    assert set(outcomes.values()) == {DEFERRED}
    assert sink.count() == 0
    assert not Delivery.objects.filter(state=Delivery.State.FAILED).exists()
    faults = worker_health.gpg_faults()
    assert len(faults) == 1 and "gpg" in next(iter(faults.values()))["reason"]
    # gpg is back: the copies go, and the worker is healthy again.
    settings.GPG_BINARY = real_gpg
    outcomes = deliveries_send(delivery_ids=_ids(rows))
    assert set(outcomes.values()) == {Delivery.State.SENT}
    assert sink.count() == len(rows)
    assert worker_health.gpg_faults() == {}


def test_a_key_fault_still_fails_the_copy(rows):
    from distributors.models import PgpKey

    row = rows[0]
    PgpKey.objects.filter(user_id=row.user_id).update(armored="not a key")
    # The pinned key no longer parses: the recipient's fault, so the copy fails.
    outcome = deliveries_send(delivery_ids=[row.pk])[row.pk]
    assert outcome in (Delivery.State.FAILED, Delivery.State.CANCELLED)
    assert not Delivery.objects.filter(pk=row.pk, state=Delivery.State.PENDING).exists()


def test_the_start_up_log_blames_gpg_not_the_team_key_when_gpg_is_missing(
    settings, caplog, team_key
):
    crypto.worker_home_close()
    settings.GPG_BINARY = "/nonexistent/gpg"
    assert crypto.worker_home_prepare() is False
    assert "gpg cannot be used on this worker" in caplog.text
    assert "team signing key" not in caplog.text


# ---------------------------------------------------------------- a task's time


def test_a_task_past_its_time_hands_the_rest_on_and_queues_it(rows, monkeypatch, settings):
    settings.HAULOUT_DELIVERY_TASK_SECONDS = 5
    settings.HAULOUT_DELIVERY_RECHECK_EVERY = 1  # a part per copy: the budget is seen
    clock = Clock(time.monotonic)

    def slow(wire, **kwargs):
        clock.offset += 3

    wiring = Wiring(clock=clock, hand_off=slow)
    queued = []
    monkeypatch.setattr(
        delivery_send_task, "apply_async", lambda args=None, **k: queued.append(args[0])
    )
    deliveries_send_batch(delivery_ids=_ids(rows), wiring=wiring)
    states = dict(Delivery.objects.filter(pk__in=_ids(rows)).values_list("pk", "state"))
    sent = [pk for pk, state in states.items() if state == Delivery.State.SENT]
    released = [pk for pk, state in states.items() if state == Delivery.State.PENDING]
    # Past its time the task takes up no new copy (the one already encrypted still
    # goes); the rest is handed on and queued at once.
    assert len(sent) <= 3 and released
    assert len(sent) + len(released) == len(rows)
    assert queued == [sorted(released)]


def test_released_copies_are_reported_as_released(rows, monkeypatch, settings):
    settings.HAULOUT_DELIVERY_TASK_SECONDS = -1  # no time at all
    outcomes = deliveries_send(delivery_ids=_ids(rows))
    assert set(outcomes.values()) == {RELEASED}
    assert not AuditEvent.objects.filter(action="delivery.sent").exists()


# ---------------------------------------------------------------- the sweeper's queue


def test_the_sweeper_has_a_queue_of_its_own_that_workers_consume():
    from config.celery import app

    route = app.amqp.router.route({}, "embargo.tasks.deliveries_sweep_task")
    assert route["queue"].name == django_settings.HAULOUT_SWEEP_QUEUE
    assert django_settings.HAULOUT_SWEEP_QUEUE != django_settings.CELERY_TASK_DEFAULT_QUEUE
    # A worker started without -Q consumes every queue in task_queues: both.
    names = {queue.name for queue in app.conf.task_queues}
    assert names == {django_settings.CELERY_TASK_DEFAULT_QUEUE, django_settings.HAULOUT_SWEEP_QUEUE}


def test_a_sweep_right_after_another_queues_nothing_again(rows, monkeypatch):
    queued = []
    monkeypatch.setattr(
        delivery_send_task, "apply_async", lambda args=None, **k: queued.extend(args[0])
    )
    Delivery.objects.update(due_at=timezone.now() - timedelta(seconds=1))
    first = deliveries_sweep()
    second = deliveries_sweep()
    assert (first, second) == (len(rows), 0)
    assert sorted(queued) == _ids(rows)


def test_a_mail_server_that_never_answers_is_given_up_on_within_the_deadline(settings):
    # A black-holed server (accepts the connection, never speaks): the hand-off ends at
    # its deadline as a temporary failure rather than after every socket timeout in turn.
    import socket
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", listener.getsockname()[1]
    settings.EMAIL_TIMEOUT = 600
    try:
        deadline = time.monotonic() + 1.5
        with pytest.raises((OSError, smtplib.SMTPException)) as raised:
            delivery_mail.smtp_send(
                b"x\r\n", from_email="a@example.org", to="b@example.org", deadline=deadline
            )
        assert not isinstance(raised.value, smtpio.HandoffUncertain)
        assert time.monotonic() < deadline + 60  # nowhere near EMAIL_TIMEOUT's 600 s
    finally:
        delivery_mail.connection_drop()
        listener.close()


def test_a_weak_key_stored_before_the_size_rule_is_never_encrypted_to(rows, smtp):
    # Fails closed at send time, whether or not pgp_keys_recheck has run.
    from distributors.models import PgpKey
    from pgpmail import packets as openpgp
    from tests.keys import load

    sink, _ = smtp
    weak = load("weak-dsa1024")
    fingerprint = next(
        hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body, usedforsecurity=False)
        .hexdigest()
        .upper()
        for tag, body in openpgp.packets(openpgp.dearmor(weak)[0].data)
        if tag == openpgp.PUBLIC_KEY
    )
    row = rows[0]
    PgpKey.objects.filter(user_id=row.user_id).update(armored=weak, fingerprint=fingerprint)
    Delivery.objects.filter(pk=row.pk).update(fingerprint=fingerprint)
    assert deliveries_send(delivery_ids=[row.pk])[row.pk] == Delivery.State.FAILED
    row.refresh_from_db()
    assert "today's key rules" in row.failure_reason
    assert sink.count() == 0
