"""Periodic jobs that are safe to run twice at once.

Two Celery beats (or one beat and a run started by hand) may start the same job together.
Each job therefore claims every piece of work before it mails anything: a conditional
UPDATE of the row it is about (first response alerted, copy reminded, key warned), or,
where no row of ours fits (a person's weekly policy reminder: people are Django's users),
a `PeriodicClaim` row. The claim and its audit event commit together, and the mail is
queued after the commit, so the run that loses the race sends nothing and logs nothing.

Only statements that cannot fail on a race are used (an insert that ignores conflicts,
then a conditional UPDATE): correct on SQLite, which has no row locks, and no "duplicate
key" errors in PostgreSQL's log for the run that loses.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import Q

from core.models import PeriodicClaim

logger = logging.getLogger(__name__)


def periodic_claim(*, job: str, key: str | int, now: datetime, every: timedelta | None) -> bool:
    """True if this run claimed `key` for the period starting at `now`: it was never
    claimed, or (with `every`) its last claim is at least `every` old. Call it inside the
    transaction that records the work; a rollback gives the claim back.

    Of two runs racing for one key, exactly one gets True: on PostgreSQL the second insert
    waits for the first run's transaction and its UPDATE then no longer matches; SQLite
    lets one writer in at a time."""
    key = str(key)
    # Makes sure the row exists; a conflict (another run's row) is not an error.
    PeriodicClaim.objects.bulk_create(
        [PeriodicClaim(job=job, key=key, claimed_at=None)], ignore_conflicts=True
    )
    unclaimed = Q(claimed_at__isnull=True)
    if every is not None:
        unclaimed |= Q(claimed_at__lte=now - every)
    return PeriodicClaim.objects.filter(unclaimed, job=job, key=key).update(claimed_at=now) == 1


# Beat's heartbeat: a job of its own (core.tasks.beat_heartbeat_task) writes the time it
# last ran into one PeriodicClaim row, so the staff health page can tell a stopped beat
# from one that has nothing to do (the other jobs write only when they find work).
BEAT_HEARTBEAT_JOB = "beat.heartbeat"
BEAT_HEARTBEAT_KEY = "beat"


def beat_heartbeat_record(*, now: datetime) -> None:
    """Beat (through a worker) ran at `now`. No audit event: this records that the
    machinery runs, not a decision about anyone, and would otherwise add an event a
    minute to the log. Two runs at once both succeed (the later time wins or ties)."""
    PeriodicClaim.objects.bulk_create(
        [PeriodicClaim(job=BEAT_HEARTBEAT_JOB, key=BEAT_HEARTBEAT_KEY, claimed_at=None)],
        ignore_conflicts=True,
    )
    PeriodicClaim.objects.filter(job=BEAT_HEARTBEAT_JOB, key=BEAT_HEARTBEAT_KEY).filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now)
    ).update(claimed_at=now)


def beat_heartbeat_last() -> datetime | None:
    """When beat's heartbeat job last ran, or None if it never has."""
    return (
        PeriodicClaim.objects.filter(job=BEAT_HEARTBEAT_JOB, key=BEAT_HEARTBEAT_KEY)
        .values_list("claimed_at", flat=True)
        .first()
    )
