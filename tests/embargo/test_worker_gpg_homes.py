"""The worker's gpg homes on the ways out that a stopping worker cannot wait for: a pool
process forked while the worker shuts down builds none, and the main process removes the
homes (and stops the agents) of pool processes that died without closing theirs.
tests/embargo/test_real_shutdown.py stops real workers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from config import celery as celery_config
from pgpmail import worker_home_close, worker_homes_sweep
from tests.embargo.realservices import agents_for, wait_for


@pytest.fixture
def home_root(settings, team_key):
    root = Path(tempfile.mkdtemp(prefix="hc-"))  # short: gpg-agent's socket lives in a home
    settings.GPG_HOME_ROOT = root
    worker_home_close()
    yield root
    worker_home_close()
    shutil.rmtree(root, ignore_errors=True)


def _forked_pool_process(root: Path) -> int:
    """What a pool process does as billiard forks it: the worker_process_init hook. The
    child's exit code: 1 if it built a gpg home (closed again), 0 if it built none."""
    pid = os.fork()
    if pid == 0:  # the child: never back into pytest
        code = 2
        try:
            celery_config.gpg_home_prepare()
            for thread in threading.enumerate():
                if thread.name == "gpg-home":
                    thread.join(60)
            code = 1 if list(root.glob(f"worker-{os.getpid()}-*")) else 0
            worker_home_close()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.parametrize("shutting_down", [False, True])
def test_a_pool_process_forked_once_shutdown_began_builds_no_gpg_home(
    home_root, monkeypatch, shutting_down
):
    monkeypatch.setattr(celery_config, "_shutting_down", False)  # put back afterwards
    if shutting_down:
        celery_config.pool_no_new_homes()  # the main process, as its shutdown begins
    assert _forked_pool_process(home_root) == (0 if shutting_down else 1)
    assert not list(home_root.iterdir())


def test_the_pool_hook_handles_sigterm_before_any_home_is_built(home_root, monkeypatch):
    monkeypatch.setattr(celery_config, "_shutting_down", True)  # so nothing is built here
    previous = signal.getsignal(signal.SIGTERM)
    try:
        celery_config.gpg_home_prepare()
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, previous)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _agent_start(home: Path) -> None:
    home.mkdir(mode=0o700)
    subprocess.run(
        ["gpg-agent", "--homedir", str(home), "--daemon"],
        check=True,
        # The daemon keeps whatever it inherits open: no pipes to wait on.
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=30,
    )


def test_the_main_process_sweeps_homes_whose_process_is_gone(home_root):
    dead = home_root / "worker-4194999-0a1b2c3d"  # above any real pid_max
    alive = home_root / f"worker-{os.getpid()}-4e5f6a7b"
    _agent_start(dead)
    _agent_start(alive)
    assert agents_for({dead}) and agents_for({alive})
    try:
        worker_homes_sweep()
        wait_for(lambda: not agents_for({dead}), timeout=10, what="the dead home's agent")
        assert not dead.exists()
        assert alive.exists() and agents_for({alive})
    finally:
        subprocess.run(
            ["gpgconf", "--homedir", str(alive), "--kill", "gpg-agent"],
            check=False,
            capture_output=True,
            timeout=30,
        )


def test_sweeping_without_a_home_root_does_nothing(settings, tmp_path):
    settings.GPG_HOME_ROOT = tmp_path / "never-made"
    worker_homes_sweep()
    assert not (tmp_path / "never-made").exists()
