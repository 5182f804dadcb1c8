"""Running a periodic job twice at once, as two Celery beats do.

`run_at_once(job)` runs `job` in two threads, each with its own database connection (so
the tests need `transactional_db`). A `Gate` holds each thread at its first call of a
chosen function until both threads have got there: placed just before a job's first
write (`gate.before`, or `gate.transaction()` for the `transaction.atomic()` blocks of a
module), both runs have finished reading before either claims anything, which is the
race two beats firing together produce. A gate that never opened (one run waited for the
other, say) fails the test instead of passing it without a race.
"""

from __future__ import annotations

import functools
import threading
from types import SimpleNamespace

from django.db import connections, transaction

GATE_TIMEOUT = 30  # seconds; generous, the test machine is a busy two-core box


class Gate:
    def __init__(self, parties: int = 2, timeout: float = GATE_TIMEOUT):
        self.barrier = threading.Barrier(parties, timeout=timeout)
        self.local = threading.local()
        self.opened = False

    def wait(self) -> None:
        if getattr(self.local, "passed", False):
            return
        self.local.passed = True
        self.barrier.wait()  # BrokenBarrierError after the timeout: the test fails
        self.opened = True

    def before(self, function):
        """`function`, whose first call in each thread waits for the other thread."""

        @functools.wraps(function)
        def gated(*args, **kwargs):
            self.wait()
            return function(*args, **kwargs)

        return gated

    def transaction(self):
        """A stand-in for a module's `transaction`: its first `atomic()` in each thread
        waits at the gate; everything else is Django's own."""
        return SimpleNamespace(
            atomic=self.before(transaction.atomic),
            on_commit=transaction.on_commit,
            get_connection=transaction.get_connection,
        )


def run_at_once(job, *, parties: int = 2, timeout: float = 120) -> list:
    """Runs `job()` in `parties` threads together; returns their results in order and
    re-raises the first error any of them met."""
    results: list = [None] * parties
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            results[index] = job()
        except BaseException as error:  # handed to the test below
            errors.append(error)
        finally:
            connections.close_all()  # each thread's own connection

    threads = [threading.Thread(target=run, args=(index,)) for index in range(parties)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a run never finished"
    if errors:
        raise errors[0]
    return results
