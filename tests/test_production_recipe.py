"""The README's production section, followed on this machine: an empty PostgreSQL
database, the team key made with `team_key_create`, the deployment check, `migrate`,
`pgp_keys_recheck --apply`, `collectstatic`, then gunicorn, a Celery worker and beat as
separate processes sharing PostgreSQL and Redis, with HTTPS settings on behind a proxy.
A notice goes out to three people and arrives; `/healthz/` answers; the audit chain is
sealed and `audit_verify` passes, and passes again after a `pg_dump`/`pg_restore` into a
new database (docs/deployment.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from tests.embargo.realservices import free_port, skip_or_fail, smtp_start, wait_for

pytestmark = [pytest.mark.services]

BASE_DIR = Path(__file__).resolve().parent.parent
BIN = BASE_DIR / ".venv" / "bin"
PEOPLE = 3
# What the seeding step runs inside `manage.py shell`: in production, people register
# their keys in the portal; here the world is made directly, as the tests make it.
SEED = """
from django.contrib.auth import get_user_model
from devsupport.keyring import people_keys
from devsupport.world import bulk_people, case_ready, notice_draft
from embargo.services import notice_send
from pathlib import Path
staff = get_user_model().objects.create(
    username="staff", email="staff@prod.example.org", is_staff=True
)
bulk_people(people_keys(%d, Path(%r)))
case = case_ready(actor=staff)
notice_send(notice=notice_draft(case=case, actor=staff), actor=staff)
print("sent")
"""


def _database(url: str, name: str, *, create: bool) -> str:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


@pytest.fixture
def production(transactional_db, tmp_path):
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        skip_or_fail("REDIS_URL is not set (e.g. redis://127.0.0.1:6379/15)")
    if connection.vendor != "postgresql":
        skip_or_fail("production runs on PostgreSQL: set DATABASE_URL to a PostgreSQL server")
    settings_dict = connection.settings_dict
    host, port = settings_dict["HOST"] or "127.0.0.1", settings_dict["PORT"] or 5432
    server = f"postgres://{settings_dict['USER']}@{host}:{port}/x"
    name = f"haulout_prod_{uuid.uuid4().hex[:8]}"
    database = _database(server, name, create=True)
    gpg_root = Path(tempfile.mkdtemp(prefix="hp", dir="/tmp"))
    sink, controller = smtp_start()
    var = tmp_path / "var"
    broker = redis_url.rsplit("/", 1)[0]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": uuid.uuid4().hex * 2,
        "DJANGO_ALLOWED_HOSTS": "haulout.example.org,127.0.0.1",
        "DJANGO_BEHIND_PROXY": "1",
        "HAULOUT_SITE_URL": "https://haulout.example.org",
        "DATABASE_URL": database,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_TASK_DEFAULT_QUEUE": f"haulout-prod-{uuid.uuid4().hex[:8]}",
        "CACHE_URL": f"{broker}/{int(redis_url.rsplit('/', 1)[1] or 0) ^ 1}",
        "EMAIL_URL": f"smtp://127.0.0.1:{controller.port}",
        "DEFAULT_FROM_EMAIL": "haulout@haulout.example.org",
        "HAULOUT_SECURITY_TEAM_EMAIL": "security@haulout.example.org",
        "HAULOUT_VAR_DIR": str(var),
        "HAULOUT_TEAM_KEY_FILE": str(tmp_path / "keys" / "team-key.asc"),
        "HAULOUT_TEAM_KEY_PASSPHRASE_FILE": str(tmp_path / "keys" / "team-key.passphrase"),
        "HAULOUT_TEAM_PUBLIC_KEY_FILE": str(tmp_path / "keys" / "team-key.pub.asc"),
        "HAULOUT_GPG_HOME_ROOT": str(gpg_root),
        "HAULOUT_AUDIT_SEAL_SECONDS": "1",
    }
    (tmp_path / "keys").mkdir()
    processes: list[subprocess.Popen] = []
    yield {"env": env, "sink": sink, "tmp": tmp_path, "processes": processes,
           "server": server, "name": name}  # fmt: skip
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    controller.stop()
    shutil.rmtree(gpg_root, ignore_errors=True)
    for database_name in (name, f"{name}_restored"):
        _database(server, database_name, create=False)


def _manage(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if check:
        assert result.returncode == 0, (
            f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def _start(production, name: str, *command: str) -> subprocess.Popen:
    log = (production["tmp"] / f"{name}.log").open("wb")
    process = subprocess.Popen(
        list(command), cwd=BASE_DIR, env=production["env"], stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    production["processes"].append(process)
    return process


def _healthz(port: int) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz/", headers={"Host": "haulout.example.org"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (http://127.0.0.1)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def test_the_production_recipe_runs_from_an_empty_database_to_a_sent_notice(production):
    env = production["env"]
    assert "Team key" in _manage(env, "team_key_create").stdout
    _manage(env, "check", "--deploy", "--fail-level", "WARNING")
    _manage(env, "migrate", "--noinput")
    _manage(env, "pgp_keys_recheck", "--apply")
    _manage(env, "collectstatic", "--noinput")
    port = free_port()
    _start(
        production,
        "web",
        str(BIN / "gunicorn"),
        "config.wsgi",
        "-w",
        "2",
        "-b",
        f"127.0.0.1:{port}",
    )
    # The worker as the README starts it; -Q names this test's own queues (a queue name of
    # its own lets the test share a Redis with others).
    queue = env["CELERY_TASK_DEFAULT_QUEUE"]
    celery = str(BIN / "celery")
    _start(
        production,
        "worker",
        celery,
        "-A",
        "config",
        "worker",
        "-l",
        "info",
        "-Q",
        f"{queue},{queue}.sweep",
    )
    _start(production, "beat", str(BIN / "celery"), "-A", "config", "beat", "-l", "info")
    wait_for(
        lambda: _healthz(port) == 200, timeout=90, interval=0.5, what="/healthz/ to answer 200"
    )

    seeded = _manage(env, "shell", "-c", SEED % (PEOPLE, str(production["tmp"] / "people")))
    assert "sent" in seeded.stdout
    wait_for(lambda: production["sink"].count() >= PEOPLE, timeout=180, interval=0.5,
             what=f"{PEOPLE} encrypted messages")  # fmt: skip
    received = production["sink"].by_recipient()
    assert len(received) == PEOPLE and all(len(m) == 1 for m in received.values())
    assert all(b"multipart/encrypted" in m[0].data for m in received.values())

    # Beat seals the audit chain within seconds; then it verifies, here and after a restore.
    wait_for(lambda: "chain is intact" in _manage(env, "audit_verify", check=False).stdout,
             timeout=60, interval=1, what="the audit chain to be sealed and intact")  # fmt: skip
    dump = production["tmp"] / "haulout.dump"
    source = env["DATABASE_URL"].replace("postgres://", "postgresql://")
    subprocess.run(["pg_dump", "-Fc", "-f", str(dump), source], check=True, timeout=120)
    restored = _database(production["server"], f"{production['name']}_restored", create=True)
    target = restored.replace("postgres://", "postgresql://")
    subprocess.run(["pg_restore", "--no-owner", "-d", target, str(dump)], check=True, timeout=120)
    after = _manage({**env, "DATABASE_URL": restored}, "audit_verify", check=False)
    assert after.returncode == 0, after.stdout + after.stderr
