"""Queueing copies for the workers, and the sweeper that makes sure every copy goes.

Tasks carry short lists of delivery ids, never text. A broker that is down when "send"
is pressed loses nothing: the rows stay pending, and the sweeper queues them again, as it
does for rows whose worker was killed mid-send. Logs name ids and counts only.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from ..models import Delivery, Notice
from .delivery import notice_finish_if_done

logger = logging.getLogger(__name__)

# Copies per task. Bigger batches spread the per-task cost (queueing, the claim, reading
# the notice, closing it) over more copies and leave a worker's gpg pipeline empty less
# often (it drains at the end of each task); the end of a fan-out is shared out in
# smaller pieces (_batches).
DEFAULT_BATCH_SIZE = 100


def batch_size() -> int:
    return max(1, int(getattr(settings, "HAULOUT_DELIVERY_BATCH_SIZE", DEFAULT_BATCH_SIZE)))


_PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}


def queue_or_log(task, *args) -> bool:
    """Queues a task; if the broker is unreachable, logs that (ids only) and carries on.
    Callers rely on the sweeper, or a later run of a periodic task, to catch up."""
    try:
        # One quick reconnect (a pooled connection may predate a broker restart), then
        # give up: with the broker down the caller must not stall.
        task.apply_async(args=args, retry=True, retry_policy=_PUBLISH_RETRY)
    except Exception as error:  # any broker or connection error
        logger.warning(
            "Could not queue %s%r: %s; a periodic task will pick it up.",
            task.name,
            args,
            type(error).__name__,
        )
        return False
    return True


def deliveries_enqueue(*, notice_id: int | None = None, delivery_ids=None) -> int:
    """Queues send tasks for the pending rows (of a notice, or the given ids), a batch of
    ids per task. Stops at the first broker error: the rows stay pending and the sweeper
    retries them. Returns how many rows were queued."""
    from ..tasks import delivery_send_task

    if delivery_ids is None:
        delivery_ids = list(
            Delivery.objects.filter(notice_id=notice_id, state=Delivery.State.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    delivery_ids = [int(pk) for pk in delivery_ids]
    queued = 0
    for batch in _batches(delivery_ids, batch_size()):
        if not queue_or_log(delivery_send_task, batch):
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
    """Queues again every copy left behind: pending too long since it was last queued, or
    claimed by a worker that never finished (killed, or lost its connection)."""
    now = now or timezone.now()
    pending_cutoff = now - timedelta(seconds=settings.HAULOUT_DELIVERY_PENDING_TIMEOUT)
    sending_cutoff = now - timedelta(seconds=settings.HAULOUT_DELIVERY_SENDING_TIMEOUT)
    stuck = list(
        Delivery.objects.filter(state=Delivery.State.SENDING, claimed_at__lt=sending_cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:5000]
    )
    if stuck:
        # Conditional, like the claim: a worker that finishes meanwhile keeps its result.
        Delivery.objects.filter(
            pk__in=stuck, state=Delivery.State.SENDING, claimed_at__lt=sending_cutoff
        ).update(state=Delivery.State.PENDING, queued_at=pending_cutoff)
        logger.warning("Released %d deliveries whose worker never finished.", len(stuck))
    waiting = list(
        Delivery.objects.filter(state=Delivery.State.PENDING, queued_at__lte=pending_cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:5000]
    )
    if waiting:
        Delivery.objects.filter(pk__in=waiting, state=Delivery.State.PENDING).update(queued_at=now)
        deliveries_enqueue(delivery_ids=waiting)
    # A notice whose last rows were finished by this sweep, or by a worker that died just
    # before it could mark the notice, is closed here.
    for notice_id in Notice.objects.filter(state=Notice.State.SENDING).values_list("pk", flat=True):
        notice_finish_if_done(notice_id=notice_id)
    return len(waiting)
