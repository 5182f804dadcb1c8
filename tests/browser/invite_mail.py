"""The mail side of a browser journey: a Celery worker for the journey's own server, and
reading what it mailed as the recipient would.

The server queues its mail (an invitation, a confirmation) for a worker; the harness runs
none, so a journey that needs a mail starts `mail_worker(server)`, the same
`celery -A config worker` a deployment runs, with the server's environment (its database,
file broker and mail folder). Django's file backend writes each connection's messages to
one file under `<server.var_dir>/mail/`, separated by a line of 79 dashes.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

from tests.browser.harness import BASE_DIR, Server

# Generous for a busy 2-core machine: the worker starts, polls the file broker and mails.
MAIL_SECONDS = 90
STOP_SECONDS = 20
# Django's file backend writes this line after every message.
SEPARATOR = "-" * 79
INVITATION_LINK = re.compile(r"https?://\S+/invitations/[A-Za-z0-9_-]+/")


@contextmanager
def mail_worker(server: Server) -> Iterator[subprocess.Popen]:
    """A Celery worker (one process, no fork) that serves `server`'s queues while the
    block runs, then a warm shutdown."""
    log = (server.var_dir / "worker.log").open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "info",
        ],
        cwd=BASE_DIR,
        env=server.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=STOP_SECONDS)
        log.close()


def mail_dir(server: Server) -> Path:
    return server.var_dir / "mail"


def mails_to(server: Server, address: str) -> list[EmailMessage]:
    """Every message the server has written for `address`, oldest file first."""
    folder = mail_dir(server)
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir(), key=lambda p: (p.stat().st_mtime, p.name)):
        for chunk in path.read_text(errors="replace").split(f"\n{SEPARATOR}\n"):
            if not chunk.strip():
                continue
            message = email.message_from_string(chunk.lstrip("\n"), policy=email.policy.default)
            if address.lower() in str(message.get("To", "")).lower():
                found.append(message)
    return found


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def invitation_link(server: Server, address: str, *, worker: subprocess.Popen) -> str:
    """The link in the invitation mailed to `address`, once the worker has sent it.

    Waits for a condition (the mail is there), not for a time; gives up with the worker's
    log if it never comes or the worker died."""
    deadline = time.monotonic() + MAIL_SECONDS
    while True:
        for message in reversed(mails_to(server, address)):
            found = INVITATION_LINK.search(body_of(message))
            if found:
                return found.group(0)
        if worker.poll() is not None or time.monotonic() > deadline:
            log = (server.var_dir / "worker.log").read_text(errors="replace")
            raise AssertionError(
                f"no invitation mail for {address} in {mail_dir(server)} "
                f"(worker exit code {worker.poll()}):\n" + "\n".join(log.splitlines()[-40:])
            )
        time.sleep(0.2)  # polling a folder; the deadline above is what bounds the wait
