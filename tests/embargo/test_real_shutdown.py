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
        # not finished within 5 s: the main process never reaches its own clean-up, and
        # each pool process must close its home by itself.
        os.killpg(pid, signal.SIGTERM)
        wait_for(lambda: "Warm shutdown" in worker.output(), timeout=30, what="the shutdown")
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
