"""The checks about the Celery machinery itself: the broker connection and a worker
answering. They need the Celery app, which only the wiring (config/) and this layer
may import."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import ClassVar

import health_check
from asgiref.sync import sync_to_async
from health_check import HealthCheck
from health_check.exceptions import ServiceUnavailable
from kombu.exceptions import OperationalError

from config.celery import app
from core.health import ServiceUnknown

# Brokers over which `celery inspect ping` gets answers. kombu's filesystem transport (the
# embedded default) has no reply channel a web process can wait on reliably, so there the
# worker check says "unknown" at once instead of waiting for nothing.
PING_TRANSPORTS = {"redis", "amqp"}


@dataclasses.dataclass
class Database(health_check.Database):
    """The library's SELECT 1, on the request's own connection (thread-sensitive) rather
    than in its thread pool, where each probe opened and closed a connection of its own:
    a new PostgreSQL backend every few seconds per web process under a load balancer.
    The request's connection is health-checked by Django as the request starts."""

    async def run(self) -> None:
        await sync_to_async(super().run, thread_sensitive=True)()


@dataclasses.dataclass
class Broker(HealthCheck):
    """A connection to the Celery broker opens (one try, a short connect timeout)."""

    title: ClassVar[str] = "Task queue (Celery broker)"
    detail: str = dataclasses.field(default="", init=False, repr=False)
    connect_seconds: float = dataclasses.field(default=2.0, repr=False)

    def run(self) -> None:
        try:
            with app.connection_for_write(connect_timeout=self.connect_seconds) as connection:
                connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0)
                self.detail = f"{connection.transport.driver_type} broker reachable."
        except (OperationalError, OSError) as error:
            # The error's class only: a broker URL may carry a password.
            raise ServiceUnavailable(
                f"The broker does not answer ({type(error).__name__})."
            ) from error


@dataclasses.dataclass
class Workers(HealthCheck):
    """At least one worker answers a ping within `ping_seconds`, and every queue we route
    to (the default one and the sweeper's) has a worker consuming it."""

    title: ClassVar[str] = "Celery workers"
    detail: str = dataclasses.field(default="", init=False, repr=False)
    ping_seconds: float = dataclasses.field(default=1.0, repr=False)
    # Two waits of ping_seconds (the ping, the queues) and a margin.
    timeout = timedelta(seconds=3)

    def run(self) -> None:
        with app.connection_for_read() as connection:
            driver = connection.transport.driver_type
        if driver not in PING_TRANSPORTS:
            raise ServiceUnknown(f"Workers cannot be asked over the {driver} broker.")
        try:
            replies = app.control.ping(timeout=self.ping_seconds) or []
        except (OperationalError, OSError) as error:
            raise ServiceUnavailable(
                f"The broker does not answer ({type(error).__name__})."
            ) from error
        workers = [name for reply in replies for name, answer in reply.items() if answer]
        if not workers:
            raise ServiceUnavailable(f"No worker answered within {self.ping_seconds:g} s.")
        consumed = {
            queue.get("name")
            for queues in (
                app.control.inspect(workers, timeout=self.ping_seconds).active_queues() or {}
            ).values()
            for queue in queues
        }
        routed = {queue.name for queue in app.conf.task_queues or ()} or {
            app.conf.task_default_queue
        }
        missing = sorted(routed - consumed)
        if missing:
            raise ServiceUnavailable(f"No worker consumes the queue(s) {', '.join(missing)}.")
        self.detail = f"{len(workers)} worker(s) answered."
