#!/usr/bin/env python3
"""Haulout's two contract commands, with nothing but Python 3.11+ and gpg installed:

    python3 dev.py run    # set up, then web + Celery worker + beat with demo data
    python3 dev.py test   # set up, then the whole test suite (extra args: one pytest run)

Also: `lint`, `check-deploy`, `totp [EMAIL]`, `manage ARGS` (manage.py with the local
settings, e.g. `manage demo_decrypt --to EMAIL`), `bench [N]` (the benchmarks; needs
Redis, REDIS_URL), `install`. The Makefile targets call these.
The virtual environment lives in .venv and is reinstalled only when pyproject.toml changes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
PYTHON = BIN / "python"
# Touched after a successful install; an older stamp than pyproject.toml reinstalls.
STAMP = VENV / ".installed"


def _run(*args, env: dict | None = None) -> int:
    return subprocess.call([str(arg) for arg in args], cwd=ROOT, env=env)


def _check(*args, env: dict | None = None) -> None:
    code = _run(*args, env=env)
    if code:
        sys.exit(code)


def install() -> None:
    # Run by whatever python3 the machine has, which may be older than the project needs.
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit("Haulout needs Python 3.11 or newer.")
    if not PYTHON.exists():
        print("Creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pyproject = ROOT / "pyproject.toml"
    if not STAMP.exists() or STAMP.stat().st_mtime < pyproject.stat().st_mtime:
        print("Installing Haulout and its test tools into .venv (quietly) ...", flush=True)
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        _check(PYTHON, "-m", "pip", "install", "-q", "-e", ".[dev]", env=env)
        STAMP.touch()


def _local_env(**extra: str) -> dict:
    # A local run is plain HTTP on loopback; everything else uses the embedded defaults
    # (SQLite, broker, mail and cache under var/).
    host, port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000")
    env = {
        **os.environ,
        "DJANGO_SECURE": "0",
        "HAULOUT_BIND": f"{host}:{port}",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.setdefault("DJANGO_DEBUG", "0")
    env.setdefault("HAULOUT_SITE_URL", f"http://{host}:{port}")
    # The demo's security team (the reviewer's domain), shown in every page's footer.
    env.setdefault("HAULOUT_SECURITY_TEAM_EMAIL", "security@security-team.example.org")
    env.update(extra)
    return env


def run(args: list[str]) -> None:
    install()
    env = _local_env()
    manage = (PYTHON, "manage.py")
    _check(*manage, "migrate", "--noinput", "-v", "0", env=env)
    _check(*manage, "collectstatic", "--noinput", "-v", "0", env=env)
    _check(*manage, "demo", env=env)
    print(
        f"\nHaulout is starting on {env['HAULOUT_SITE_URL']}/  "
        "(mail is written to var/mail/; Ctrl+C stops it)\n",
        flush=True,
    )
    os.chdir(ROOT)
    honcho = str(BIN / "honcho")
    os.execve(honcho, [honcho, "start", "-f", "Procfile"], env)  # noqa: S606 (no shell)


def test(args: list[str]) -> None:
    """Without arguments: the tests needing no real services in two processes, then the
    real-services tests (one worker, Redis, SMTP sink at a time) serially, then the
    browser tests (one real server, the system's Chromium) serially; one outcome.
    With arguments: one plain serial pytest run with them."""
    install()
    pytest = (PYTHON, "-m", "pytest")
    # Playwright drives the system's Chromium (/usr/bin/chromium); it must never fetch
    # a browser build of its own.
    env = {**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"}
    if args:
        code = _run(*pytest, *args, env=env)
        if code == 5:
            print("dev.py test: pytest collected no tests", file=sys.stderr)
        sys.exit(code)
    parts = (
        ("-n", "2", "-m", "not services and not browser"),
        ("-m", "services"),
        # Only their folder is collected: the marker is given to the tests there.
        ("-m", "browser", "tests/browser"),
    )
    codes = [_run(*pytest, *part, env=env) for part in parts]
    # 5 is pytest's "collected nothing": fine for some parts, a failure for all.
    if all(code == 5 for code in codes):
        print("dev.py test: pytest collected no tests", file=sys.stderr)
        sys.exit(5)
    failed = [code for code in codes if code not in (0, 5)]
    sys.exit(failed[0] if failed else 0)


def lint(args: list[str]) -> None:
    install()
    _check(BIN / "ruff", "check", ".")
    _check(BIN / "ruff", "format", "--check", ".")
    _check(BIN / "lint-imports", "--no-cache")


def check_deploy(args: list[str]) -> None:
    install()
    env = {**os.environ, "DJANGO_SECURE": "1", "DJANGO_DEBUG": "0"}
    _check(PYTHON, "manage.py", "check", "--deploy", "--fail-level", "WARNING", env=env)


def totp(args: list[str]) -> None:
    install()
    _check(PYTHON, "manage.py", "demo_totp", *args, env=_local_env())


def bench(args: list[str]) -> None:
    """The benchmarks; each prints its figures as ratios against a baseline it measures
    in the same run."""
    install()
    recipients = args[0] if args else "1000"
    env = {**os.environ}
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
    _check(PYTHON, "benchmarks/gpg_homes.py", "--sign", env=env)
    _check(PYTHON, "benchmarks/fanout.py", "--recipients", recipients, env=env)
    _check(PYTHON, "benchmarks/tracing.py", "--recipients", recipients, env=env)


def manage(args: list[str]) -> None:
    install()
    _check(PYTHON, "manage.py", *args, env=_local_env())


COMMANDS = {
    "manage": manage,
    "bench": bench,
    "install": lambda args: install(),
    "run": run,
    "test": test,
    "lint": lint,
    "check-deploy": check_deploy,
    "totp": totp,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](sys.argv[2:])
