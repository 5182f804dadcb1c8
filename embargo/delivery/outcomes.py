"""What becomes of one copy on the send path: its final state, or back to pending for a
retry, each a move of the transition table (states.py) with its audit event, in one
transaction, and only while this claim still holds the row (state sending, same attempt
number). Also when a notice is done."""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.queue import task_queue_after_commit
from distributors.models import Organization
from embargo.delivery.states import RETRY, SEND_OUTCOMES, delivery_move
from embargo.models import Delivery, Notice

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


class DeliveryDeferred(Exception):
    """A temporary failure: the row is pending again and the task should retry soon."""


def log_ids(delivery: Delivery) -> dict[str, int]:
    """The ids a log line about a copy carries as fields (JSON logs): the copy's and its
    notice's, never the person's address or anything of the notice's text."""
    return {"delivery_id": delivery.pk, "notice_id": delivery.notice_id}


def retry_delay(failures: int) -> float:
    """Seconds before a copy's next try after its n-th temporary failure in a row: 1, 2,
    4 ... up to settings.HAULOUT_DELIVERY_RETRY_MAX_SECONDS, plus up to a second of
    jitter so that a thousand copies deferred together do not all return at once."""
    cap = max(1, settings.HAULOUT_DELIVERY_RETRY_MAX_SECONDS)
    return min(cap, 2 ** min(max(failures, 1) - 1, 16)) + random.uniform(0, 1)


def copy_finish(
    delivery: Delivery, *, attempt: int, state: str, reason: str = "", reasons=()
) -> bool:
    """Final state and its audit event, in one transaction, only if the claim is still
    ours (state sending, same attempt)."""
    now = timezone.now()
    with transaction.atomic():
        changed = delivery_move(
            SEND_OUTCOMES[state],
            rows=Delivery.objects.filter(pk=delivery.pk, attempts=attempt),
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
        logger.info(
            "Delivery %s %s: %s",
            delivery.pk,
            state,
            reason or ",".join(reasons),
            extra=log_ids(delivery),
        )
    if changed and state in Delivery.ATTENTION_STATES:
        _attention_alert_after_commit(delivery.notice_id)
    return bool(changed)


def _attention_alert_after_commit(notice_id: int) -> None:
    task_queue_after_commit("embargo.tasks.deliveries_attention_alert_task", notice_id)


def copy_defer(delivery: Delivery, *, attempt: int, reason: str) -> str:
    """Back to pending, due again after a capped backoff; failed once the copy's
    give-up time (hours after its first temporary failure) has passed."""
    now = timezone.now()
    give_up_at = delivery.give_up_at or now + timedelta(
        hours=settings.HAULOUT_DELIVERY_GIVE_UP_HOURS
    )
    failures = delivery.temporary_failures + 1
    if now >= give_up_at:
        copy_finish(
            delivery,
            attempt=attempt,
            state=Delivery.State.FAILED,
            reason=f"Gave up after {failures} temporary failures over "
            f"{settings.HAULOUT_DELIVERY_GIVE_UP_HOURS:g} hours; last: {reason}",
        )
        return Delivery.State.FAILED
    with transaction.atomic():
        changed = delivery_move(
            RETRY,
            rows=Delivery.objects.filter(pk=delivery.pk, attempts=attempt),
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
        logger.info(
            "Delivery %s deferred (failure %d): %s",
            delivery.pk,
            failures,
            reason,
            extra=log_ids(delivery),
        )
    return DEFERRED


def copy_uncertain(delivery: Delivery, *, attempt: int, reason: str) -> str:
    """The server may hold the copy. The first time: one more try (same Message-ID); the
    second: "delivery uncertain", final, for staff to decide."""
    if delivery.uncertain_at is not None:
        copy_finish(
            delivery,
            attempt=attempt,
            state=Delivery.State.UNCERTAIN,
            reason="The mail server may have this copy: twice the connection was lost after "
            f"the whole message had gone out ({reason}). Not tried again.",
        )
        return Delivery.State.UNCERTAIN
    now = timezone.now()
    with transaction.atomic():
        changed = delivery_move(
            RETRY,
            rows=Delivery.objects.filter(pk=delivery.pk, attempts=attempt),
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
        logger.warning(
            "Delivery %s possibly delivered; one more try: %s",
            delivery.pk,
            reason,
            extra=log_ids(delivery),
        )
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
