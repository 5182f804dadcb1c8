"""A stopped Celery worker leaves no gpg home and no gpg-agent behind, whether the
SIGTERM reaches the whole process group (honcho on Ctrl+C), only the main process, or the
group twice."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from embargo.models import Delivery
from embargo.services import notice_send
from tests.embargo.helpers import bulk_people, case_ready, notice_draft
from tests.embargo.realservices import wait_for

pytestmark = [pytest.mark.services]


def agents_for(homes: set[Path]) -> list[int]:
    """Pids of live gpg-agent processes started in one of `homes`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"gpg-agent"):
            text = b" ".join(args).decode(errors="replace")
            if any(str(home) in text for home in homes):
                found.append(int(proc.name))
    return found


@pytest.mark.parametrize("signalled", ["process group", "main process", "group, twice"])
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

    if signalled == "process group":
        worker.stop()  # SIGTERM to the group, as honcho sends it
    elif signalled == "group, twice":
        # honcho forwards its own SIGTERM to a group that `pkill` or a container stop
        # has already signalled: the second must not cut the first one's close short.
        os.killpg(worker.process.pid, signal.SIGTERM)
        time.sleep(0.05)
        os.killpg(worker.process.pid, signal.SIGTERM)
        worker.process.wait(30)
    else:
        os.kill(worker.process.pid, signal.SIGTERM)
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
