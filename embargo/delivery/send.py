"""Sending people's copies of a notice, a batch at a time (queueing them, and the sweeper
that makes sure every copy goes: delivery_queue.py; the rows' own statements, claiming
and marking sent: delivery_rows.py).

At-least-once without loss, and never twice at the same time:
- a task carries a short list of row ids (ids only) and claims them with one conditional
  UPDATE (pending -> sending, attempts + 1) that returns the rows it claimed; a row that
  another task or worker claimed first is not among them, so it is never sent twice;
- a claim is a lease (settings.HAULOUT_DELIVERY_LEASE_SECONDS). Before every hand-off to
  SMTP the owner checks that the row is still its own and that enough of the lease is
  left, renewing it in the database when half has gone; the hand-off itself is cut off
  before the lease ends. A worker that was killed or frozen loses its rows to the
  sweeper once the lease runs out, and on waking sends none of them: at most the one copy
  it was handing off at that instant goes out twice. The claim number (attempts) fences
  the database writes of a slow worker out of a row that was handed on;
- eligibility is checked again, for a few copies at a time, just before they go out;
- copies the SMTP server took are marked sent, with their audit events, a part at a time
  (at most recheck_every() copies; fewer when they go out slowly, so that a part takes
  about recheck_seconds()): a crash mid-batch re-sends only copies not yet marked, at
  most once each, with the same Message-ID, so a rare duplicate is recognisable as the
  same message;
- a temporary failure (SMTP 4xx, the server down, gpg missing, the database gone) puts
  the copy back to pending, due again after a capped backoff, and the copy keeps waiting
  until its give-up time, hours later (then it fails and staff are told). A failure of
  the mail server as a whole, or of gpg on this worker, defers the rest of the batch at
  once rather than trying (and encrypting) each copy in turn. The retry state lives in
  the rows: the sweeper queues whatever is due, whatever became of the task;
- a hand-off that ended ambiguously (the connection lost after the whole message went
  out) may have delivered the copy: it gets one more try with the same Message-ID, and
  a second ambiguous end makes it "delivery uncertain" for staff, never a loop;
- a task stops taking up copies after settings.HAULOUT_DELIVERY_TASK_SECONDS and queues
  the rest again.

Logs name delivery ids and reasons only, never a subject, body or address.
"""

from __future__ import annotations

import logging
import random
import smtplib
import time
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.queue import task_queue_after_commit
from distributors.eligibility import eligibility_at_send
from distributors.models import Organization
from embargo.delivery.health import gpg_fault_clear, gpg_fault_report
from embargo.delivery.mail import connection_drop as _connection_drop  # noqa: F401 (tests)
from embargo.delivery.mail import notice_plaintext, notice_wire_start, wire_is_encrypted
from embargo.delivery.mail import smtp_code as _smtp_code
from embargo.delivery.mail import smtp_reason as _smtp_reason
from embargo.delivery.mail import smtp_send as _smtp_send
from embargo.delivery.rows import (
    deliveries_claim,
    deliveries_lease_renew,
    deliveries_mark_sent,
    deliveries_release,
    lease_seconds,
)
from embargo.delivery.variants import delivery_variants
from embargo.models import Delivery, Notice, Vulnerability
from pgpmail.crypto import CryptoError, RecipientKeyError
from pgpmail.smtp import DeadlinePassed, HandoffUncertain

logger = logging.getLogger(__name__)

# Reasons the send path adds to the eligibility selector's own.
KEY_CHANGED = "key_changed"
MEMBERSHIP_GONE = "membership_gone"
CASE_CLOSED = "case_rejected"
REASON_LABELS = {
    KEY_CHANGED: "The person's verified key changed after the notice was sent.",
    MEMBERSHIP_GONE: "The person is no longer in the organisation.",
    CASE_CLOSED: "The case was rejected before this copy went out.",
}


# What deliveries_send() reports for a row besides its new state.
SKIPPED = "skipped"  # nothing to claim: sent, claimed or cancelled elsewhere
DEFERRED = "deferred"  # a temporary failure: pending again, due after a backoff
RELEASED = "released"  # not attempted (the task's time was up): pending, to be queued now

# Copies per eligibility re-check within a batch (and per write marking copies sent), at
# most: a suspension, removal, revoked key or lapsed policy stops every copy not yet
# checked when it happened; a crash re-sends at most this many copies already handed to
# SMTP. Twenty copies take a worker about an eighth of a second at full speed; parts of
# ten cost 3% more CPU per copy, as the check and the marking are per part
# (benchmarks/fanout.py).
DEFAULT_RECHECK_EVERY = 20
# ... and about how long a part may take: where copies go out slowly (a slow mail server),
# parts shrink to what went out in this long at the last part's pace, so a copy still
# leaves within about this long of its check, whatever the pace.
DEFAULT_RECHECK_SECONDS = 0.5


def recheck_every() -> int:
    return max(1, int(getattr(settings, "HAULOUT_DELIVERY_RECHECK_EVERY", DEFAULT_RECHECK_EVERY)))


def recheck_seconds() -> float:
    value = getattr(settings, "HAULOUT_DELIVERY_RECHECK_SECONDS", DEFAULT_RECHECK_SECONDS)
    return max(0.0, float(value))


def part_size_next(*, most: int, seconds: float, elapsed: float, copies: int) -> int:
    """How many copies the next part takes: as many as the part just sent (`copies` in
    `elapsed` seconds) would send in `seconds`; at least one, at most `most`."""
    if copies <= 0 or elapsed <= 0:
        return most
    return max(1, min(most, int(seconds * copies / elapsed)))


def gpg_ahead() -> int:
    """Copies whose gpg a worker starts before the copy it is sending has gone: 0 or 1
    (settings.HAULOUT_DELIVERY_GPG_AHEAD)."""
    return min(1, max(0, int(getattr(settings, "HAULOUT_DELIVERY_GPG_AHEAD", 0))))


# Through the module, so tests can stand in a clock for a slow mail server.
_clock = time.monotonic


class DeliveryDeferred(Exception):
    """A temporary failure: the row is pending again and the task should retry soon."""


class _Lease:
    """This call's hold on the rows it claimed: which are still its own, and until when
    (on this process's monotonic clock, a margin short of the lease in the database)."""

    def __init__(self, claimed: dict[int, int], *, began: float):
        self.claimed = dict(claimed)  # id -> claim number, for the rows still ours
        self.seconds = lease_seconds()
        # From before the claim's statement: never later than the database's lease.
        self.expires = began + self.seconds
        # Room for a clock that runs a little differently on the sweeper's machine.
        self.margin = max(1.0, self.seconds / 6)

    def hand_off_deadline(self, pk: int) -> float | None:
        """The moment a hand-off of this row to SMTP must be over, or None when it must
        not start: the row is no longer ours, or too little of the lease is left."""
        if self.expires - _clock() < self.seconds / 2:
            self.renew()
        if pk not in self.claimed or self.expires - _clock() <= self.margin:
            return None
        return self.expires - self.margin

    def renew(self) -> None:
        began = _clock()
        renewed = deliveries_lease_renew(claimed=self.claimed)
        if len(renewed) < len(self.claimed):
            logger.warning(
                "Lease lost on %d deliveries (taken back by the sweeper); not sending them.",
                len(self.claimed) - len(renewed),
            )
        self.claimed = {pk: attempt for pk, attempt in self.claimed.items() if pk in renewed}
        self.expires = began + self.seconds

    def finished(self, pk: int) -> None:
        self.claimed.pop(pk, None)


def retry_delay(failures: int) -> float:
    """Seconds before a copy's next try after its n-th temporary failure in a row: 1, 2,
    4 ... up to settings.HAULOUT_DELIVERY_RETRY_MAX_SECONDS, plus up to a second of
    jitter so that a thousand copies deferred together do not all return at once."""
    cap = max(1, settings.HAULOUT_DELIVERY_RETRY_MAX_SECONDS)
    return min(cap, 2 ** min(max(failures, 1) - 1, 16)) + random.uniform(0, 1)


# ---------------------------------------------------------------- state changes


def _finish(delivery: Delivery, *, attempt: int, state: str, reason: str = "", reasons=()) -> bool:
    """Final state and its audit event, in one transaction, only if the claim is still
    ours (state sending, same attempt)."""
    now = timezone.now()
    with transaction.atomic():
        changed = Delivery.objects.filter(
            pk=delivery.pk, state=Delivery.State.SENDING, attempts=attempt
        ).update(
            state=state,
            failure_reason=reason[:500],
            reasons=list(reasons),
            finished_at=now,
            sent_at=now if state == Delivery.State.SENT else None,
        )
        if changed:
            data = {"attempt": attempt}
            if reason:
                data["reason"] = reason[:500]
            if reasons:
                data["reasons"] = list(reasons)
            audit_record(
                actor=None,
                action=f"delivery.{state}",
                target=delivery,
                organization=Organization(pk=delivery.organization_id),
                data=data,
            )
    if changed and state != Delivery.State.SENT:
        logger.info("Delivery %s %s: %s", delivery.pk, state, reason or ",".join(reasons))
    if changed and state in Delivery.ATTENTION_STATES:
        _attention_alert_after_commit(delivery.notice_id)
    return bool(changed)


def _attention_alert_after_commit(notice_id: int) -> None:
    task_queue_after_commit("embargo.tasks.deliveries_attention_alert_task", notice_id)


def _defer(delivery: Delivery, *, attempt: int, reason: str) -> str:
    """Back to pending, due again after a capped backoff; failed once the copy's
    give-up time (hours after its first temporary failure) has passed."""
    now = timezone.now()
    give_up_at = delivery.give_up_at or now + timedelta(
        hours=settings.HAULOUT_DELIVERY_GIVE_UP_HOURS
    )
    failures = delivery.temporary_failures + 1
    if now >= give_up_at:
        _finish(
            delivery,
            attempt=attempt,
            state=Delivery.State.FAILED,
            reason=f"Gave up after {failures} temporary failures over "
            f"{settings.HAULOUT_DELIVERY_GIVE_UP_HOURS:g} hours; last: {reason}",
        )
        return Delivery.State.FAILED
    with transaction.atomic():
        changed = Delivery.objects.filter(
            pk=delivery.pk, state=Delivery.State.SENDING, attempts=attempt
        ).update(
            state=Delivery.State.PENDING,
            due_at=now + timedelta(seconds=retry_delay(failures)),
            lease_until=None,
            failure_reason=reason[:500],
            temporary_failures=failures,
            give_up_at=give_up_at,
        )
        if changed and failures == 1:
            # The first of a run only: an outage of hours would otherwise write an event
            # per copy per retry. The give-up (or the copy going out) ends the run.
            audit_record(
                actor=None,
                action="delivery.deferred",
                target=delivery,
                organization=Organization(pk=delivery.organization_id),
                data={"attempt": attempt, "reason": reason[:500]},
            )
    if changed:
        logger.info("Delivery %s deferred (failure %d): %s", delivery.pk, failures, reason)
    return DEFERRED


def _uncertain(delivery: Delivery, *, attempt: int, reason: str) -> str:
    """The server may hold the copy. The first time: one more try (same Message-ID); the
    second: "delivery uncertain", final, for staff to decide."""
    if delivery.uncertain_at is not None:
        _finish(
            delivery,
            attempt=attempt,
            state=Delivery.State.UNCERTAIN,
            reason="The mail server may have this copy: twice the connection was lost after "
            f"the whole message had gone out ({reason}). Not tried again.",
        )
        return Delivery.State.UNCERTAIN
    now = timezone.now()
    with transaction.atomic():
        changed = Delivery.objects.filter(
            pk=delivery.pk, state=Delivery.State.SENDING, attempts=attempt
        ).update(
            state=Delivery.State.PENDING,
            due_at=now + timedelta(seconds=retry_delay(1)),
            lease_until=None,
            uncertain_at=now,
            failure_reason=f"Possibly delivered ({reason}); one more try."[:500],
        )
        if changed:
            audit_record(
                actor=None,
                action="delivery.uncertain_retry",
                target=delivery,
                organization=Organization(pk=delivery.organization_id),
                data={"attempt": attempt, "reason": reason[:500]},
            )
    if changed:
        logger.warning("Delivery %s possibly delivered; one more try: %s", delivery.pk, reason)
    return DEFERRED


def notice_finish_if_done(*, notice_id: int) -> bool:
    # Whoever commits the last open row sees every other row final, so one caller wins.
    if Delivery.objects.filter(notice_id=notice_id, state__in=Delivery.OPEN_STATES).exists():
        return False
    with transaction.atomic():
        now = timezone.now()
        changed = Notice.objects.filter(pk=notice_id, state=Notice.State.SENDING).update(
            state=Notice.State.SENT, sent_at=now, updated_at=now
        )
        if changed:
            counts: dict[str, int] = {}
            for state in Delivery.objects.filter(notice_id=notice_id).values_list(
                "state", flat=True
            ):
                counts[state] = counts.get(state, 0) + 1
            audit_record(actor=None, action="notice.sent", target=Notice(pk=notice_id), data=counts)
    return bool(changed)


# ---------------------------------------------------------------- the send


def deliveries_send(*, delivery_ids: Iterable[int]) -> dict[int, str]:
    """Claims, checks, encrypts, signs and sends a batch of copies over one SMTP
    connection. Returns {id: outcome}: the row's new state, SKIPPED when there was
    nothing to claim (or the claim was lost), DEFERRED when it is pending again for a
    retry, RELEASED when the task's time ran out before its turn."""
    delivery_ids = sorted({int(pk) for pk in delivery_ids})
    outcomes = dict.fromkeys(delivery_ids, SKIPPED)
    if not delivery_ids:
        return outcomes
    began = _clock()
    claimed_rows = deliveries_claim(delivery_ids=delivery_ids)
    if not claimed_rows:
        return outcomes
    rows = _with_notices([row for row, _ in claimed_rows])
    claimed = {row.pk: attempt for row, attempt in claimed_rows}
    batch = _Batch(claimed=claimed, lease=_Lease(claimed, began=began), began=began)
    open_rows = {row.pk: row for row in rows}
    try:
        for row, outcome in _send_parts(rows, batch):
            outcomes[row.pk] = outcome
            open_rows.pop(row.pk, None)
    except Exception:
        # Given back at once, if the database lets us; otherwise their lease runs out
        # and the sweeper queues them.
        try:
            deliveries_release(rows=open_rows.values(), claimed=claimed)
        except Exception as error:
            logger.warning("Could not give back %d deliveries: %s", len(open_rows), error)
        raise
    for notice_id in sorted({row.notice_id for row in rows}):
        notice_finish_if_done(notice_id=notice_id)
    return outcomes


class _Batch:
    """What one call of deliveries_send() knows about its batch as it goes."""

    def __init__(self, *, claimed: dict[int, int], lease: _Lease, began: float):
        self.claimed = claimed  # id -> claim number, as claimed
        self.lease = lease
        self.began = began
        # Set when the mail server as a whole, or gpg on this worker, fails: the rest of
        # the batch is deferred with this reason instead of each copy trying in turn.
        self.stop_reason: str | None = None

    def time_is_up(self) -> bool:
        return _clock() - self.began > settings.HAULOUT_DELIVERY_TASK_SECONDS


def _with_notices(rows: list[Delivery]) -> list[Delivery]:
    """The rows, each with its notice (and case): read once for the batch rather than
    joined to every row."""
    notices = Notice.objects.select_related("vulnerability").in_bulk(
        {row.notice_id for row in rows}
    )
    for row in rows:
        row.notice = notices[row.notice_id]
    return rows


def _send_parts(rows: list[Delivery], batch: _Batch):
    """Sends the claimed copies a part at a time (at most recheck_every() copies, fewer
    when they go out slowly: part_size_next()); yields (row, outcome).
    Each part's copies are checked together just before they go out, and the copies the
    SMTP server took are marked sent together at the end of each part, also when
    something goes wrong half-way (a crash re-sends at most a part's worth of copies).

    The last copy of a part is still in gpg while the part's copies are marked sent and
    the next part is checked; that copy is checked again and marked with the next part.
    With gpg_ahead() 1 every copy is pipelined so: the next copy's gpg runs while this
    one goes out by SMTP. A worker then keeps gpg busy instead of waiting on it, then on
    SMTP, then on the database, in turn: the better choice when it has a core to itself.
    Where workers share the cores (the default, 0), two gpg runs of each worker at once
    only crowd each other: 8% more CPU per copy (benchmarks/fanout.py).

    When the batch must stop early (the mail server or gpg is down: batch.stop_reason;
    or the task's time is up), every copy not yet handed off is deferred or released."""
    claimed = batch.claimed
    most, seconds, ahead = recheck_every(), recheck_seconds(), gpg_ahead()
    sent: list[tuple[Delivery, int]] = []  # handed to SMTP, not yet marked
    # Copies whose gpg is running, oldest first: at most the one being sent and, with
    # gpg_ahead() 1, the next.
    in_flight: list[tuple[Delivery, int, object]] = []
    done: set[int] = set()  # ids with an outcome (yielded) or handed to SMTP

    def deliver_oldest() -> tuple[Delivery, str | None]:
        """Sends the oldest sealed copy: its row, and its outcome unless it was sent
        (those are marked together, later)."""
        row, attempt, pending = in_flight[0]
        outcome = _send_one(row, attempt, pending, batch)
        in_flight.pop(0)
        done.add(row.pk)
        if outcome == Delivery.State.SENT:
            sent.append((row, attempt))
            return row, None
        return row, outcome

    def mark():
        """Marks what was sent so far; yields each copy's outcome."""
        marked_now = sent[:]
        sent.clear()
        marked = deliveries_mark_sent(sent=marked_now)
        for row, _ in marked_now:
            batch.lease.finished(row.pk)
            # Not marked: the claim passed to someone else meanwhile (the lease ran
            # out); theirs is the row now. Reported as skipped, like a lost claim.
            yield row, Delivery.State.SENT if row.pk in marked else SKIPPED

    def final(row: Delivery, outcome: str):
        done.add(row.pk)
        batch.lease.finished(row.pk)
        return row, outcome

    start, size = 0, most
    try:
        while start < len(rows) and batch.stop_reason is None and not batch.time_is_up():
            began = _clock()
            # The copy carried over from the previous part (still in gpg, not yet sent)
            # is checked again with this part: what is known now applies to it too.
            carried = {entry[0].pk: entry for entry in in_flight}
            fresh = rows[start : start + size]
            part = fresh + [entry[0] for entry in in_flight]
            ready = []
            for row, attempt, state, reasons, check in _checked(part, claimed):
                if row.pk in carried:
                    if state is not None:
                        carried[row.pk][2].abandon()
                        in_flight.remove(carried[row.pk])
                        _finish(row, attempt=attempt, state=state, reasons=reasons)
                        yield final(row, state)
                elif state is None:
                    ready.append((row, attempt, check.armored))
                else:
                    _finish(row, attempt=attempt, state=state, reasons=reasons)
                    yield final(row, state)
            variants = delivery_variants(deliveries=[row for row, _, _ in ready])
            more = start + len(fresh) < len(rows)
            for index, (row, attempt, armored) in enumerate(ready, start=1):
                if batch.stop_reason is not None:
                    break  # the rest is deferred below, without gpg or SMTP
                started = _start_one(
                    row, attempt=attempt, armored=armored, variant=variants[row.pk], batch=batch
                )
                if isinstance(started, str):  # failed or deferred before gpg ran
                    yield final(row, started)
                else:
                    in_flight.append((row, attempt, started))
                # A part's last copy (when another part follows) stays in gpg while the
                # part is marked and the next is checked, whatever gpg_ahead(): the
                # worker waits on the database with gpg busy rather than in turn.
                limit = max(ahead, 1) if more and index == len(ready) else ahead
                while len(in_flight) > limit and batch.stop_reason is None:
                    row_done, outcome = deliver_oldest()
                    if outcome is not None:
                        yield final(row_done, outcome)
            start += len(fresh)
            if start < len(rows):  # the last part is marked once, below
                yield from mark()
            size = part_size_next(
                most=most, seconds=seconds, elapsed=_clock() - began, copies=len(fresh)
            )
        while in_flight and batch.stop_reason is None:
            row_done, outcome = deliver_oldest()
            if outcome is not None:
                yield final(row_done, outcome)
        yield from mark()
        yield from _wind_up(rows, batch, done, in_flight)
    finally:
        # An error elsewhere: copies not handed to SMTP stay claimed and unsent (given
        # back by deliveries_send), no gpg is left running for them, and the copies
        # that did go out are marked.
        for _row, _attempt, pending in in_flight:
            pending.abandon()
        if sent:
            deliveries_mark_sent(sent=sent)


def _wind_up(rows: list[Delivery], batch: _Batch, done: set[int], in_flight: list):
    """The copies a stopped batch never handed off: deferred with the reason (the mail
    server or gpg is down), or given back to be queued again (the task's time is up)."""
    left = [row for row in rows if row.pk not in done]
    for _row, _attempt, pending in in_flight:
        pending.abandon()
    in_flight.clear()
    if not left:
        return
    if batch.stop_reason is not None:
        for row in left:
            yield row, _defer(row, attempt=batch.claimed[row.pk], reason=batch.stop_reason)
        return
    released = set(deliveries_release(rows=left, claimed=batch.claimed))
    logger.info("Task time is up: %d deliveries handed on.", len(released))
    for row in left:
        yield row, RELEASED if row.pk in released else SKIPPED


def _checked(rows: list[Delivery], claimed: dict[int, int]):
    """Eligibility again, now: an organisation can be suspended, a key revoked or a
    policy lapsed between "send" and this copy's turn. Yields (row, attempt, state,
    reasons, check) where state is None for a copy that may go out."""
    checks = {}
    by_case: dict[int, list[Delivery]] = {}
    for row in rows:
        by_case.setdefault(row.notice.vulnerability_id, []).append(row)
    for case_rows in by_case.values():
        case = case_rows[0].notice.vulnerability
        if case.state == Vulnerability.State.REJECTED:
            continue
        checks.update(
            eligibility_at_send(
                team_member_ids=[row.member_id for row in case_rows if row.member_id],
                disclosure_at=case.disclosure_at,
            )
        )
    for row in rows:
        attempt = claimed[row.pk]
        if row.notice.vulnerability.state == Vulnerability.State.REJECTED:
            yield row, attempt, Delivery.State.CANCELLED, [CASE_CLOSED], None
            continue
        check = checks.get(row.member_id) if row.member_id else None
        if check is None:
            yield row, attempt, Delivery.State.CANCELLED, [MEMBERSHIP_GONE], None
        elif not check.eligible:
            yield row, attempt, Delivery.State.CANCELLED, list(check.reasons), None
        elif not check.fingerprint or check.fingerprint != row.fingerprint:
            yield row, attempt, Delivery.State.CANCELLED, [KEY_CHANGED], None
        else:
            yield row, attempt, None, (), check


def _start_one(row: Delivery, *, attempt: int, armored: str, variant, batch: _Batch):
    """Builds the copy's text and starts its gpg: a PendingWire, or the row's outcome
    when it could not start (failed: the key is unusable; deferred: gpg or the team key
    is, or something unforeseen)."""
    try:
        return notice_wire_start(delivery=row, armored=armored, variant=variant)
    except CryptoError as error:
        return _crypto_outcome(row, attempt=attempt, error=error, batch=batch)
    except Exception as error:
        return _unexpected(row, attempt=attempt, error=error, doing="building")


def _crypto_outcome(row: Delivery, *, attempt: int, error: Exception, batch: _Batch) -> str:
    """Only a fault of the recipient's key fails the copy. gpg missing, its home not
    writable, its agent not starting or the team key unusable can all be mended: the
    copy waits (with the rest of the batch), and this worker says it is unhealthy."""
    if isinstance(error, RecipientKeyError):
        reason = f"Encryption failed: {error}"
        _finish(row, attempt=attempt, state=Delivery.State.FAILED, reason=reason)
        return Delivery.State.FAILED
    reason = f"Encryption not possible on this worker now: {error}"
    gpg_fault_report(reason=str(error))
    batch.stop_reason = reason
    return _defer(row, attempt=attempt, reason=reason)


def _unexpected(row: Delivery, *, attempt: int, error: Exception, doing: str) -> str:
    """Gives the row back for a retry (its give-up time ends a repeating fault) rather
    than leave it claimed until its lease runs out. Logs the type only: an exception's
    text could quote the message it choked on."""
    logger.error("Delivery %s: unexpected %s while %s", row.pk, type(error).__name__, doing)
    return _defer(row, attempt=attempt, reason=f"Unexpected error: {type(error).__name__}")


def _server_down(error: Exception) -> bool:
    """A failure of the mail server (or the way to it) as a whole, not of this copy: no
    connection, a lost one, a refused sender or login, or 421 (closing)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return False  # about this recipient
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code == 421 or isinstance(
            error, smtplib.SMTPSenderRefused | smtplib.SMTPAuthenticationError
        )
    return isinstance(error, OSError | smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError)


def _send_one(row: Delivery, attempt: int, pending, batch: _Batch) -> str:
    """Waits for the copy's gpg, checks the result and hands it to SMTP, if the row is
    still ours and the lease leaves time for the hand-off."""

    def finish(state, reason=""):
        _finish(row, attempt=attempt, state=state, reason=reason)
        return state

    # A copy the SMTP server took is returned as SENT and marked by the caller.

    try:
        wire = pending.result()
    except CryptoError as error:
        return _crypto_outcome(row, attempt=attempt, error=error, batch=batch)
    except Exception as error:
        return _unexpected(row, attempt=attempt, error=error, doing="building")
    gpg_fault_clear()
    if not wire_is_encrypted(wire, reference_code=row.reference_code):
        return finish(Delivery.State.FAILED, reason="Encryption produced no usable message.")
    deadline = batch.lease.hand_off_deadline(row.pk)
    if deadline is None:
        # The lease ran out (a frozen worker waking up) or the row was handed on: it is
        # not ours to send, and the new owner sends it.
        logger.warning("Delivery %s not sent: this worker's lease on it ran out.", row.pk)
        return SKIPPED
    try:
        _smtp_send(wire, from_email=settings.SECURITY_TEAM_EMAIL, to=row.email, deadline=deadline)
    except HandoffUncertain as error:
        return _uncertain(row, attempt=attempt, reason=str(error))
    except DeadlinePassed:
        # The lease ran out during the hand-off (this worker was frozen, or the server is
        # crawling) before the message went out: left to the sweeper and the next owner.
        logger.warning("Delivery %s not sent: this worker's lease on it ran out.", row.pk)
        return SKIPPED
    except (smtplib.SMTPException, OSError) as error:
        code = _smtp_code(error)
        reason = _smtp_reason(error)
        if code is not None and code >= 500:
            return finish(Delivery.State.FAILED, reason=reason)
        if _server_down(error):
            batch.stop_reason = reason
        return _defer(row, attempt=attempt, reason=reason)
    except Exception as error:
        return _unexpected(row, attempt=attempt, error=error, doing="sending")
    return Delivery.State.SENT


def delivery_send(*, delivery_id: int) -> str:
    """One copy (a batch of one). Returns the row's new state, or "skipped" when there
    was nothing to claim. Raises DeliveryDeferred when it is pending again for a retry."""
    outcome = deliveries_send(delivery_ids=[delivery_id])[int(delivery_id)]
    if outcome == DEFERRED:
        reason = (
            Delivery.objects.filter(pk=delivery_id).values_list("failure_reason", flat=True).first()
        )
        raise DeliveryDeferred(reason or "temporary failure")
    return outcome


__all__ = [
    "DEFERRED",
    "SKIPPED",
    "DeliveryDeferred",
    "deliveries_send",
    "delivery_send",
    "notice_finish_if_done",
    "notice_plaintext",
]
