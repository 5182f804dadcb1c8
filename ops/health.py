"""Which checks each health answer runs, and running them with django-health-check
(its timeouts and its handling of unexpected errors, which it logs and reports as
"unknown error" without the exception's text)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from health_check import Cache, HealthCheck
from health_check.base import HealthCheckResult

from core.health import BeatHeartbeat, ServiceUnknown
from embargo.health import GpgBinary, TeamKey, WaitingCopies, WorkerEncryption
from intake.health import FirstResponseDeadline
from ops.checks import Broker, Database, Workers


def load_balancer_checks() -> list[HealthCheck]:
    """/healthz/: only what a web process needs to answer at all, and cheap: the
    database (SELECT 1), the shared cache (a set and a get) and the broker (a connection)."""
    return [Database(), Cache(), Broker()]


def staff_checks() -> list[HealthCheck]:
    return [
        *load_balancer_checks(),
        Workers(),
        BeatHeartbeat(),
        GpgBinary(),
        TeamKey(),
        WorkerEncryption(),
        WaitingCopies(),
        FirstResponseDeadline(),
    ]


OK, UNKNOWN, FAILING = "ok", "unknown", "failing"


@dataclass(frozen=True)
class Outcome:
    title: str
    status: str
    message: str


def _title(check: HealthCheck) -> str:
    names = {Database: "Database", Cache: "Shared cache"}
    return getattr(check, "title", "") or names.get(type(check), type(check).__name__)


def _outcome(result: HealthCheckResult) -> Outcome:
    check, error = result.check, result.error
    if error is None:
        return Outcome(_title(check), OK, getattr(check, "detail", "") or "OK")
    status = UNKNOWN if isinstance(error, ServiceUnknown) else FAILING
    return Outcome(_title(check), status, str(error.message))


async def _results(checks: list[HealthCheck]) -> list[HealthCheckResult]:
    return await asyncio.gather(*(check.get_result() for check in checks))


def checks_run(checks: list[HealthCheck]) -> list[Outcome]:
    """Every check at once, each within its own timeout; "unknown" is not a failure."""
    return [_outcome(result) for result in async_to_sync(_results)(checks)]


def healthy(outcomes: list[Outcome]) -> bool:
    return all(outcome.status != FAILING for outcome in outcomes)
