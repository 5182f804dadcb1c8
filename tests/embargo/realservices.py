"""The real parts: a Celery worker process, Redis and an SMTP server on loopback.

A test that asks for `real_services` gets a broker on the Redis from REDIS_URL (a queue of
its own, so it can share that Redis), an aiosmtpd sink, and a `worker()` starter that
runs `.venv/bin/celery -A config worker` with the test database, the sink and the team
key in its environment. Without REDIS_URL the tests skip with the reason, except under
CI=true, where a missing service is a failure: the tests must never silently skip there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection
from kombu import Queue

BASE_DIR = Path(settings.BASE_DIR)
CELERY = BASE_DIR / ".venv" / "bin" / "celery"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI must run the real-service tests, but {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, *, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


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


# ---------------------------------------------------------------- SMTP


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: float
    peer: tuple = ()


def ehlo_offer(session, hostname: str, responses: list[str], *, pipelining: bool) -> list[str]:
    """An aiosmtpd handle_EHLO answer: aiosmtpd's own, offering PIPELINING if asked."""
    session.host_name = hostname
    if pipelining:
        return [*responses[:-1], "250-PIPELINING", responses[-1]]
    return responses


@dataclass
class SmtpSink:
    """aiosmtpd handler keeping every message's raw bytes. `rcpt_reply(address, n)` may
    return an SMTP reply (e.g. "451 ...") for the n-th RCPT of that address. aiosmtpd
    reads commands in order from its stream, so pipelined commands need nothing more
    than the offer in EHLO."""

    messages: list[Received] = field(default_factory=list)
    rcpt_attempts: Counter = field(default_factory=Counter)
    rcpt_reply: object = None
    # When true, a message is kept (the server has it) and the connection is then cut
    # before the reply: the client cannot know whether it was delivered.
    drop_after_data: bool = False
    # Seconds the server takes over each message (without holding up other sessions):
    # a fan-out then lasts long enough for a fault to strike in the middle of it.
    delay: float = 0.0
    # Offer PIPELINING (RFC 2920), as Postfix and most MTAs do; False tests the fallback.
    pipelining: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        return ehlo_offer(session, hostname, responses, pipelining=self.pipelining)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            self.rcpt_attempts[address] += 1
            attempt = self.rcpt_attempts[address]
        reply = self.rcpt_reply(address, attempt) if self.rcpt_reply else None
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.messages.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content,
                    time.monotonic(),
                    tuple(session.peer),
                )
            )
        if self.drop_after_data:
            server.transport.close()
        return "250 Message accepted"

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def by_recipient(self) -> dict[str, list[Received]]:
        with self.lock:
            result: dict[str, list[Received]] = {}
            for message in self.messages:
                for address in message.rcpt_tos:
                    result.setdefault(address, []).append(message)
            return result


def smtp_start() -> tuple[SmtpSink, Controller]:
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    return sink, controller


# ---------------------------------------------------------------- Redis


class RedisServer:
    """A redis-server of the test's own, on a free port, that the test may stop."""

    def __init__(self, tmp: Path):
        binary = shutil.which("redis-server")
        if binary is None:
            skip_or_fail("no redis-server binary to start a private Redis")
        self.binary, self.port, self.dir = binary, free_port(), tmp
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis.from_url(self.url)
        wait_for(lambda: _ping(client), timeout=10, what="private redis-server")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def _ping(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


def redis_dump(url: str) -> bytes:
    """Every key and value of the Redis database, whatever the type."""
    import redis

    client = redis.Redis.from_url(url)
    out = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        out.append(key)
        if kind == "string":
            out.append(client.get(key) or b"")
        elif kind == "list":
            out.extend(client.lrange(key, 0, -1))
        elif kind == "hash":
            for name, value in client.hgetall(key).items():
                out += [name, value]
        elif kind == "set":
            out.extend(client.smembers(key))
        elif kind == "zset":
            out.extend(client.zrange(key, 0, -1))
    return b"\n".join(out)


# ---------------------------------------------------------------- the worker


def database_url() -> str:
    """The test database, as a URL another process can open."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        name = str(db["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            skip_or_fail("the SQLite test database is in memory; another process cannot see it")
        return f"sqlite:///{Path(name).resolve()}"
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{quote(db['NAME'], safe='')}"


class Worker:
    def __init__(self, name: str, env: dict, log_dir: Path, queue: str):
        self.name = name
        self.log_path = log_dir / f"worker-{name}-{uuid.uuid4().hex[:6]}.log"
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "config",
                "worker",
                "--concurrency",
                "1",
                "-P",
                "prefork",
                "-Q",
                # The send tasks' queue and the sweeper's own, as a worker without -Q
                # consumes (settings.CELERY_TASK_QUEUES).
                f"{queue},{queue}.sweep",
                "-n",
                f"{name}-{uuid.uuid4().hex[:6]}@%h",
                "--loglevel",
                "DEBUG",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a kill takes the pool too
        )

    def wait_ready(self, timeout: float = 60) -> Worker:
        def ready():
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited early:\n{self.output()[-3000:]}")
            return b" ready." in self.log_path.read_bytes()

        wait_for(ready, timeout=timeout, what=f"worker {self.name} to be ready")
        return self

    def output(self) -> str:
        return self.log_path.read_bytes().decode(errors="replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


class Beat:
    """A `celery -A config beat` process with a schedule file of its own, as a second
    beat started by mistake would have."""

    def __init__(self, name: str, env: dict, log_dir: Path):
        self.name = name
        tag = f"{name}-{uuid.uuid4().hex[:6]}"
        self.log_path = log_dir / f"beat-{tag}.log"
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "config",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(log_dir / f"celerybeat-schedule-{tag}"),
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_bytes().decode(errors="replace")

    def sent(self, entry: str) -> int:
        """How many times this beat has queued the schedule entry `entry`."""
        if self.process.poll() is not None and not self.log.closed:
            raise AssertionError(f"beat {self.name} exited:\n{self.output()[-3000:]}")
        return self.output().count(f"Scheduler: Sending due task {entry} (")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        if not self.log.closed:
            self.log.close()


@dataclass
class RealServices:
    broker_url: str
    queue: str
    sink: SmtpSink
    smtp_port: int
    env: dict
    log_dir: Path
    workers: list[Worker] = field(default_factory=list)
    beats: list[Beat] = field(default_factory=list)
    published: list = field(default_factory=list)
    controller: Controller | None = None

    def smtp_stop(self) -> None:
        """The mail server goes away: its port refuses connections."""
        self.controller.stop()

    def smtp_start(self) -> None:
        """The mail server comes back on the same port, with the same sink."""
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.smtp_port)
        self.controller.start()

    def worker(self, name: str = "w", **extra_env) -> Worker:
        env = {**self.env, **{key: str(value) for key, value in extra_env.items()}}
        worker = Worker(name, env, self.log_dir, self.queue)
        self.workers.append(worker)
        return worker.wait_ready()

    def beat(self, name: str = "b", **extra_env) -> Beat:
        """Starts a beat (it does not wait: two calls start two beats together)."""
        env = {**self.env, **{key: str(value) for key, value in extra_env.items()}}
        beat = Beat(name, env, self.log_dir)
        self.beats.append(beat)
        return beat

    def worker_logs(self) -> str:
        return "\n".join(worker.output() for worker in self.workers)


def _controller_stop(controller) -> None:
    with contextlib.suppress(AssertionError, RuntimeError):  # already stopped by the test
        controller.stop()


def _point_celery_at(broker_url: str, queue: str) -> dict:
    from config.celery import app

    previous = {
        "broker_url": app.conf.broker_url,
        "broker_transport_options": app.conf.broker_transport_options,
        "task_always_eager": app.conf.task_always_eager,
        "task_default_queue": app.conf.task_default_queue,
        "task_queues": app.conf.task_queues,
        "task_routes": app.conf.task_routes,
    }
    app.close()  # drop pooled connections to the old broker
    app.__dict__.pop("amqp", None)  # routing is cached with the old default queue
    app.conf.broker_url = broker_url
    app.conf.broker_transport_options = {"visibility_timeout": 3600}
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    # The sweeper's queue follows, as it does in settings (HAULOUT_SWEEP_QUEUE).
    app.conf.task_queues = (Queue(queue), Queue(f"{queue}.sweep"))
    app.conf.task_routes = {"embargo.tasks.deliveries_sweep_task": {"queue": f"{queue}.sweep"}}
    return previous


def _restore_celery(previous: dict) -> None:
    from config.celery import app

    app.close()
    app.__dict__.pop("amqp", None)
    for name, value in previous.items():
        setattr(app.conf, name, value)


@pytest.fixture
def real_services_factory(transactional_db, settings, tmp_path, team_key):
    """Returns start(broker_url=None): the broker defaults to REDIS_URL (skip, or fail
    in CI, without it). Everything started is stopped at the end of the test."""
    started: list = []

    def start(broker_url: str | None = None) -> RealServices:
        broker_url = broker_url or os.environ.get("REDIS_URL")
        if not broker_url:
            skip_or_fail("REDIS_URL is not set (e.g. redis://127.0.0.1:6379/15)")
        if not CELERY.exists():
            skip_or_fail(f"{CELERY} is missing")
        if not broker_url.startswith("redis"):
            pytest.fail("REDIS_URL must be a redis:// URL")
        import redis

        if not _ping(redis.Redis.from_url(broker_url)):
            skip_or_fail(f"Redis at {broker_url} does not answer")
        queue = f"haulout-test-{uuid.uuid4().hex[:10]}"
        sink, controller = smtp_start()
        previous = _point_celery_at(broker_url, queue)
        started.append(lambda: _restore_celery(previous))
        settings.CELERY_TASK_DEFAULT_QUEUE = queue
        settings.HAULOUT_SITE_URL = settings.SITE_URL = "https://haulout.example.org"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(tmp_path)),
            "LANG": "C.UTF-8",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "DJANGO_SECURE": "0",
            "HAULOUT_VAR_DIR": str(settings.VAR_DIR),
            "HAULOUT_SITE_URL": settings.SITE_URL,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker_url,
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "EMAIL_URL": f"smtp://127.0.0.1:{controller.port}",
            "HAULOUT_TEAM_KEY_FILE": str(settings.HAULOUT_TEAM_KEY_FILE),
            "HAULOUT_TEAM_KEY_PASSPHRASE_FILE": str(settings.HAULOUT_TEAM_KEY_PASSPHRASE_FILE),
            "HAULOUT_GPG_HOME_ROOT": str(settings.GPG_HOME_ROOT),
            "LOG_LEVEL": "DEBUG",
            "HAULOUT_DELIVERY_RETRY_MAX_SECONDS": "2",
        }
        services = RealServices(broker_url, queue, sink, controller.port, env, tmp_path)
        services.controller = controller
        # Whichever controller is running at the end (a test may restart the server).
        started.append(lambda: _controller_stop(services.controller))
        started.append(lambda: [worker.stop() for worker in services.workers])
        started.append(lambda: [beat.stop() for beat in services.beats])
        # Record every task message this process publishes (the broker sees the same).
        from celery.signals import before_task_publish

        def record(sender=None, body=None, headers=None, **kwargs):
            services.published.append((sender, body, headers))

        before_task_publish.connect(record, weak=False)
        started.append(lambda: before_task_publish.disconnect(record))
        return services

    yield start
    for stop in reversed(started):
        stop()


@pytest.fixture
def real_services(real_services_factory):
    return real_services_factory()


@pytest.fixture
def private_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()
