"""What the health checks of every app build on (django-health-check runs them; the
wiring, ops/, lists them), and core's own check: beat's heartbeat.

A check raises one of the library's exceptions when something is wrong, with a message
for the staff page that names the problem and never any case's text; ServiceUnknown says
a check could not find out (shown, but not counted as a failure). A check may set
`detail` to say what it saw when all is well ("last run 40 s ago").
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import ClassVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone
from health_check import HealthCheck
from health_check.exceptions import HealthCheckException, ServiceUnavailable

from core.periodic import beat_heartbeat_last


class ServiceUnknown(HealthCheckException):
    """The check cannot tell (e.g. workers cannot be asked over the embedded broker)."""

    message_type = "Unknown"


@dataclasses.dataclass
class DatabaseReadCheck(HealthCheck):
    """A check that reads our tables. It runs in the request's own thread (sync_to_async,
    thread-sensitive), on the request's database connection, instead of the library's
    thread pool: one connection per request, not one per check, and it sees the same
    data as the rest of the request (tests run inside a transaction)."""

    title: ClassVar[str] = ""
    detail: str = dataclasses.field(default="", init=False, repr=False)

    async def run(self) -> None:
        await sync_to_async(self.check, thread_sensitive=True)()

    def check(self) -> None:
        raise NotImplementedError


def age_text(age: timedelta) -> str:
    seconds = max(0, int(age.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


@dataclasses.dataclass
class BeatHeartbeat(DatabaseReadCheck):
    """Celery beat ran its heartbeat job recently (core.tasks.beat_heartbeat_task, every
    HAULOUT_BEAT_HEARTBEAT_SECONDS; a worker runs it, so a beat with no worker is stale
    too, and the worker check tells the two apart)."""

    title: ClassVar[str] = "Celery beat"

    def check(self) -> None:
        last = beat_heartbeat_last()
        if last is None:
            raise ServiceUnavailable("Beat's heartbeat job has never run.")
        age = timezone.now() - last
        if age > timedelta(seconds=settings.HAULOUT_HEALTH_BEAT_MAX_AGE_SECONDS):
            raise ServiceUnavailable(f"Beat's heartbeat job last ran {age_text(age)} ago.")
        self.detail = f"Last run {age_text(age)} ago."
