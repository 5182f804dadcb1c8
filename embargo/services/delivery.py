"""Sending people's copies of a notice, a batch at a time (queueing them, and the sweeper
that makes sure every copy goes: delivery_queue.py; the rows' own statements, claiming
and marking sent: delivery_rows.py).

At-least-once without loss, and never twice at the same time:
- a task carries a short list of row ids (ids only) and claims them with one conditional
  UPDATE (pending -> sending, attempts + 1) that returns the rows it claimed; a row that
  another task or worker claimed first is not among them, so it is never sent twice;
- the claim number (attempts) fences a slow worker out of a row the sweeper handed on;
- eligibility is checked again, for a few copies at a time, just before they go out;
- copies the SMTP server took are marked sent, with their audit events, a part at a time
  (at most recheck_every() copies; fewer when they go out slowly, so that a part takes
  about recheck_seconds()): a crash mid-batch re-sends only copies not yet marked, at
  most once each, with the same Message-ID, so a rare duplicate is recognisable as the
  same message;
- a temporary SMTP failure puts that copy alone back to pending; the rest of the batch
  goes on; a row whose task was lost (broker down, worker killed) is queued again by the
  sweeper.

Logs name delivery ids and reasons only, never a subject, body or address.
"""

from __future__ import annotations

import logging
import smtplib
import time
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from distributors.audit import audit_record
from distributors.eligibility import eligibility_at_send
from distributors.models import Organization

from ..models import Delivery, Notice, Vulnerability
from .delivery_mail import connection_drop as _connection_drop  # noqa: F401 (tests)
from .delivery_mail import notice_plaintext, notice_wire_start, wire_is_encrypted
from .delivery_mail import smtp_code as _smtp_code
from .delivery_mail import smtp_reason as _smtp_reason
from .delivery_mail import smtp_send as _smtp_send
from .delivery_rows import deliveries_claim, deliveries_mark_sent, deliveries_release

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
DEFERRED = "deferred"  # a temporary failure: pending again, to be retried soon

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
    return bool(changed)


def _defer(delivery: Delivery, *, attempt: int, reason: str) -> str:
    """Back to pending for a retry; failed once the attempts run out."""
    if attempt >= settings.HAULOUT_DELIVERY_MAX_ATTEMPTS:
        _finish(
            delivery,
            attempt=attempt,
            state=Delivery.State.FAILED,
            reason=f"Gave up after {attempt} temporary failures; last: {reason}",
        )
        return Delivery.State.FAILED
    # queued_at restarts the sweeper's clock: the retry is already on its way.
    Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.SENDING, attempts=attempt).update(
        state=Delivery.State.PENDING, queued_at=timezone.now(), failure_reason=reason[:500]
    )
    logger.info("Delivery %s deferred (attempt %d): %s", delivery.pk, attempt, reason)
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
    nothing to claim, or DEFERRED when it is pending again for a retry."""
    delivery_ids = sorted({int(pk) for pk in delivery_ids})
    outcomes = dict.fromkeys(delivery_ids, SKIPPED)
    if not delivery_ids:
        return outcomes
    claimed_rows = deliveries_claim(delivery_ids=delivery_ids)
    if not claimed_rows:
        return outcomes
    rows = _with_notices([row for row, _ in claimed_rows])
    claimed = {row.pk: attempt for row, attempt in claimed_rows}
    open_rows = list(rows)
    try:
        for row, outcome in _send_parts(rows, claimed):
            outcomes[row.pk] = outcome
            open_rows.remove(row)
    except Exception:
        deliveries_release(rows=open_rows, claimed=claimed)
        raise
    for notice_id in sorted({row.notice_id for row in rows}):
        notice_finish_if_done(notice_id=notice_id)
    return outcomes


def _with_notices(rows: list[Delivery]) -> list[Delivery]:
    """The rows, each with its notice (and case): read once for the batch rather than
    joined to every row."""
    notices = Notice.objects.select_related("vulnerability").in_bulk(
        {row.notice_id for row in rows}
    )
    for row in rows:
        row.notice = notices[row.notice_id]
    return rows


def _send_parts(rows: list[Delivery], claimed: dict[int, int]):
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
    only crowd each other: 8% more CPU per copy (benchmarks/fanout.py)."""
    from .tracing import delivery_variants

    most, seconds, ahead = recheck_every(), recheck_seconds(), gpg_ahead()
    sent: list[tuple[Delivery, int]] = []  # handed to SMTP, not yet marked
    # Copies whose gpg is running, oldest first: at most the one being sent and, with
    # gpg_ahead() 1, the next.
    in_flight: list[tuple[Delivery, int, object]] = []

    def deliver_oldest() -> tuple[Delivery, str | None]:
        """Sends the oldest sealed copy: its row, and its outcome unless it was sent
        (those are marked together, later)."""
        row, attempt, pending = in_flight[0]
        outcome = _send_one(row, attempt, pending)
        in_flight.pop(0)
        if outcome == Delivery.State.SENT:
            sent.append((row, attempt))
            return row, None
        return row, outcome

    def mark():
        """Marks what was sent so far; yields each copy's outcome."""
        done = sent[:]
        sent.clear()
        marked = deliveries_mark_sent(sent=done)
        for row, _ in done:
            # Not marked: the claim passed to someone else meanwhile (the sweeper's
            # timeout); theirs is the row now. Reported as skipped, like a lost claim.
            yield row, Delivery.State.SENT if row.pk in marked else SKIPPED

    start, size = 0, most
    try:
        while start < len(rows):
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
                        yield row, state
                elif state is None:
                    ready.append((row, attempt, check.armored))
                else:
                    _finish(row, attempt=attempt, state=state, reasons=reasons)
                    yield row, state
            variants = delivery_variants(deliveries=[row for row, _, _ in ready])
            more = start + len(fresh) < len(rows)
            for index, (row, attempt, armored) in enumerate(ready, start=1):
                started = _start_one(
                    row, attempt=attempt, armored=armored, variant=variants[row.pk]
                )
                if isinstance(started, str):  # failed or deferred before gpg ran
                    yield row, started
                else:
                    in_flight.append((row, attempt, started))
                # A part's last copy (when another part follows) stays in gpg while the
                # part is marked and the next is checked, whatever gpg_ahead(): the
                # worker waits on the database with gpg busy rather than in turn.
                limit = max(ahead, 1) if more and index == len(ready) else ahead
                while len(in_flight) > limit:
                    done, outcome = deliver_oldest()
                    if outcome is not None:
                        yield done, outcome
            start += len(fresh)
            if start < len(rows):  # the last part is marked once, below
                yield from mark()
            size = part_size_next(
                most=most, seconds=seconds, elapsed=_clock() - began, copies=len(fresh)
            )
        while in_flight:
            done, outcome = deliver_oldest()
            if outcome is not None:
                yield done, outcome
        yield from mark()
    finally:
        # An error elsewhere: copies not handed to SMTP stay claimed and unsent (given
        # back by deliveries_send), no gpg is left running for them, and the copies
        # that did go out are marked.
        for _row, _attempt, pending in in_flight:
            pending.abandon()
        if sent:
            deliveries_mark_sent(sent=sent)


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


def _start_one(row: Delivery, *, attempt: int, armored: str, variant):
    """Builds the copy's text and starts its gpg: a PendingWire, or the row's outcome
    when it could not start (failed: nothing to encrypt with; deferred: unforeseen)."""
    from ..crypto import CryptoError

    try:
        return notice_wire_start(delivery=row, armored=armored, variant=variant)
    except CryptoError as error:
        _finish(
            row, attempt=attempt, state=Delivery.State.FAILED, reason=f"Encryption failed: {error}"
        )
        return Delivery.State.FAILED
    except Exception as error:
        return _unexpected(row, attempt=attempt, error=error, doing="building")


def _unexpected(row: Delivery, *, attempt: int, error: Exception, doing: str) -> str:
    """Gives the row back for a retry (the attempt limit ends a repeating fault) rather
    than leave it claimed until the sweeper's timeout. Logs the type only: an exception's
    text could quote the message it choked on."""
    logger.error("Delivery %s: unexpected %s while %s", row.pk, type(error).__name__, doing)
    return _defer(row, attempt=attempt, reason=f"Unexpected error: {type(error).__name__}")


def _send_one(row: Delivery, attempt: int, pending) -> str:
    """Waits for the copy's gpg, checks the result and hands it to SMTP."""
    from ..crypto import CryptoError

    def finish(state, reason=""):
        _finish(row, attempt=attempt, state=state, reason=reason)
        return state

    # A copy the SMTP server took is returned as SENT and marked by the caller.

    try:
        wire = pending.result()
    except CryptoError as error:
        return finish(Delivery.State.FAILED, reason=f"Encryption failed: {error}")
    except Exception as error:
        return _unexpected(row, attempt=attempt, error=error, doing="building")
    if not wire_is_encrypted(wire, reference_code=row.reference_code):
        return finish(Delivery.State.FAILED, reason="Encryption produced no usable message.")
    try:
        _smtp_send(wire, from_email=settings.SECURITY_TEAM_EMAIL, to=row.email)
    except (smtplib.SMTPException, OSError) as error:
        code = _smtp_code(error)
        reason = _smtp_reason(error)
        if code is not None and code >= 500:
            return finish(Delivery.State.FAILED, reason=reason)
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
