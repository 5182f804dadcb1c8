"""A worker process says when it cannot encrypt at all (gpg missing, its home not
writable, its agent not starting, the team key unusable), so the security team and a
health check see it while the copies wait, instead of finding failed copies later.

The record lives in the shared cache (Redis in production, files locally), one entry
per worker process, and expires by itself: a process that dies with a fault recorded
stops being reported a few minutes later. It holds the fault's reason, never anything
of a message.
"""

from __future__ import annotations

import logging
import os
import socket
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)

_INDEX_KEY = "haulout:worker-health:index"
_TTL_SECONDS = 15 * 60
# This process's own state, so that a fault is written (and logged) once when it
# starts and once when it ends, not for every copy in between.
_reported: str | None = None


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _key(worker: str) -> str:
    return f"haulout:worker-health:{worker}"


def gpg_fault_report(*, reason: str) -> None:
    """This process cannot encrypt now, for `reason` (no message content)."""
    global _reported
    if _reported == reason:
        return
    worker = _worker_id()
    logger.error("Worker %s cannot encrypt; copies wait: %s", worker, reason)
    try:
        cache.set(_key(worker), {"reason": reason, "since": time.time()}, _TTL_SECONDS)
        index = set(cache.get(_INDEX_KEY) or ())
        index.add(worker)
        cache.set(_INDEX_KEY, sorted(index), _TTL_SECONDS)
    except Exception as error:  # the cache is a report, never a reason to stop sending
        logger.warning("Could not record the worker's health: %s", type(error).__name__)
        return
    _reported = reason


def gpg_fault_clear() -> None:
    """This process encrypted a copy again."""
    global _reported
    if _reported is None:
        return
    worker = _worker_id()
    logger.warning("Worker %s can encrypt again.", worker)
    try:
        cache.delete(_key(worker))
    except Exception as error:
        logger.warning("Could not record the worker's health: %s", type(error).__name__)
        return
    _reported = None


def gpg_faults() -> dict[str, dict]:
    """{worker: {"reason", "since"}} for every worker process that reported a fault in
    the last few minutes and has not recovered."""
    try:
        workers = cache.get(_INDEX_KEY) or ()
        found = cache.get_many([_key(worker) for worker in workers])
    except Exception:
        return {}
    return {worker: found[_key(worker)] for worker in workers if _key(worker) in found}
