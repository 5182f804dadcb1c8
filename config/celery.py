import os
import signal
import threading

from celery import Celery
from celery.signals import (
    task_postrun,
    task_prerun,
    worker_process_init,
    worker_process_shutdown,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("haulout")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Each pool process builds its own gpg home (pgpmail.crypto), and signing starts a
# gpg-agent in it. billiard ends pool processes with os._exit, so crypto's atexit hook
# never runs there: without these two hooks every stopped worker left its agents behind.


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
    allowed longer; a task that comes first waits for the home under its lock."""
    from pgpmail import worker_home_prepare

    threading.Thread(target=worker_home_prepare, name="gpg-home", daemon=True).start()


@worker_process_init.connect
def gpg_home_close_on_sigterm(**kwargs) -> None:
    """Celery resets SIGTERM to its default in pool processes, so a SIGTERM sent to the
    whole process group (honcho on Ctrl+C, `kill -- -PGID`, a container stop) ended them
    at once. Close the home first, then end by SIGTERM as before: an interrupted task is
    redelivered (acks_late) exactly as it was without this handler."""

    def terminate(signum, frame):
        gpg_home_close()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, terminate)


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
