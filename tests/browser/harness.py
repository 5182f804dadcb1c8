"""The real server and the system's Chromium for the browser tests.

`server_start` runs Haulout as it runs for a person: `migrate`, `collectstatic`, the demo
data (`manage.py demo`), then gunicorn on a free loopback port, all in a var dir of its
own with an SQLite file there, whatever DATABASE_URL the test run itself uses. The browser
is Debian's `chromium` (/usr/bin/chromium, installed by `.ci/run`), driven by Playwright
for Python; Playwright never downloads a browser of its own here. Without Chromium the
tests skip with the reason, except under CI=true, where that is a failure: the browser
tests must never silently skip there (the pattern of tests/embargo/realservices.py).

`worker_start(server)` adds the Procfile's Celery worker in the server's environment, for
a journey whose copies must really go out (the server's broker is a folder in its var
dir); its `stop()` reports any gpg-agent it left behind.
"""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.embargo.realservices import agents_for

BASE_DIR = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("HAULOUT_CHROMIUM", "/usr/bin/chromium"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SCREENSHOTS = BASE_DIR / "var" / "screenshots"
# Settings that point at shared services: the browser tests' server keeps to its own var
# dir (SQLite, file cache, file broker, mail files) so it never touches the CI database.
SHARED_SERVICE_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "CACHE_URL",
    "CELERY_BROKER_URL",
    "EMAIL_URL",
    "PYTEST_XDIST_WORKER",
    "PYTEST_XDIST_TESTRUNUID",
    "DJANGO_SETTINGS_MODULE",
)
START_SECONDS = 60
STOP_SECONDS = 10
# A worker's warm shutdown waits for the task in hand (a copy being encrypted and sent).
WORKER_STOP_SECONDS = 30


def skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI must run the browser tests, but {reason}", pytrace=False)
    pytest.skip(reason)


def chromium_or_skip() -> str:
    if not CHROMIUM.exists():
        skip_or_fail(
            f"Chromium is not installed at {CHROMIUM} (apt-get install chromium; .ci/run does this)"
        )
    return str(CHROMIUM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    var_dir: Path
    env: dict
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        # gunicorn's graceful stop; the process group also holds its workers.
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_SECONDS)


def server_env(var_dir: Path, port: int, *, gpg_root: Path | None = None) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in SHARED_SERVICE_VARIABLES}
    venv_bin = Path(sys.executable).parent
    env.update(
        {
            "HAULOUT_VAR_DIR": str(var_dir),
            "HAULOUT_GPG_HOME_ROOT": str(gpg_root or var_dir / "gnupg"),
            "DJANGO_SECURE": "0",
            "DJANGO_DEBUG": "0",
            "HAULOUT_SITE_URL": f"http://127.0.0.1:{port}",
            "HAULOUT_BIND": f"127.0.0.1:{port}",
            "PATH": f"{venv_bin}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    # As `dev.py run` shows it: the demo's security team, not the bare default.
    env.setdefault("HAULOUT_SECURITY_TEAM_EMAIL", "security@security-team.example.org")
    return env


def _manage(env: dict, log, *args: str) -> None:
    command = [sys.executable, "manage.py", *args]
    code = subprocess.call(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    if code:
        raise RuntimeError(f"`manage.py {' '.join(args)}` exited with {code}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


# The state a server starts from (migrated, demo data, the demo notice sent), prepared
# once per test process and copied for every further server: the preparation is most of
# a server's start, and every server must begin from the same data anyway.
_PRISTINE: dict[str, Path] = {}
_UNCOPIED = shutil.ignore_patterns("server.log", "*.pid", "gnupg", "S.*")


def _prepare(env: dict, log) -> None:
    # The static files do not depend on the database: collected while it migrates.
    collect = subprocess.Popen(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _manage(env, log, "migrate", "--noinput", "-v", "0")
    finally:
        if collect.wait(timeout=START_SECONDS):
            raise RuntimeError("`manage.py collectstatic` failed")
    _manage(env, log, "demo")
    # Sends the demo notice and delivers its copies as the worker would, so a
    # recipient has a notice to read and acknowledge.
    code = subprocess.call(
        [sys.executable, "-m", "tests.browser.prepare"],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    if code:
        raise RuntimeError(f"tests/browser/prepare.py exited with {code}")


def _pristine_remove() -> None:
    for path in _PRISTINE.values():
        shutil.rmtree(path, ignore_errors=True)


def server_start(var_dir: Path, *, gpg_root: Path | None = None) -> Server:
    """Prepares the database and demo data (or copies them from the first server of this
    test process, taken before it served anything), starts gunicorn and waits until it
    answers. Nothing in the var dir names the port, so a copy serves as well as the
    original."""
    var_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = server_env(var_dir, port, gpg_root=gpg_root)
    log_path = var_dir / "server.log"
    with log_path.open("ab") as log:
        if "var" in _PRISTINE:
            shutil.copytree(_PRISTINE["var"], var_dir, dirs_exist_ok=True, ignore=_UNCOPIED)
        else:
            _prepare(env, log)
            pristine = Path(tempfile.mkdtemp(prefix="hp", dir="/tmp"))
            shutil.copytree(var_dir, pristine, dirs_exist_ok=True, ignore=_UNCOPIED)
            _PRISTINE["var"] = pristine
            atexit.register(_pristine_remove)
        gunicorn = shutil.which("gunicorn", path=env["PATH"]) or "gunicorn"
        process = subprocess.Popen(
            [gunicorn, "config.wsgi", "--bind", env["HAULOUT_BIND"], "--workers", "2"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", var_dir, env, process, log_path)
    deadline = time.monotonic() + START_SECONDS
    while not _answers(server.url + "/"):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"the server did not start:\n{server.log_tail()}")
        time.sleep(0.1)
    return server


# ---------------------------------------------------------------- the Celery worker


def procfile_command(name: str) -> list[str]:
    """The command the Procfile gives process `name`: what `dev.py run` starts (honcho)."""
    for line in (BASE_DIR / "Procfile").read_text().splitlines():
        label, _, command = line.partition(":")
        if label.strip() == name:
            return shlex.split(command)
    raise RuntimeError(f"the Procfile has no {name!r} process")


def gpg_agents_in(root: Path) -> list[int]:
    """Pids of live gpg-agent processes started in a gpg home under `root`: an agent is a
    daemon of its own, outside the worker's process group."""
    return agents_for({root})


@dataclass
class Worker:
    process: subprocess.Popen
    log_path: Path
    gpg_root: Path
    log_start: int = 0  # where this run's output begins in a log an earlier run wrote to

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no worker log)"

    def is_ready(self) -> bool:
        # Celery logs "<name>@<host> ready." once its consumer takes tasks.
        try:
            with self.log_path.open("rb") as log:
                log.seek(self.log_start)
                return b" ready." in log.read()
        except OSError:
            return False

    def stop(self) -> list[int]:
        """A warm shutdown, as a container stop asks for it: SIGTERM to the main process,
        whose pool processes then close their gpg homes and agents (config/celery.py) and
        exit. Whatever of the process group is left after that is killed. Returns the pids
        of any gpg-agent still running in the server's gpg homes afterwards."""
        if self.process.poll() is None:
            # Not SIGTERM to the whole group: the pool processes then die at once, one of
            # them holding the pool's task-queue lock, and the main process (an idle one
            # too) hangs in billiard's clean-up waiting for it (seen with this broker).
            self.process.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=WORKER_STOP_SECONDS)
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_SECONDS)
        # An agent told to stop exits on its own a moment later.
        deadline = time.monotonic() + STOP_SECONDS
        while (left := gpg_agents_in(self.gpg_root)) and time.monotonic() < deadline:
            time.sleep(0.1)
        return left


def worker_start(server: Server) -> Worker:
    """Starts the Procfile's Celery worker in the server's environment (its var dir, so
    its SQLite database, filesystem broker, mail folder and team key) and waits until it
    takes tasks."""
    command = procfile_command("worker")
    command[0] = shutil.which(command[0], path=server.env["PATH"]) or command[0]
    log_path = server.var_dir / "worker.log"
    with log_path.open("ab") as log:
        log_start = log.tell()
        process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=server.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the stop reaches the pool too
        )
    worker = Worker(process, log_path, Path(server.env["HAULOUT_GPG_HOME_ROOT"]), log_start)
    deadline = time.monotonic() + START_SECONDS
    while not worker.is_ready():
        if process.poll() is not None or time.monotonic() > deadline:
            worker.stop()
            raise RuntimeError(f"the worker did not start:\n{worker.log_tail()}")
        time.sleep(0.1)
    return worker
