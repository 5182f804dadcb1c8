import logging
import os
import signal
import threading

from celery import Celery
from celery.signals import (
    task_postrun,
    task_prerun,
    worker_process_init,
    worker_process_shutdown,
    worker_shutdown,
    worker_shutting_down,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
logger = logging.getLogger(__name__)

app = Celery("haulout")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Each pool process builds its own gpg home (pgpmail), and signing starts a gpg-agent in
# it. An agent is a daemon of its own: whatever exit path a pool process takes, its home
# must be closed or the agent outlives it. billiard ends pool processes with os._exit, so
# pgpmail's atexit hook never runs there; the hooks below cover the other ways out.

# Set in the main process when a shutdown begins. A SIGTERM to the whole process group
# (honcho on Ctrl+C, a container stop) ends the pool processes before the main process has
# stopped the pool, and billiard forks replacements; they inherit this flag, take no task,
# and must not start agents that nobody stops when honcho kills the main process 5 s later.
_shutting_down = False


@worker_shutting_down.connect
def pool_no_new_homes(**kwargs) -> None:
    global _shutting_down
    _shutting_down = True


@worker_process_shutdown.connect
def gpg_home_close(**kwargs) -> None:
    """A pool process leaving normally (warm shutdown, --max-tasks-per-child)."""
    from pgpmail import worker_home_close

    worker_home_close()


@worker_process_init.connect
def gpg_home_prepare(**kwargs) -> None:
    """Each pool process builds its gpg home as it starts, not during its first notice:
    a wrong key or passphrase shows in the worker's log at once. In a thread: Celery
    gives a starting pool process a few seconds (worker_proc_alive_timeout), and gpg is
    allowed longer; a task that comes first waits for the home under its lock.

    Celery resets SIGTERM to its default in pool processes, so a SIGTERM to the process
    group ended them at once. The handler closes the home first (waiting for a build in
    progress, which holds the home's lock), then ends by SIGTERM as before: an
    interrupted task is redelivered (acks_late) exactly as it was without it. It is in
    place before the build starts, so no SIGTERM finds an agent without a handler."""
    from pgpmail import worker_home_prepare

    def terminate(signum, frame):
        gpg_home_close()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, terminate)
    if _shutting_down:
        logger.info("pool process %s started during shutdown: no gpg home", os.getpid())
        return
    threading.Thread(target=worker_home_prepare, name="gpg-home", daemon=True).start()


@worker_shutdown.connect
def gpg_homes_sweep(**kwargs) -> None:
    """The main process, once its pool has stopped: homes of pool processes that died
    without closing theirs (SIGKILL at a hard time limit, os._exit) are removed, and their
    agents stopped."""
    from pgpmail import worker_homes_sweep

    worker_homes_sweep()


# Celery's Django fix-up closes every database connection before and after each task,
# whatever CONN_MAX_AGE says, unless CELERY_DB_REUSE_MAX is set (settings.py sets it):
# a new PostgreSQL backend per task cost ~0.7 ms of server CPU per copy in a fan-out
# (benchmarks/fanout.py). With it set, Django's own rule applies around each task, as
# around a web request: close_old_connections() honours CONN_MAX_AGE and
# CONN_HEALTH_CHECKS and drops a connection an error left unusable.


@task_prerun.connect
@task_postrun.connect
def db_connections_tidy(sender=None, **kwargs) -> None:
    from django.db import close_old_connections

    # A task run eagerly (tests, CELERY_TASK_ALWAYS_EAGER) is part of its caller's
    # request or transaction: its connection is not ours to close (the fix-up agrees).
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    close_old_connections()
