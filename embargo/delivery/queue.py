"""Queueing copies for the workers, and the sweeper that makes sure every copy goes.

Tasks carry short lists of delivery ids, never text. A broker that is down when "send"
is pressed loses nothing: the rows stay pending, and the sweeper queues them again, as it
does for rows whose worker was killed mid-send. Logs name ids and counts only.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.audit import audit_record
from core.mail import plain_mail
from core.queue import task_queue
from distributors.models import Organization
from embargo.delivery.outcomes import notice_finish_if_done
from embargo.delivery.rows import (
    deliveries_due_take,
    deliveries_lease_expired_take,
    due_when_queued,
)
from embargo.delivery.states import CANCEL_WAITING, delivery_move
from embargo.models import Delivery, Notice

logger = logging.getLogger(__name__)


def batch_size() -> int:
    # settings.HAULOUT_DELIVERY_BATCH_SIZE says why 100 by default.
    return max(1, settings.HAULOUT_DELIVERY_BATCH_SIZE)


def deliveries_enqueue(*, notice_id: int | None = None, delivery_ids=None) -> int:
    """Queues send tasks for the pending rows (of a notice, or the given ids), a batch of
    ids per task. Stops at the first broker error: the rows stay pending and the sweeper
    retries them. Returns how many rows were queued."""
    if delivery_ids is None:
        delivery_ids = list(
            Delivery.objects.filter(notice_id=notice_id, state=Delivery.State.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    delivery_ids = [int(pk) for pk in delivery_ids]
    queued = 0
    for batch in _batches(delivery_ids, batch_size()):
        if not task_queue("embargo.tasks.delivery_send_task", batch):
            logger.warning(
                "Queued %d of %d deliveries; the rest stay pending for the sweeper.",
                queued,
                len(delivery_ids),
            )
            break
        queued += len(batch)
    return queued


def _batches(ids: list[int], size: int) -> list[list[int]]:
    """Full batches while plenty remain, then pieces of a quarter of what remains, down
    to an eighth of a batch: the workers finish together instead of one waiting on
    another's last big batch."""
    batches, start = [], 0
    smallest = max(1, size // 8)
    while start < len(ids):
        remaining = len(ids) - start
        piece = min(size, max(smallest, -(-remaining // 4)))
        batches.append(ids[start : start + piece])
        start += piece
    return batches


def deliveries_sweep(*, now=None) -> int:
    """Queues again every copy left behind, and closes notices whose last copy is final.
    Safe to run twice at once (two beats): each row is taken by one sweep only, in one
    conditional statement, and only the sweep that took a row queues it.
    - sending copies whose lease ran out (the worker was killed, froze, or lost the
      database) go back to pending, due now, with an audit event each;
    - pending copies that are due (a retry's time has come, or no task claimed them
      within HAULOUT_DELIVERY_PENDING_TIMEOUT of being queued) are queued.
    Returns how many copies were queued."""
    now = now or timezone.now()
    reclaimed = deliveries_lease_expired_take(now=now)
    if reclaimed:
        logger.warning("Took back %d deliveries whose lease ran out.", len(reclaimed))
    due = deliveries_due_take(now=now, requeue_at=due_when_queued(now))
    if due:
        deliveries_enqueue(delivery_ids=due)
    # A notice whose last rows were finished by this sweep, or by a worker that died just
    # before it could mark the notice, is closed here.
    for notice_id in Notice.objects.filter(state=Notice.State.SENDING).values_list("pk", flat=True):
        notice_finish_if_done(notice_id=notice_id)
    return len(due)


def deliveries_attention_alert(*, notice_id: int) -> int:
    """Tells staff, in one plain mail, about the copies of a notice that failed or are
    "delivery uncertain" since the last such mail. The rows are marked in the same
    transaction, conditionally, so two runs never tell the same copy twice; a mail that
    cannot go out rolls the marks back for the task's retry. No content: counts and the
    link to the notice's status."""
    from django.contrib.auth import get_user_model

    now = timezone.now()
    with transaction.atomic():
        taken = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(
                notice_id=notice_id,
                state__in=Delivery.ATTENTION_STATES,
                attention_alerted_at__isnull=True,
            )
            .values_list("pk", "state")
        )
        if not taken:
            return 0
        marked = Delivery.objects.filter(
            pk__in=[pk for pk, _ in taken], attention_alerted_at__isnull=True
        ).update(attention_alerted_at=now)
        if not marked:
            return 0
        failed = sum(1 for _, state in taken if state == Delivery.State.FAILED)
        audit_record(
            actor=None,
            action="notice.attention_reported",
            target=Notice(pk=notice_id),
            data={"failed": failed, "uncertain": len(taken) - failed},
        )
        notice = Notice.objects.get(pk=notice_id)
        staff = get_user_model().objects.filter(is_staff=True, is_active=True)
        return plain_mail(
            recipients=staff.values_list("email", flat=True),
            template="embargo/email/deliveries_attention",
            context={
                "notice_id": notice_id,
                "failed": failed,
                "uncertain": len(taken) - failed,
                "url": settings.SITE_URL + notice.get_staff_url(),
            },
        )


def deliveries_cancel_for_organization(*, organization: Organization, reason: str, actor) -> int:
    """Cancels the organisation's copies still waiting to be sent. Must run inside the
    transaction that changed the organisation, so no worker claims a row in between."""
    rows = Delivery.objects.filter(
        Q(organization=organization) | Q(member__organization=organization),
        state=Delivery.State.PENDING,
    )
    ids = list(rows.values_list("pk", flat=True))
    notice_ids = sorted(set(rows.values_list("notice_id", flat=True)))
    if not ids:
        return 0
    # Conditional on "pending", like a worker's claim: a row claimed meanwhile is left to
    # delivery_send, whose own eligibility check now sees the new status.
    cancelled = delivery_move(
        CANCEL_WAITING,
        rows=Delivery.objects.filter(pk__in=ids),
        reasons=[reason],
        finished_at=timezone.now(),
    )
    audit_record(
        actor=actor,
        action="deliveries.cancelled",
        target=organization,
        data={"count": cancelled, "notices": notice_ids, "reason": reason},
    )
    for notice_id in notice_ids:
        notice_finish_if_done(notice_id=notice_id)
    return cancelled
