"""A stopped Celery worker leaves no gpg home and no gpg-agent behind, whether the
SIGTERM reaches the whole process group, only the main process, or the group twice, and
when honcho (`dev.py run`, Ctrl+C) kills the main process before it has finished."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from embargo.models import Delivery
from embargo.services import notice_send
from tests.embargo.helpers import bulk_people, case_ready, notice_draft
from tests.embargo.realservices import agents_for, wait_for

pytestmark = [pytest.mark.services]


def children_of(pid: int) -> set[int]:
    """Live processes whose parent is `pid` (Linux /proc)."""
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            # The fields after the command name, which is in parentheses and may hold spaces.
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.add(int(proc.name))
    return found


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize(
    "signalled", ["process group", "main process", "group, twice", "honcho's Ctrl+C"]
)
def test_a_stopped_worker_closes_its_gpg_homes_and_their_agents(
    real_services_factory, private_redis, person_keys, settings, signalled
):
    services = real_services_factory(broker_url=private_redis.url)
    bulk_people(person_keys(3))
    case = case_ready()
    notice = notice_draft(case=case)
    root = Path(settings.GPG_HOME_ROOT)
    before = set(root.glob("worker-*"))
    worker = services.worker("stopping")
    notice_send(notice=notice, actor=case.created_by)
    wait_for(
        lambda: Delivery.objects.filter(notice=notice, state=Delivery.State.SENT).count() == 3,
        timeout=120,
        what="the copies to be sent",
    )
    made = set(root.glob("worker-*")) - before
    assert made, "the worker signed nothing in a home of its own"
    assert agents_for(made), "signing should have started an agent in the worker's home"

    pid = worker.process.pid
    if signalled == "process group":
        worker.stop()  # SIGTERM to the group
    elif signalled == "group, twice":
        # honcho forwards its own SIGTERM to a group that `pkill` or a container stop
        # has already signalled: the second, sent once the first is being handled, must
        # not cut the first one's close short.
        os.killpg(pid, signal.SIGTERM)
        wait_for(lambda: "Warm shutdown" in worker.output(), timeout=30, what="the shutdown")
        os.killpg(pid, signal.SIGTERM)
        worker.process.wait(30)
    elif signalled == "honcho's Ctrl+C":
        # honcho sends SIGTERM to the group, then SIGKILL to the main process if it has
        # not finished within 5 s, by when the pool processes have closed their homes and
        # exited. The main process never reaches its own clean-up, and a pool process
        # billiard forks as a replacement meanwhile must start no agent: Celery gives pool
        # processes SIGKILL when the main process dies, so nothing would stop it. Whether
        # billiard forks one here is up to its timing (usually not, in this harness); what
        # a replacement does is checked in tests/embargo/test_worker_gpg_homes.py.
        pool = children_of(pid)
        ready_before = worker.output().count("gpg home ready")
        os.killpg(pid, signal.SIGTERM)
        wait_for(lambda: not pool & children_of(pid), timeout=30, what="the pool to exit")

        def replacement_reported_or_worker_done() -> bool:
            output = worker.output()
            return (
                "started during shutdown: no gpg home" in output
                or output.count("gpg home ready") > ready_before
                or worker.process.poll() is not None
            )

        wait_for(replacement_reported_or_worker_done, timeout=30, what="the shutdown")
        if worker.process.poll() is None:
            os.kill(pid, signal.SIGKILL)
        worker.process.wait(30)
        wait_for(lambda: group_gone(pid), timeout=30, what="the pool processes to exit")
        made = set(root.glob("worker-*")) - before  # a replacement's home too, if any
    else:
        os.kill(pid, signal.SIGTERM)
        worker.process.wait(30)

    assert worker.process.returncode is not None
    wait_for(lambda: not agents_for(made), timeout=10, what="the agents to exit")
    assert not any(home.exists() for home in made)


def test_a_starting_worker_builds_its_gpg_home_before_any_task(
    real_services_factory, private_redis, settings
):
    services = real_services_factory(broker_url=private_redis.url)
    root = Path(settings.GPG_HOME_ROOT)
    before = set(root.glob("worker-*"))

    worker = services.worker("preparing").wait_ready()

    # No notice was sent: the home, its imported team key and its agent are there anyway.
    wait_for(
        lambda: "gpg home ready" in worker.output(),
        timeout=60,
        what="the worker to build its gpg home",
    )
    made = set(root.glob("worker-*")) - before
    assert made
    assert agents_for(made)
    assert all((home / "pubring.kbx").exists() for home in made)
    worker.stop()
    wait_for(lambda: not agents_for(made), timeout=10, what="the agents to exit")
    assert not any(home.exists() for home in made)
