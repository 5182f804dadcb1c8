"""Faults with the real parts. Each ends with every eligible person holding exactly one
`sent` row, or the documented outcome (failed with the reason, cancelled)."""

from __future__ import annotations

import threading

import pytest

from core.queue import task_queue
from distributors.eligibility import Reason
from distributors.models import Organization
from embargo.models import Delivery, Notice
from embargo.services import deliveries_enqueue, deliveries_sweep, notice_send
from tests.embargo.helpers import bulk_people, case_ready, notice_draft
from tests.embargo.realservices import wait_for

pytestmark = [pytest.mark.services]


def _setup(person_keys, count):
    keys = person_keys(count)
    people = bulk_people(keys)
    case = case_ready()
    return people, case, notice_draft(case=case)


def _all_final(notice, *, sweep=False):
    if sweep:
        deliveries_sweep()
    return not Delivery.objects.filter(notice=notice, state__in=Delivery.OPEN_STATES).exists()


def _wait_final(notice, *, sweep=False, timeout=180):
    wait_for(lambda: _all_final(notice, sweep=sweep), timeout=timeout, interval=0.5,
             what="every copy to be final")  # fmt: skip
    wait_for(
        lambda: Notice.objects.get(pk=notice.pk).state == Notice.State.SENT,
        timeout=30,
        what="the notice to be marked sent",
    )


def _assert_each_sent_once(notice, sink, people):
    rows = {row.email: row for row in Delivery.objects.filter(notice=notice)}
    assert len(rows) == len(people)
    unsent = {
        row.pk: (row.state, row.failure_reason) for row in rows.values() if row.state != "sent"
    }
    assert not unsent, unsent
    received = sink.by_recipient()
    for email in rows:
        assert len(received.get(email, [])) == 1, email
    return rows


def test_a_worker_killed_mid_fan_out_loses_nothing_and_duplicates_keep_the_message_id(
    real_services, person_keys, settings
):
    settings.HAULOUT_DELIVERY_PENDING_TIMEOUT = 2
    settings.HAULOUT_DELIVERY_LEASE_SECONDS = 3
    _people, case, notice = _setup(person_keys, 30)
    first = real_services.worker("doomed", HAULOUT_DELIVERY_LEASE_SECONDS=3)
    notice_send(notice=notice, actor=case.created_by)
    wait_for(lambda: real_services.sink.count() >= 8, timeout=120, what="some messages")
    first.kill()
    assert Delivery.objects.filter(notice=notice, state__in=Delivery.OPEN_STATES).exists()
    real_services.worker("replacement")
    _wait_final(notice, sweep=True)
    rows = {row.email: row for row in Delivery.objects.filter(notice=notice)}
    assert {row.state for row in rows.values()} == {Delivery.State.SENT}
    for email, row in rows.items():
        copies = real_services.sink.by_recipient()[email]
        assert 1 <= len(copies) <= 2, email
        for copy in copies:
            assert f"Message-ID: {row.message_id}".encode() in copy.data


def test_redis_down_when_send_is_pressed_then_back_loses_nothing(
    real_services_factory, private_redis, person_keys, settings, caplog
):
    settings.HAULOUT_DELIVERY_PENDING_TIMEOUT = 1
    services = real_services_factory(broker_url=private_redis.url)
    people, case, notice = _setup(person_keys, 20)
    services.worker("survivor")
    private_redis.stop()
    notice_send(notice=notice, actor=case.created_by)  # must not raise
    notice.refresh_from_db()
    assert notice.state == Notice.State.SENDING
    assert Delivery.objects.filter(notice=notice, state=Delivery.State.PENDING).count() == 20
    assert "sweeper" in caplog.text
    private_redis.start()
    _wait_final(notice, sweep=True)
    _assert_each_sent_once(notice, services.sink, people)


def test_smtp_451_then_250_delivers_each_copy_once(real_services, person_keys):
    real_services.sink.rcpt_reply = lambda address, attempt: (
        "451 4.3.0 Try again later" if attempt == 1 else None
    )
    people, case, notice = _setup(person_keys, 20)
    real_services.worker("retrier")
    notice_send(notice=notice, actor=case.created_by)
    # The retry is due a second or two later; the sweeper (beat's job) queues it.
    _wait_final(notice, sweep=True)
    rows = _assert_each_sent_once(notice, real_services.sink, people)
    assert {row.attempts for row in rows.values()} == {2}
    assert set(real_services.sink.rcpt_attempts.values()) == {2}


def test_smtp_550_fails_the_copy_with_the_reason(real_services, person_keys):
    people, case, notice = _setup(person_keys, 20)
    refused = {member.user.email for member in people[:5]}
    real_services.sink.rcpt_reply = lambda address, attempt: (
        "550 5.1.1 Mailbox unavailable" if address in refused else None
    )
    real_services.worker("refused")
    notice_send(notice=notice, actor=case.created_by)
    _wait_final(notice)
    received = real_services.sink.by_recipient()
    for row in Delivery.objects.filter(notice=notice):
        if row.email in refused:
            assert row.state == Delivery.State.FAILED
            assert "550" in row.failure_reason and "Mailbox unavailable" in row.failure_reason
            assert row.email not in received
            assert real_services.sink.rcpt_attempts[row.email] == 1  # no retry of a 5xx
        else:
            assert row.state == Delivery.State.SENT
            assert len(received[row.email]) == 1


def test_an_organisation_removed_mid_fan_out_gets_no_more_messages(real_services, person_keys):
    _people, case, notice = _setup(person_keys, 30)
    # The sink holds the fourth message until the removal is made: a fast worker would
    # otherwise finish all 30 before the test could act, and the test would prove nothing.
    removal_made = threading.Event()

    def hold_after_three(address, attempt):
        if real_services.sink.count() >= 3:
            removal_made.wait(60)

    real_services.sink.rcpt_reply = hold_after_three
    real_services.worker("checker")
    notice_send(notice=notice, actor=case.created_by)
    # Copies go out in row order: the first organisation's people, then the second's.
    rows = list(Delivery.objects.filter(notice=notice).order_by("pk"))
    first_org, last_org = rows[0].organization_id, rows[-1].organization_id
    assert first_org != last_org
    wait_for(lambda: real_services.sink.count() >= 3, timeout=120, what="the first messages")
    Organization.objects.filter(pk=last_org).update(status=Organization.Status.REMOVED)
    removal_made.set()
    _wait_final(notice)
    received = real_services.sink.by_recipient()
    removed = list(Delivery.objects.filter(notice=notice, organization_id=last_org))
    assert removed
    for row in removed:
        assert row.state == Delivery.State.CANCELLED
        assert Reason.ORG_REMOVED in row.reasons
        assert row.email not in received
    for row in Delivery.objects.filter(notice=notice, organization_id=first_org):
        assert row.state == Delivery.State.SENT
        assert len(received[row.email]) == 1


def test_two_workers_racing_on_the_same_rows_never_send_twice(real_services, person_keys):
    people, case, notice = _setup(person_keys, 30)
    real_services.worker("left")
    real_services.worker("right")
    notice_send(notice=notice, actor=case.created_by)
    # Every row queued a second time: both workers get a task for the same row.
    deliveries_enqueue(notice_id=notice.pk)
    _wait_final(notice)
    _assert_each_sent_once(notice, real_services.sink, people)
    assert real_services.sink.count() == 30


def test_two_workers_claiming_overlapping_batches_send_each_copy_once(
    real_services, person_keys, settings
):
    settings.HAULOUT_DELIVERY_BATCH_SIZE = 10
    people, case, notice = _setup(person_keys, 40)
    real_services.worker("left")
    real_services.worker("right")
    notice_send(notice=notice, actor=case.created_by)
    ids = list(Delivery.objects.filter(notice=notice).order_by("pk").values_list("pk", flat=True))
    # More batches over the same rows, each overlapping two of the ones already queued.
    for start in (5, 15, 25, 0):
        assert task_queue("embargo.tasks.delivery_send_task", ids[start : start + 20])
    _wait_final(notice)
    rows = _assert_each_sent_once(notice, real_services.sink, people)
    assert real_services.sink.count() == 40
    assert {row.attempts for row in rows.values()} == {1}
