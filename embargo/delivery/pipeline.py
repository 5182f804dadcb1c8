"""One batch's copies, from claimed rows to handed-off mail, keeping gpg busy across SMTP
and database work (see Pipeline). What becomes of each copy is outcomes.py's; the rows'
own statements are rows.py's."""

from __future__ import annotations

import logging
import smtplib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings

from distributors.eligibility import eligibility_at_send
from embargo.delivery.health import gpg_fault_clear, gpg_fault_report
from embargo.delivery.mail import (
    notice_wire_start,
    smtp_code,
    smtp_reason,
    smtp_send,
    wire_is_encrypted,
)
from embargo.delivery.outcomes import (
    CASE_CLOSED,
    KEY_CHANGED,
    MEMBERSHIP_GONE,
    RELEASED,
    SKIPPED,
    copy_defer,
    copy_finish,
    copy_uncertain,
    log_ids,
)
from embargo.delivery.rows import (
    deliveries_lease_renew,
    deliveries_mark_sent,
    deliveries_release,
    lease_seconds,
)
from embargo.delivery.variants import delivery_variants
from embargo.models import Delivery, Vulnerability
from pgpmail import CryptoError, DeadlinePassed, HandoffUncertain, RecipientKeyError

logger = logging.getLogger(__name__)


def recheck_every() -> int:
    return max(1, int(settings.HAULOUT_DELIVERY_RECHECK_EVERY))


def recheck_seconds() -> float:
    return max(0.0, float(settings.HAULOUT_DELIVERY_RECHECK_SECONDS))


def part_size_next(*, most: int, seconds: float, elapsed: float, copies: int) -> int:
    """How many copies the next part takes: as many as the part just sent (`copies` in
    `elapsed` seconds) would send in `seconds`; at least one, at most `most`."""
    if copies <= 0 or elapsed <= 0:
        return most
    return max(1, min(most, int(seconds * copies / elapsed)))


def gpg_ahead() -> int:
    """Copies whose gpg a worker starts before the copy it is sending has gone: 0 or 1
    (settings.HAULOUT_DELIVERY_GPG_AHEAD)."""
    return min(1, max(0, int(settings.HAULOUT_DELIVERY_GPG_AHEAD)))


@dataclass(frozen=True)
class Wiring:
    """What a batch talks to besides the database: the monotonic clock that times leases
    and parts, and the hand-off to SMTP. Workers use these; tests hand in their own (a
    clock that jumps, a mail server that fails)."""

    clock: Callable[[], float] = time.monotonic
    hand_off: Callable[..., None] = smtp_send


class Lease:
    """This call's hold on the rows it claimed: which are still its own, and until when
    (on this process's monotonic clock, a margin short of the lease in the database)."""

    def __init__(self, claimed: dict[int, int], *, began: float, clock: Callable[[], float]):
        self.clock = clock
        self.claimed = dict(claimed)  # id -> claim number, for the rows still ours
        self.seconds = lease_seconds()
        # From before the claim's statement: never later than the database's lease.
        self.expires = began + self.seconds
        # Room for a clock that runs a little differently on the sweeper's machine.
        self.margin = max(1.0, self.seconds / 6)

    def hand_off_deadline(self, pk: int) -> float | None:
        """The moment a hand-off of this row to SMTP must be over, or None when it must
        not start: the row is no longer ours, or too little of the lease is left."""
        if self.expires - self.clock() < self.seconds / 2:
            self.renew()
        if pk not in self.claimed or self.expires - self.clock() <= self.margin:
            return None
        return self.expires - self.margin

    def renew(self) -> None:
        began = self.clock()
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


class Batch:
    """What one call of deliveries_send() knows about its batch as it goes."""

    def __init__(self, *, claimed: dict[int, int], began: float, wiring: Wiring):
        self.claimed = claimed  # id -> claim number, as claimed
        self.wiring = wiring
        self.lease = Lease(claimed, began=began, clock=wiring.clock)
        self.began = began
        # Set when the mail server as a whole, or gpg on this worker, fails: the rest of
        # the batch is deferred with this reason instead of each copy trying in turn.
        self.stop_reason: str | None = None

    def time_is_up(self) -> bool:
        return self.wiring.clock() - self.began > settings.HAULOUT_DELIVERY_TASK_SECONDS

    def stopping(self) -> bool:
        return self.stop_reason is not None


@dataclass
class InFlight:
    """A copy whose gpg is running: its row, its claim number and the gpg run."""

    row: Delivery
    attempt: int
    sealing: object  # a PendingWire: .result() waits for gpg, .abandon() stops it


@dataclass
class Pipeline:
    """Sends a batch's claimed copies a part at a time (at most recheck_every() copies,
    fewer when they go out slowly: part_size_next()); run() yields (row, outcome).
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

    rows: list[Delivery]
    batch: Batch
    most: int = field(default_factory=recheck_every)
    seconds: float = field(default_factory=recheck_seconds)
    ahead: int = field(default_factory=gpg_ahead)
    # Handed to SMTP, not yet marked sent.
    sent: list[tuple[Delivery, int]] = field(default_factory=list)
    # Copies whose gpg is running, oldest first: at most the one being sent and, with
    # gpg_ahead() 1, the next.
    in_flight: list[InFlight] = field(default_factory=list)
    # Ids with an outcome (yielded) or handed to SMTP.
    done: set[int] = field(default_factory=set)

    def run(self) -> Iterator[tuple[Delivery, str]]:
        batch, clock = self.batch, self.batch.wiring.clock
        start, size = 0, self.most
        try:
            while start < len(self.rows) and not batch.stopping() and not batch.time_is_up():
                began = clock()
                fresh = self.rows[start : start + size]
                start += len(fresh)
                yield from self._part(fresh, more=start < len(self.rows))
                if start < len(self.rows):  # the last part is marked once, below
                    yield from self._mark()
                size = part_size_next(
                    most=self.most, seconds=self.seconds, elapsed=clock() - began, copies=len(fresh)
                )
            while self.in_flight and not batch.stopping():
                yield from self._deliver_oldest()
            yield from self._mark()
            yield from self._wind_up()
        finally:
            # An error elsewhere: copies not handed to SMTP stay claimed and unsent (given
            # back by deliveries_send), no gpg is left running for them, and the copies
            # that did go out are marked.
            for entry in self.in_flight:
                entry.sealing.abandon()
            if self.sent:
                deliveries_mark_sent(sent=self.sent)

    def _part(self, fresh: list[Delivery], *, more: bool) -> Iterator[tuple[Delivery, str]]:
        """Checks the part (and the copy carried over from the last, still in gpg), then
        starts gpg for each copy that may go and sends the oldest while the next seals."""
        ready: list[tuple[Delivery, int, str]] = []
        yield from self._check(fresh, ready)
        variants = delivery_variants(deliveries=[row for row, _, _ in ready])
        for index, (row, attempt, armored) in enumerate(ready, start=1):
            if self.batch.stopping():
                break  # the rest is deferred by _wind_up, without gpg or SMTP
            started = _start_one(
                row, attempt=attempt, armored=armored, variant=variants[row.pk], batch=self.batch
            )
            if isinstance(started, str):  # failed or deferred before gpg ran
                yield self._final(row, started)
            else:
                self.in_flight.append(InFlight(row, attempt, started))
            # A part's last copy (when another part follows) stays in gpg while the part
            # is marked and the next is checked, whatever gpg_ahead(): the worker waits
            # on the database with gpg busy rather than in turn.
            limit = max(self.ahead, 1) if more and index == len(ready) else self.ahead
            while len(self.in_flight) > limit and not self.batch.stopping():
                yield from self._deliver_oldest()

    def _check(self, fresh: list[Delivery], ready: list) -> Iterator[tuple[Delivery, str]]:
        """Eligibility for the part, now; fills `ready` with the copies that may go and
        yields the outcome of those that may not. The copy carried over from the last part
        is checked again: what is known now applies to it too."""
        carried = {entry.row.pk: entry for entry in self.in_flight}
        part = fresh + [entry.row for entry in self.in_flight]
        for row, attempt, state, reasons, check in _checked(part, self.batch.claimed):
            if row.pk in carried:
                if state is not None:
                    carried[row.pk].sealing.abandon()
                    self.in_flight.remove(carried[row.pk])
                    copy_finish(row, attempt=attempt, state=state, reasons=reasons)
                    yield self._final(row, state)
            elif state is None:
                ready.append((row, attempt, check.armored))
            else:
                copy_finish(row, attempt=attempt, state=state, reasons=reasons)
                yield self._final(row, state)

    def _deliver_oldest(self) -> Iterator[tuple[Delivery, str]]:
        """Sends the oldest sealed copy; yields its outcome unless it was sent (those are
        marked together, later)."""
        entry = self.in_flight[0]
        outcome = _send_one(entry.row, entry.attempt, entry.sealing, self.batch)
        self.in_flight.pop(0)
        self.done.add(entry.row.pk)
        if outcome == Delivery.State.SENT:
            self.sent.append((entry.row, entry.attempt))
        else:
            yield self._final(entry.row, outcome)

    def _mark(self) -> Iterator[tuple[Delivery, str]]:
        """Marks what was sent so far; yields each copy's outcome."""
        marked_now, self.sent = self.sent, []
        marked = deliveries_mark_sent(sent=marked_now)
        for row, _ in marked_now:
            self.batch.lease.finished(row.pk)
            # Not marked: the claim passed to someone else meanwhile (the lease ran
            # out); theirs is the row now. Reported as skipped, like a lost claim.
            yield row, Delivery.State.SENT if row.pk in marked else SKIPPED

    def _final(self, row: Delivery, outcome: str) -> tuple[Delivery, str]:
        self.done.add(row.pk)
        self.batch.lease.finished(row.pk)
        return row, outcome

    def _wind_up(self) -> Iterator[tuple[Delivery, str]]:
        """The copies a stopped batch never handed off: deferred with the reason (the mail
        server or gpg is down), or given back to be queued again (the task's time is up)."""
        left = [row for row in self.rows if row.pk not in self.done]
        for entry in self.in_flight:
            entry.sealing.abandon()
        self.in_flight.clear()
        if not left:
            return
        batch = self.batch
        if batch.stopping():
            for row in left:
                yield row, copy_defer(row, attempt=batch.claimed[row.pk], reason=batch.stop_reason)
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


def _start_one(row: Delivery, *, attempt: int, armored: str, variant, batch: Batch):
    """Builds the copy's text and starts its gpg: a PendingWire, or the row's outcome
    when it could not start (failed: the key is unusable; deferred: gpg or the team key
    is, or something unforeseen)."""
    try:
        return notice_wire_start(delivery=row, armored=armored, variant=variant)
    except CryptoError as error:
        return _crypto_outcome(row, attempt=attempt, error=error, batch=batch)
    except Exception as error:
        return _unexpected(row, attempt=attempt, error=error, doing="building")


def _crypto_outcome(row: Delivery, *, attempt: int, error: Exception, batch: Batch) -> str:
    """Only a fault of the recipient's key fails the copy. gpg missing, its home not
    writable, its agent not starting or the team key unusable can all be mended: the
    copy waits (with the rest of the batch), and this worker says it is unhealthy."""
    if isinstance(error, RecipientKeyError):
        reason = f"Encryption failed: {error}"
        copy_finish(row, attempt=attempt, state=Delivery.State.FAILED, reason=reason)
        return Delivery.State.FAILED
    reason = f"Encryption not possible on this worker now: {error}"
    gpg_fault_report(reason=str(error))
    batch.stop_reason = reason
    return copy_defer(row, attempt=attempt, reason=reason)


def _unexpected(row: Delivery, *, attempt: int, error: Exception, doing: str) -> str:
    """Gives the row back for a retry (its give-up time ends a repeating fault) rather
    than leave it claimed until its lease runs out. Logs the type only: an exception's
    text could quote the message it choked on."""
    logger.error(
        "Delivery %s: unexpected %s while %s",
        row.pk,
        type(error).__name__,
        doing,
        extra=log_ids(row),
    )
    return copy_defer(row, attempt=attempt, reason=f"Unexpected error: {type(error).__name__}")


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


def _send_one(row: Delivery, attempt: int, pending, batch: Batch) -> str:
    """Waits for the copy's gpg, checks the result and hands it to SMTP, if the row is
    still ours and the lease leaves time for the hand-off."""

    def finish(state, reason=""):
        copy_finish(row, attempt=attempt, state=state, reason=reason)
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
        logger.warning(
            "Delivery %s not sent: this worker's lease on it ran out.", row.pk, extra=log_ids(row)
        )
        return SKIPPED
    try:
        batch.wiring.hand_off(
            wire, from_email=settings.SECURITY_TEAM_EMAIL, to=row.email, deadline=deadline
        )
    except HandoffUncertain as error:
        return copy_uncertain(row, attempt=attempt, reason=str(error))
    except DeadlinePassed:
        # The lease ran out during the hand-off (this worker was frozen, or the server is
        # crawling) before the message went out: left to the sweeper and the next owner.
        logger.warning(
            "Delivery %s not sent: this worker's lease on it ran out.", row.pk, extra=log_ids(row)
        )
        return SKIPPED
    except (smtplib.SMTPException, OSError) as error:
        code = smtp_code(error)
        reason = smtp_reason(error)
        if code is not None and code >= 500:
            return finish(Delivery.State.FAILED, reason=reason)
        if _server_down(error):
            batch.stop_reason = reason
        return copy_defer(row, attempt=attempt, reason=reason)
    except Exception as error:
        return _unexpected(row, attempt=attempt, error=error, doing="sending")
    return Delivery.State.SENT
