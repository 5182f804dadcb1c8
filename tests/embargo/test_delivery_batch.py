"""Sending copies in batches (real gpg, Django's test outbox): one claim per batch that
never hands a row to two workers, eligibility checked again within the batch, and a
temporary failure that sends only the failed copy round again."""

from __future__ import annotations

import smtplib
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from core.models import AuditEvent
from distributors.eligibility import Reason
from distributors.models import Organization
from embargo.delivery import pipeline as pipeline_module
from embargo.delivery import rows as delivery_rows
from embargo.delivery.mail import smtp_send
from embargo.delivery.outcomes import DEFERRED, SKIPPED
from embargo.delivery.pipeline import Wiring, part_size_next
from embargo.delivery.send import deliveries_send, deliveries_send_batch
from embargo.models import Delivery, Notice
from embargo.services import deliveries_enqueue, deliveries_sweep, notice_send
from embargo.tasks import delivery_send_task
from pgpmail import crypto
from tests.embargo.helpers import bulk_people, case_ready, notice_draft


def _world(person_keys, monkeypatch, count):
    monkeypatch.setattr(delivery_send_task, "apply_async", lambda *a, **k: None)
    people = bulk_people(person_keys(count))
    case = case_ready()
    notice = notice_draft(case=case)
    notice_send(notice=notice, actor=case.created_by)
    rows = list(Delivery.objects.filter(notice=notice).order_by("pk"))
    return people, notice, rows


@pytest.fixture
def batch(person_keys, team_key, monkeypatch, settings, db):
    settings.SITE_URL = "https://haulout.example.org"
    people, notice, rows = _world(person_keys, monkeypatch, 6)
    yield {"people": people, "notice": notice, "rows": rows}
    crypto.worker_home_close()


def _claim(ids: list[int]) -> dict[int, int]:
    """{id: attempt} of the rows a claim took."""
    return {row.pk: attempt for row, attempt in delivery_rows.deliveries_claim(delivery_ids=ids)}


def test_tasks_carry_batches_of_ids_each_row_once(batch, monkeypatch, settings):
    settings.HAULOUT_DELIVERY_BATCH_SIZE = 2
    queued = []
    monkeypatch.setattr(
        delivery_send_task, "apply_async", lambda args=None, **k: queued.append(args)
    )
    assert deliveries_enqueue(notice_id=batch["notice"].pk) == 6
    # Full batches, then the last two batches' worth in smaller pieces.
    assert [len(args[0]) for args in queued] == [2, 1, 1, 1, 1]
    assert sorted(pk for args in queued for pk in args[0]) == [row.pk for row in batch["rows"]]


def test_a_batch_sends_each_copy_once_with_an_audit_event_each(batch):
    ids = [row.pk for row in batch["rows"]]
    outcomes = deliveries_send(delivery_ids=ids)
    assert outcomes == dict.fromkeys(ids, Delivery.State.SENT)
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        r.email for r in batch["rows"]
    )
    for row in Delivery.objects.filter(pk__in=ids):
        assert row.state == Delivery.State.SENT and row.attempts == 1 and row.sent_at
        event = AuditEvent.objects.get(action="delivery.sent", target_id=str(row.pk))
        assert event.data == {"attempt": 1} and event.organization_id == row.organization_id
    # The notice is finished once, by the batch that closed its last row.
    batch["notice"].refresh_from_db()
    assert batch["notice"].state == Notice.State.SENT
    assert AuditEvent.objects.filter(action="notice.sent").count() == 1
    # Sending the same batch again claims nothing and sends nothing.
    assert deliveries_send(delivery_ids=ids) == dict.fromkeys(ids, SKIPPED)
    assert len(mail.outbox) == len(ids)


def test_marking_sent_skips_a_row_whose_claim_moved_on_and_records_one_event_per_row(batch):
    from django.contrib.contenttypes.models import ContentType

    rows = batch["rows"]
    claimed = _claim([row.pk for row in rows])
    # The sweeper handed one row on (a new claim), and another is on its second attempt.
    moved, retried = rows[0], rows[1]
    Delivery.objects.filter(pk=moved.pk).update(attempts=5)
    Delivery.objects.filter(pk=retried.pk).update(attempts=2)
    claimed[retried.pk] = 2

    marked = delivery_rows.deliveries_mark_sent(sent=[(row, claimed[row.pk]) for row in rows])

    assert marked == {row.pk for row in rows[1:]}
    assert Delivery.objects.get(pk=moved.pk).state == Delivery.State.SENDING
    events = {event.target_id: event for event in AuditEvent.objects.filter(action="delivery.sent")}
    assert set(events) == {str(row.pk) for row in rows[1:]}
    delivery_type = ContentType.objects.get_for_model(Delivery)
    for row in rows[1:]:
        stored = Delivery.objects.get(pk=row.pk)
        assert stored.state == Delivery.State.SENT and stored.sent_at == stored.finished_at
        assert stored.sent_at is not None and stored.failure_reason == ""
        event = events[str(row.pk)]
        assert event.data == {"attempt": claimed[row.pk]} and event.actor_id is None
        assert event.target_type == delivery_type and event.target_repr == str(row)
        assert event.organization_id == row.organization_id


def test_overlapping_batch_claims_take_each_row_once(batch):
    a, b, c = (row.pk for row in batch["rows"][:3])
    first = _claim([a, b])
    second = _claim([b, c])
    assert set(first) == {a, b} and set(second) == {c}
    assert set(first.values()) == set(second.values()) == {1}
    # Rows claimed elsewhere are skipped by a batch that lists them too.
    outcomes = deliveries_send(delivery_ids=[a, b, c, batch["rows"][3].pk])
    assert outcomes == {a: SKIPPED, b: SKIPPED, c: SKIPPED, batch["rows"][3].pk: "sent"}


def test_a_temporary_failure_defers_only_that_copy_and_the_batch_goes_on(batch, monkeypatch):
    unlucky = batch["rows"][2]
    real_send = smtp_send

    def flaky(wire, *, from_email, to, deadline=None):
        if to == unlucky.email:
            raise smtplib.SMTPRecipientsRefused({to: (451, b"4.3.0 try again later")})
        return real_send(wire, from_email=from_email, to=to)

    wiring = Wiring(hand_off=flaky)
    ids = [row.pk for row in batch["rows"]]
    outcomes = deliveries_send(delivery_ids=ids, wiring=wiring)
    assert outcomes[unlucky.pk] == DEFERRED
    assert {pk: o for pk, o in outcomes.items() if pk != unlucky.pk} == dict.fromkeys(
        set(ids) - {unlucky.pk}, Delivery.State.SENT
    )
    unlucky.refresh_from_db()
    assert unlucky.state == Delivery.State.PENDING and "451" in unlucky.failure_reason
    assert len(mail.outbox) == len(ids) - 1
    batch["notice"].refresh_from_db()
    assert batch["notice"].state == Notice.State.SENDING  # one copy still to go
    wiring = Wiring()
    assert deliveries_send(delivery_ids=ids, wiring=wiring) == {
        pk: ("sent" if pk == unlucky.pk else SKIPPED) for pk in ids
    }
    unlucky.refresh_from_db()
    assert unlucky.state == Delivery.State.SENT and unlucky.attempts == 2
    assert unlucky.failure_reason == ""
    batch["notice"].refresh_from_db()
    assert batch["notice"].state == Notice.State.SENT


def test_the_task_leaves_a_deferred_copy_to_the_sweeper_when_it_is_due(batch, monkeypatch):
    # No Celery retry (its count ran out after three): the row holds the retry's time,
    # and the sweeper queues exactly the copies that are due.
    unlucky = batch["rows"][0]
    real_send = smtp_send

    def flaky(wire, *, from_email, to, deadline=None):
        if to == unlucky.email:
            raise smtplib.SMTPRecipientsRefused({to: (451, b"4.3.0 try again later")})
        return real_send(wire, from_email=from_email, to=to)

    wiring = Wiring(hand_off=flaky)
    queued = []
    monkeypatch.setattr(
        delivery_send_task, "apply_async", lambda args=None, **k: queued.append(args)
    )
    deliveries_send_batch(delivery_ids=[row.pk for row in batch["rows"]], wiring=wiring)
    assert queued == []
    unlucky.refresh_from_db()
    assert unlucky.state == Delivery.State.PENDING
    assert timezone.now() < unlucky.due_at <= timezone.now() + timedelta(seconds=3)
    assert deliveries_sweep() == 0  # not due yet
    deliveries_sweep(now=unlucky.due_at)
    assert queued == [([unlucky.pk],)]


def removed_as_the_first_copy_goes(organization_id: int) -> tuple[list[str], Wiring]:
    """The organisation is removed while the first copy goes out by SMTP. Returns the
    list the address of every copy sent is added to, as it goes, and the wiring to send
    with."""
    real_send = smtp_send
    calls: list[str] = []

    def send_then_remove(wire, *, from_email, to, deadline=None):
        calls.append(to)
        if len(calls) == 1:
            Organization.objects.filter(pk=organization_id).update(
                status=Organization.Status.REMOVED
            )
        return real_send(wire, from_email=from_email, to=to)

    return calls, Wiring(hand_off=send_then_remove)


def test_a_removal_during_a_batch_cancels_the_copies_not_yet_checked(batch, monkeypatch, settings):
    # Re-checked every two copies: the organisation removed after the first copy went out
    # loses every copy checked after that, not only those of later batches.
    settings.HAULOUT_DELIVERY_RECHECK_EVERY = 2
    rows = batch["rows"]
    # Rows run organisation by organisation: three of the first, then three of the second.
    first, second = rows[0].organization_id, rows[-1].organization_id
    assert [row.organization_id for row in rows] == [first] * 3 + [second] * 3
    calls, wiring = removed_as_the_first_copy_goes(second)
    outcomes = deliveries_send(delivery_ids=[row.pk for row in rows], wiring=wiring)
    assert [outcomes[row.pk] for row in rows] == ["sent"] * 3 + ["cancelled"] * 3
    assert calls == [row.email for row in rows[:3]]
    for row in rows[3:]:
        row.refresh_from_db()
        assert row.state == Delivery.State.CANCELLED
        assert Reason.ORG_REMOVED in row.reasons


def test_parts_shrink_to_what_goes_out_in_the_time_allowed():
    # Five copies in a second: a quarter of a second allows one.
    assert part_size_next(most=20, seconds=0.25, elapsed=1.0, copies=5) == 1
    assert part_size_next(most=20, seconds=0.5, elapsed=0.1, copies=2) == 10


def test_parts_stay_within_their_bounds_however_fast_or_slow_copies_go():
    assert part_size_next(most=20, seconds=0.5, elapsed=0.01, copies=20) == 20
    assert part_size_next(most=20, seconds=0.5, elapsed=60.0, copies=1) == 1
    assert part_size_next(most=20, seconds=0.5, elapsed=0.0, copies=3) == 20
    assert part_size_next(most=20, seconds=0.0, elapsed=1.0, copies=3) == 1


def _slow_clock(step: float):
    """Every reading of the send loop's clock is `step` seconds after the last: each part
    seems to take that long, as with a slow mail server."""
    now = [0.0]

    def clock():
        now[0] += step
        return now[0]

    return clock


def test_slow_copies_are_checked_more_often_than_every_recheck_every(batch, monkeypatch, settings):
    # At most three copies a part, and a part may take 0.05 s; the first took 0.1 s, so
    # from then on every copy is checked just before it goes. Organisation B is removed
    # as its first copy goes out: its two copies after that are cancelled. With parts of
    # three, those two would have been checked with it, before the removal, and sent.
    settings.HAULOUT_DELIVERY_RECHECK_EVERY = 3
    settings.HAULOUT_DELIVERY_RECHECK_SECONDS = 0.05
    settings.HAULOUT_DELIVERY_GPG_AHEAD = 0
    clock = _slow_clock(0.1)
    rows = batch["rows"]
    second = rows[-1].organization_id
    assert [row.organization_id == second for row in rows] == [False] * 3 + [True] * 3
    real_send = smtp_send
    calls: list[str] = []

    def send(wire, *, from_email, to, deadline=None):
        calls.append(to)
        if to == rows[3].email:
            Organization.objects.filter(pk=second).update(status=Organization.Status.REMOVED)
        return real_send(wire, from_email=from_email, to=to)

    wiring = Wiring(clock=clock, hand_off=send)
    checks = []
    real_check = pipeline_module.eligibility_at_send

    def counted(**kwargs):
        checks.append(sorted(kwargs["team_member_ids"]))
        return real_check(**kwargs)

    monkeypatch.setattr(pipeline_module, "eligibility_at_send", counted)

    outcomes = deliveries_send(delivery_ids=[row.pk for row in rows], wiring=wiring)

    assert [outcomes[row.pk] for row in rows] == ["sent"] * 4 + ["cancelled"] * 2
    assert calls == [row.email for row in rows[:4]]
    # One check of the first three, then one per copy, each with the copy before it
    # (still in gpg at the end of its part, so checked again).
    assert [len(members) for members in checks] == [3, 2, 2, 2]
    for row in rows[4:]:
        row.refresh_from_db()
        assert Reason.ORG_REMOVED in row.reasons


def test_quick_copies_are_checked_every_recheck_every(batch, monkeypatch, settings):
    settings.HAULOUT_DELIVERY_RECHECK_EVERY = 3
    settings.HAULOUT_DELIVERY_RECHECK_SECONDS = 0.5
    wiring = Wiring(clock=_slow_clock(0.001))
    checks = []
    real_check = pipeline_module.eligibility_at_send

    def counted(**kwargs):
        checks.append(kwargs["team_member_ids"])
        return real_check(**kwargs)

    monkeypatch.setattr(pipeline_module, "eligibility_at_send", counted)
    outcomes = deliveries_send(delivery_ids=[row.pk for row in batch["rows"]], wiring=wiring)
    assert set(outcomes.values()) == {Delivery.State.SENT}
    assert len(checks) == 2


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_on_overlapping_batches_send_each_row_once(
    person_keys, team_key, monkeypatch, settings
):
    settings.SITE_URL = "https://haulout.example.org"
    _people, _notice, rows = _world(person_keys, monkeypatch, 8)
    ids = [row.pk for row in rows]
    batches = [ids[0:6], ids[2:8], ids[1:7], ids[::-1]]
    start = threading.Barrier(len(batches))
    results, errors = [], []

    def worker(batch_ids):
        try:
            start.wait(timeout=30)
            results.append(deliveries_send(delivery_ids=batch_ids))
        except Exception as error:  # reported below; a thread cannot fail the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(b,)) for b in batches]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        crypto.worker_home_close()
    assert not errors, errors
    sent_by = {}
    for outcome in results:
        for pk, state in outcome.items():
            if state == Delivery.State.SENT:
                assert pk not in sent_by, f"row {pk} sent by two batches"
                sent_by[pk] = outcome
    assert sorted(sent_by) == ids
    assert sorted(message.to[0] for message in mail.outbox) == sorted(row.email for row in rows)
    assert {row.attempts for row in Delivery.objects.filter(pk__in=ids)} == {1}
    assert AuditEvent.objects.filter(action="delivery.sent").count() == len(ids)


@pytest.mark.parametrize("ahead", [0, 1])
def test_the_next_copys_gpg_runs_while_the_previous_copy_goes_out_when_asked(
    batch, monkeypatch, settings, ahead
):
    # The worker's pipeline (HAULOUT_DELIVERY_GPG_AHEAD 1): when a copy is handed to
    # SMTP, the next copy's gpg has already been started (and not yet collected). At 0
    # (the default) one copy at a time: nothing else is in gpg while a copy goes out,
    # but for the last copy of a part, which is in gpg while the part is marked.
    settings.HAULOUT_DELIVERY_GPG_AHEAD = ahead
    started, collected, in_flight_at_send = [], [], []
    real_start, real_send = crypto.notice_seal_start, smtp_send

    def start(**kwargs):
        sealing = real_start(**kwargs)
        started.append(sealing)
        real_result = sealing.result

        def result():
            collected.append(sealing)
            return real_result()

        sealing.result = result
        return sealing

    def send(wire, *, from_email, to, deadline=None):
        in_flight_at_send.append(len(started) - len(collected))
        return real_send(wire, from_email=from_email, to=to)

    monkeypatch.setattr(crypto, "notice_seal_start", start)
    wiring = Wiring(hand_off=send)
    ids = [row.pk for row in batch["rows"]]
    assert deliveries_send(delivery_ids=ids, wiring=wiring) == dict.fromkeys(
        ids, Delivery.State.SENT
    )
    if ahead:
        # Every copy but the last of the batch had the next one's gpg running.
        assert in_flight_at_send.count(1) >= len(ids) - 1
    else:
        assert in_flight_at_send == [0] * len(ids)
    assert len(mail.outbox) == len(ids)


def test_an_error_mid_pipeline_stops_the_running_gpg_and_gives_the_rows_back(batch, monkeypatch):
    started = []
    real_start = crypto.notice_seal_start

    def start(**kwargs):
        sealing = real_start(**kwargs)
        started.append(sealing)
        return sealing

    def broken_send(*args, **kwargs):
        raise RuntimeError("a fault outside the send path's own handling")

    monkeypatch.setattr(crypto, "notice_seal_start", start)
    monkeypatch.setattr(pipeline_module, "_send_one", broken_send)
    ids = [row.pk for row in batch["rows"]]
    with pytest.raises(RuntimeError):
        deliveries_send(delivery_ids=ids)
    assert started and all(sealing._run.done for sealing in started)
    assert all(sealing._run.returncode is not None for sealing in started)
    assert not list(crypto._home_get().path.glob("recipient-*"))
    assert mail.outbox == []
    assert set(Delivery.objects.filter(pk__in=ids).values_list("state", flat=True)) == {
        Delivery.State.PENDING
    }


@pytest.mark.parametrize("ahead", [0, 1])
def test_the_copy_still_in_gpg_at_the_end_of_a_part_is_checked_again_with_the_next(
    batch, monkeypatch, settings, ahead
):
    # Parts of two: the second copy is still being encrypted when the first part ends,
    # and goes out only after the next part's check, which it joins. Its organisation
    # is removed while the first copy goes out: the check that follows stops it.
    settings.HAULOUT_DELIVERY_RECHECK_EVERY = 2
    settings.HAULOUT_DELIVERY_GPG_AHEAD = ahead
    rows = batch["rows"]
    first = rows[0].organization_id
    assert [row.organization_id == first for row in rows] == [True] * 3 + [False] * 3
    calls, wiring = removed_as_the_first_copy_goes(first)
    outcomes = deliveries_send(delivery_ids=[row.pk for row in rows], wiring=wiring)

    assert [outcomes[row.pk] for row in rows] == ["sent"] + ["cancelled"] * 2 + ["sent"] * 3
    assert calls == [row.email for row in (rows[0], *rows[3:])]
    carried = Delivery.objects.get(pk=rows[1].pk)
    assert carried.state == Delivery.State.CANCELLED
    assert Reason.ORG_REMOVED in carried.reasons


def _queries_to_send(rows) -> list[str]:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        outcomes = deliveries_send(delivery_ids=[row.pk for row in rows])
    assert set(outcomes.values()) == {Delivery.State.SENT}
    return [query["sql"] for query in captured.captured_queries]


def test_a_batch_costs_the_same_queries_however_many_copies_it_holds(batch, settings):
    settings.HAULOUT_DELIVERY_RECHECK_EVERY = 10  # each batch is one part
    rows = batch["rows"]
    _queries_to_send(rows[:1])  # fills the content-type cache, as a running worker has it

    one = _queries_to_send(rows[1:2])
    three = _queries_to_send(rows[2:5])  # row 5 stays pending: neither batch ends the notice

    assert len(one) == len(three) <= 10, "\n".join(q[:90] for q in [*one, "---", *three])


def test_each_part_of_a_batch_adds_a_fixed_handful_of_queries(batch, settings):
    settings.HAULOUT_DELIVERY_RECHECK_EVERY = 1  # a part per copy
    rows = batch["rows"]
    _queries_to_send(rows[:1])

    one_part = _queries_to_send(rows[1:2])
    three_parts = _queries_to_send(rows[2:5])

    # Per part at most: the re-check, the wording record, and marking the copies sent
    # with their audit events (an UPDATE and an INSERT inside a savepoint here, a
    # transaction in a worker). A part's last copy is marked with the next part's.
    added = len(three_parts) - len(one_part)
    assert 2 * 2 <= added <= 2 * 6, "\n".join(q[:90] for q in three_parts)
    if connection.vendor == "postgresql":
        # There the marking and its audit events are one statement: three per part.
        assert added <= 2 * 3, "\n".join(q[:90] for q in three_parts)
