"""Links in the mail the browser tests' server wrote: Django's file backend puts each
connection's messages in one `.log` file under `<var_dir>/mail/`, one after another,
separated by a line of 79 dashes. A journey reads the link a person would click (the
address confirmation, an invitation) instead of building the URL itself. Mail that a
Celery task sends (an invitation) is waited for with `mail_link_wait`, while the
journey's worker (harness.worker_start) runs."""

from __future__ import annotations

import email
import email.policy
import re
import time
from pathlib import Path

from tests.browser.harness import Worker

SEPARATOR = re.compile(r"^-{79}$", re.MULTILINE)
LINK = re.compile(r"https?://[^\s<>\"']+")
# Generous for a busy 2-core machine: the worker polls the file broker, then mails.
MAIL_SECONDS = 90


def mail_messages(var_dir: Path) -> list[email.message.EmailMessage]:
    """Every message in the mail folder, oldest file first."""
    folder = Path(var_dir) / "mail"
    messages = []
    for path in sorted(folder.glob("*.log"), key=lambda p: (p.stat().st_mtime, p.name)):
        for chunk in SEPARATOR.split(path.read_text(errors="replace")):
            if chunk.strip():
                messages.append(
                    email.message_from_string(chunk.lstrip("\n"), policy=email.policy.default)
                )
    return messages


def mails_to(var_dir: Path, to: str) -> list[email.message.EmailMessage]:
    """Every message to `to`, oldest first."""
    return [m for m in mail_messages(var_dir) if to.lower() in str(m.get("To", "")).lower()]


def _text(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def mail_link(var_dir: Path, to: str, contains: str) -> str:
    """The link containing `contains` in the newest plain-text message to `to`. Fails with
    what the folder holds for that address when there is none."""
    seen = []
    for message in reversed(mails_to(var_dir, to)):
        seen.append(str(message.get("Subject", "")))
        for link in LINK.findall(_text(message)):
            if contains in link:
                return link
    raise AssertionError(
        f"no mail to {to} with a link containing {contains!r}; subjects to them: {seen}"
    )


def mail_link_wait(var_dir: Path, to: str, contains: str, *, worker: Worker) -> str:
    """mail_link() once the worker has sent that mail. Waits for a condition (the mail is
    in the folder), bounded by a deadline; gives up with the worker's log if the mail
    never comes or the worker died."""
    deadline = time.monotonic() + MAIL_SECONDS
    while True:
        try:
            return mail_link(var_dir, to, contains)
        except AssertionError as missing:
            if worker.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{missing}\nthe worker's log:\n{worker.log_tail()}") from None
        time.sleep(0.2)  # polling a folder; the deadline is what bounds the wait
