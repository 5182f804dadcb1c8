"""Sending people's copies of a notice, a batch at a time (queueing them, and the sweeper
that makes sure every copy goes: queue.py; the rows' own statements, claiming and
marking sent: rows.py; every state move: states.py; one batch's pipeline: pipeline.py).

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
from collections.abc import Iterable

from django.db import DatabaseError, connections

from embargo.delivery.outcomes import (
    DEFERRED,
    RELEASED,
    SKIPPED,
    DeliveryDeferred,
    notice_finish_if_done,
)
from embargo.delivery.pipeline import Batch, Pipeline, Wiring
from embargo.delivery.queue import deliveries_enqueue
from embargo.delivery.rows import deliveries_claim, deliveries_release
from embargo.models import Delivery, Notice

logger = logging.getLogger(__name__)

WIRING = Wiring()


def deliveries_send(*, delivery_ids: Iterable[int], wiring: Wiring = WIRING) -> dict[int, str]:
    """Claims, checks, encrypts, signs and sends a batch of copies over one SMTP
    connection. Returns {id: outcome}: the row's new state, SKIPPED when there was
    nothing to claim (or the claim was lost), DEFERRED when it is pending again for a
    retry, RELEASED when the task's time ran out before its turn."""
    delivery_ids = sorted({int(pk) for pk in delivery_ids})
    outcomes = dict.fromkeys(delivery_ids, SKIPPED)
    if not delivery_ids:
        return outcomes
    began = wiring.clock()
    claimed_rows = deliveries_claim(delivery_ids=delivery_ids)
    if not claimed_rows:
        return outcomes
    rows = _with_notices([row for row, _ in claimed_rows])
    claimed = {row.pk: attempt for row, attempt in claimed_rows}
    batch = Batch(claimed=claimed, began=began, wiring=wiring)
    open_rows = {row.pk: row for row in rows}
    try:
        for row, outcome in Pipeline(rows=rows, batch=batch).run():
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


def deliveries_send_batch(*, delivery_ids: Iterable[int], wiring: Wiring = WIRING) -> None:
    """The worker's entry point (delivery_send_task): sends the batch and queues again at
    once the copies handed on because the task's time was up. No Celery retries: a copy's
    retry state (due time, failures, give-up time) is in its row, and the sweeper queues
    it when it is due, whatever became of this task."""
    try:
        outcomes = deliveries_send(delivery_ids=delivery_ids, wiring=wiring)
    except DatabaseError as error:
        # The database went away (a restart, a failover). Whatever this batch had claimed
        # comes back when its lease runs out; the rest is still pending and due. A broken
        # connection must not be reused by the next task.
        logger.warning("Delivery batch stopped, database unavailable: %s", type(error).__name__)
        for connection in connections.all(initialized_only=True):
            connection.close_if_unusable_or_obsolete()
        return
    released = sorted(pk for pk, outcome in outcomes.items() if outcome == RELEASED)
    if released:
        deliveries_enqueue(delivery_ids=released)


def _with_notices(rows: list[Delivery]) -> list[Delivery]:
    """The rows, each with its notice (and case): read once for the batch rather than
    joined to every row."""
    notices = Notice.objects.select_related("vulnerability").in_bulk(
        {row.notice_id for row in rows}
    )
    for row in rows:
        row.notice = notices[row.notice_id]
    return rows


def delivery_send(*, delivery_id: int, wiring: Wiring = WIRING) -> str:
    """One copy (a batch of one). Returns the row's new state, or "skipped" when there
    was nothing to claim. Raises DeliveryDeferred when it is pending again for a retry."""
    outcome = deliveries_send(delivery_ids=[delivery_id], wiring=wiring)[int(delivery_id)]
    if outcome == DEFERRED:
        reason = (
            Delivery.objects.filter(pk=delivery_id).values_list("failure_reason", flat=True).first()
        )
        raise DeliveryDeferred(reason or "temporary failure")
    return outcome
